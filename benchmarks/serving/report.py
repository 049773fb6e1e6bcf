"""Markdown tables from benchmarks/results/serving.json (pasted into RESULTS.md).

    .venv/bin/python benchmarks/serving/report.py [benchmarks/results/serving.json]

Also re-summarizes the saved py-spy profiles (busy samples only) into the JSON.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
_spec = importlib.util.spec_from_file_location("serving_run", HERE / "run.py")
R = importlib.util.module_from_spec(_spec)
sys.modules["serving_run"] = R
_spec.loader.exec_module(R)
fmt = R.fmt


def x(v):
    return f"{fmt(v)}x" if isinstance(v, (int, float)) else "—"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "benchmarks" / "results" / "serving.json"
    d = json.loads(path.read_text())
    out: list[str] = []
    s = d.get("serving")
    if s:
        L = s["loads"]
        ref = L.get("modelyard", {}).get("median", {})
        out.append("| case | server | request | wrk | req/s (median) | p50 ms | p99 ms | non-2xx | "
                   "modelyard req/s ÷ this | this p99 ÷ modelyard p99 | foreign CPU (median / max) | answer |")
        out.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for case, r in L.items():
            m = r.get("median", {})
            body = {"records": "native records", "split": "dataframe_split"}.get(r.get("body"), "—")
            out.append(
                f"| {case} | {r['server']} | `POST {r.get('path', '')}` ({body}) | `{r.get('wrk', '—')}` | "
                f"{fmt(m.get('rps'))} | {fmt(m.get('p50_ms'))} | {fmt(m.get('p99_ms'))} | "
                f"{fmt(m.get('non_2xx_total'))} | {x(R.ratio(ref.get('rps'), m.get('rps')))} | "
                f"{x(R.ratio(m.get('p99_ms'), ref.get('p99_ms')))} | "
                f"{fmt(m.get('foreign_cpu_share'))} / {fmt(m.get('max_foreign_cpu_share'))} | "
                f"{'ok' if r.get('check', {}).get('ok') else r.get('error') or 'WRONG'} |")
        out.append("")
        out.append("Per-run figures (req/s, p99 ms, foreign CPU share):")
        out.append("")
        for case, r in L.items():
            runs = ", ".join(f"{fmt(u.get('rps'))} / {fmt(u.get('p99_ms'))} / {fmt(u.get('foreign_cpu_share'))}"
                             for u in r.get("runs", []))
            out.append(f"- {case}: {runs}" + (f" (+{len(r.get('discarded', []))} discarded attempts)"
                                               if r.get("discarded") else ""))
        out.append("")
        # profiles, re-summarized on busy samples
        for name, p in list(s.get("profiles", {}).items()):
            if not isinstance(p, dict) or not p.get("file"):
                continue
            f = REPO / p["file"]
            if f.exists():
                s["profiles"][name] = {**R.summarize_profile(f, 30), "file": p["file"]}
    t = d.get("targets")
    if t:
        out.append("| target | value | wanted | met |")
        out.append("|---|---:|---|---|")
        for k, v in t.items():
            out.append(f"| {k} | {fmt(v.get('value'))} | {v.get('target')} | "
                       f"{ {True: 'yes', False: '**no**', None: '—'}[v.get('met')] } |")
        out.append("")
    b = d.get("batch")
    if b:
        ref = b["cases"]["modelyard-nolog"]["median"]["rows_per_s_wall"]
        out.append(f"Batch: {b['rows']:,} rows, {b['file_mb']} MB Parquet")
        out.append("")
        out.append("| case | rows/s (wall, median) | wall s | rows/s (tool-reported) | peak RSS of process tree MB | "
                   "/usr/bin/time max RSS MB | CPU s | foreign CPU | modelyard-nolog ÷ this |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in b["cases"].items():
            m = r["median"]
            out.append(f"| {name} | {fmt(m.get('rows_per_s_wall'))} | {fmt(m.get('wall_s'))} | "
                       f"{fmt(m.get('reported_rows_per_s'))} | {fmt(m.get('peak_tree_rss_mb'))} | "
                       f"{fmt(m.get('time_v_max_rss_mb'))} | {fmt(m.get('cpu_s'))} | {fmt(m.get('foreign_cpu_share'))} | "
                       f"{x(R.ratio(ref, m.get('rows_per_s_wall')))} |")
        out.append("")
    print("\n".join(out))
    path.write_text(json.dumps(d, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
