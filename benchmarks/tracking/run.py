"""Tracking benchmark: modelyard vs MLflow, side by side.

    .venv/bin/python benchmarks/tracking/run.py [--repeats 3] [--only modelyard|mlflow]
                                               [--out benchmarks/results/tracking.json]

* MLflow runs in its own virtualenv (benchmarks/.venvs/mlflow, created here on
  first use) because its pins clash with the project's; modelyard runs with
  this interpreter (sys.executable).
* Every (tool, workload, repeat) is a fresh subprocess against a brand-new
  temporary store directory; it prints one JSON line that is collected here.
* Prints a table of medians with the ratio modelyard/MLflow, and writes the raw
  and median results plus machine info to --out.

Workloads are defined in _common.py and the two parallel files
workload_modelyard.py / workload_mlflow.py. Figures are measurements of this
machine, not pass/fail thresholds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
REPO = BENCH_DIR.parent
MLFLOW_VENV = BENCH_DIR / ".venvs" / "mlflow"
# The newest MLflow that installs from the package index reachable here
# (3.18.0 is listed but its mlflow-skinny==3.18.0 dependency is not).
MLFLOW_PIN = "3.17.2"
WORKLOADS = ["log_metric", "log_batch", "search", "concurrent"]
RUN_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Case:
    workload: str      # benchmark workload (table group)
    tool: str          # "modelyard" | "mlflow"
    script_workload: str  # WORKLOAD argument of the workload script
    variant: str       # store flavour

    @property
    def id(self) -> str:
        return f"{self.workload}/{self.tool}/{self.variant}"


CASES = [
    Case("log_metric", "modelyard", "log_metric", "sqlite"),
    Case("log_metric", "mlflow", "log_metric", "sqlite"),
    Case("log_metric", "mlflow", "log_metric_file", "file"),
    Case("log_batch", "modelyard", "log_batch", "sqlite"),
    Case("log_batch", "mlflow", "log_batch", "sqlite"),
    Case("search", "modelyard", "search", "sqlite"),
    Case("search", "mlflow", "search", "sqlite"),
    Case("concurrent", "modelyard", "concurrent", "sqlite"),
    Case("concurrent", "mlflow", "concurrent", "sqlite"),
]

# (workload, field, label, direction) — direction: "higher"/"lower" is better, "" = info.
MEASURES = [
    ("log_metric", "calls_per_s", "calls/s", "higher"),
    ("log_metric", "ms_per_call", "mean ms/call", "lower"),
    ("log_batch", "points_per_s", "points/s (10k-point batch)", "higher"),
    ("search", "populate_s", "populate 10k runs, s", "lower"),
    ("search", "median_ms", "search median ms", "lower"),
    ("search", "p90_ms", "search p90 ms", "lower"),
    ("search", "results_returned", "results returned", ""),
    ("search", "top_auc", "top auc", ""),
    ("concurrent", "processes_failed", "processes failed (of 8)", "lower"),
    ("concurrent", "points_found", "points found (of {points_expected})", "higher"),
    ("concurrent", "points_lost", "points lost", "lower"),
    ("concurrent", "throughput_points_per_s", "throughput points/s", "higher"),
]


# ----------------------------------------------------------------- helpers


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # No network here; keep MLflow's telemetry thread out of the measurements.
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    # Logging calls must be synchronous (durable on return) for both tools.
    for k in ("MLFLOW_ENABLE_ASYNC_LOGGING", "MLFLOW_TRACKING_URI", "MODELYARD_TRACKING_URI"):
        env.pop(k, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def interp_info(python: str, dist: str | None) -> dict[str, Any]:
    code = (
        "import json, sys, sqlite3, platform\n"
        "from importlib import metadata\n"
        "def v(d):\n"
        "    try: return metadata.version(d)\n"
        "    except Exception: return None\n"
        f"print(json.dumps({{'python': platform.python_version(), 'executable': sys.executable,"
        f" 'sqlite': sqlite3.sqlite_version, 'sqlalchemy': v('sqlalchemy'),"
        f" 'dist': {dist!r}, 'dist_version': v({dist!r}) if {dist!r} else None}}))"
    )
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    except Exception as exc:
        return {"error": str(exc)}


def fs_type(path: str) -> str | None:
    try:
        best, kind = "", None
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1]
                if path.startswith(mnt) and len(mnt) > len(best):
                    best, kind = mnt, parts[2]
        return kind
    except OSError:
        return None


def mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def ensure_mlflow_venv(console) -> str:
    py = MLFLOW_VENV / "bin" / "python"
    if py.exists():
        info = interp_info(str(py), "mlflow")
        if info.get("dist_version") == MLFLOW_PIN:
            return str(py)
        console.print(f"[yellow]MLflow venv has mlflow {info.get('dist_version')}, want {MLFLOW_PIN}: rebuilding")
    console.print(f"Creating {MLFLOW_VENV.relative_to(REPO)} with mlflow=={MLFLOW_PIN} (one-off, ~1 min)...")
    MLFLOW_VENV.parent.mkdir(parents=True, exist_ok=True)
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", "--clear", str(MLFLOW_VENV)], check=True)
    log = MLFLOW_VENV / "pip-install.log"
    with open(log, "w") as f:
        rc = subprocess.run([str(py), "-m", "pip", "install", f"mlflow=={MLFLOW_PIN}"],
                            stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise SystemExit(f"pip install mlflow=={MLFLOW_PIN} failed (exit {rc}); see {log}")
    return str(py)


def last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def run_one(console, python: str, case: Case, store_dir: str, log_path: Path,
            extra_args: list[str]) -> dict[str, Any]:
    """Run one workload subprocess; stream its stderr to a log, echo progress lines."""
    script = HERE / f"workload_{case.tool}.py"
    cmd = [python, str(script), case.script_workload, store_dir, *extra_args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=store_dir, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    stderr_tail: list[str] = []

    def pump() -> None:
        with open(log_path, "w") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            for line in proc.stderr:  # type: ignore[union-attr]
                log.write(line)
                stderr_tail.append(line)
                del stderr_tail[:-40]
                if line.startswith("progress: "):
                    console.print(f"    [dim]{line[10:].rstrip()}[/dim]", highlight=False)

    out_chunks: list[str] = []

    def drain_stdout() -> None:
        out_chunks.append(proc.stdout.read())  # type: ignore[union-attr]

    # Our own readers for both pipes (communicate() would compete with pump()).
    threads = [threading.Thread(target=pump, daemon=True),
               threading.Thread(target=drain_stdout, daemon=True)]
    for th in threads:
        th.start()
    try:
        proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # only the process group we started
        proc.wait()
    for th in threads:
        th.join(timeout=30)
    out = "".join(out_chunks)
    wall = time.perf_counter() - t0
    res = last_json(out or "")
    if proc.returncode != 0 or res is None:
        return {"error": True, "exit_code": proc.returncode, "wall_s": round(wall, 2),
                "stderr_tail": "".join(stderr_tail)[-4000:], "log": str(log_path)}
    res["process_wall_s"] = round(wall, 2)
    return res


def med(values: list[Any]) -> Any:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(nums) if nums else None


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:,.1f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.6g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# -------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["modelyard", "mlflow"], default=None)
    ap.add_argument("--out", default=str(BENCH_DIR / "results" / "tracking.json"))
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--search-populate", choices=["each", "once"], default="each",
                    help="search: populate a fresh store in every repeat (default), or populate "
                         "once per tool and run later repeats query-only on a copy of that store")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply all sizes (smoke runs only; not comparable with full runs)")
    ap.add_argument("--tmp-root", default=None, help="where temp stores go (default: system temp)")
    ap.add_argument("--keep-stores", action="store_true")
    ap.add_argument("--modelyard-python", default=sys.executable, help=argparse.SUPPRESS)
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if console.width < 132:
        console = Console(width=132)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    tools = [args.only] if args.only else ["modelyard", "mlflow"]
    cases = [c for c in CASES if c.tool in tools and c.workload in workloads]

    pythons: dict[str, str] = {"modelyard": os.path.abspath(args.modelyard_python)}
    if "mlflow" in tools:
        pythons["mlflow"] = ensure_mlflow_venv(console)

    tmp_root = args.tmp_root or tempfile.gettempdir()
    out_path = Path(args.out).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out_path.parent / (out_path.stem + "-logs.tmp")
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)

    machine = {
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem_total_gib(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "tmp_root": tmp_root,
        "tmp_fs": fs_type(os.path.realpath(tmp_root)),
        "orchestrator_python": platform.python_version(),
        "interpreters": {t: interp_info(p, t) for t, p in pythons.items()},
    }
    mlflow_version = machine["interpreters"].get("mlflow", {}).get("dist_version")
    machine["python_version"] = {t: i.get("python") for t, i in machine["interpreters"].items()}
    machine["mlflow_version"] = mlflow_version
    console.print(f"[bold]Tracking benchmark[/bold]: tools={tools} workloads={workloads} "
                  f"repeats={args.repeats} scale={args.scale} cpus={os.cpu_count()} "
                  f"mlflow={mlflow_version}")
    console.print(f"  logs: {log_dir}")

    raw: dict[str, list[dict[str, Any]]] = {c.id: [] for c in cases}
    populated: dict[str, str] = {}  # case id -> populated store kept for --search-populate once
    bases_to_clean: list[str] = []
    t_start = time.time()
    try:
        for w in workloads:
            for rep in range(args.repeats):
                for case in [c for c in cases if c.workload == w]:
                    base = tempfile.mkdtemp(prefix=f"tracking-{case.tool}-{case.script_workload}-",
                                            dir=tmp_root)
                    store = os.path.join(base, "store")
                    extra = ["--scale", repr(args.scale)] if args.scale != 1.0 else []
                    if w == "search" and args.search_populate == "once" and case.id in populated:
                        shutil.copytree(populated[case.id], store)  # brand-new dir, same data
                        extra.append("--query-only")
                    else:
                        os.mkdir(store)
                    console.print(f"  [{rep + 1}/{args.repeats}] {case.id}"
                                  + (" (query-only, reused population)" if "--query-only" in extra else ""),
                                  highlight=False)
                    log_path = log_dir / f"{case.tool}-{case.script_workload}-{rep + 1}.log"
                    res = run_one(console, pythons[case.tool], case, store, log_path, extra)
                    res["repeat"] = rep + 1
                    raw[case.id].append(res)
                    if res.get("error"):
                        console.print(f"    [red]FAILED[/red] exit={res['exit_code']}; log {log_path}\n"
                                      f"{res['stderr_tail'][-1500:]}", highlight=False)
                    else:
                        console.print("    " + summary_line(w, res), highlight=False)
                    keep = (w == "search" and args.search_populate == "once"
                            and case.id not in populated and not res.get("error"))
                    if keep:
                        populated[case.id] = store
                        bases_to_clean.append(base)
                    elif not args.keep_stores:
                        shutil.rmtree(base, ignore_errors=True)
    finally:
        if not args.keep_stores:
            for b in bases_to_clean:
                shutil.rmtree(b, ignore_errors=True)

    # ---- medians
    medians: dict[str, dict[str, Any]] = {}
    for case in cases:
        ok = [r for r in raw[case.id] if not r.get("error") and not r.get("skipped")]
        fields = sorted({k for r in ok for k, v in r.items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool)})
        medians[case.id] = {k: med([r.get(k) for r in ok]) for k in fields}
        medians[case.id]["ok_runs"] = len(ok)
        medians[case.id]["failed_runs"] = sum(1 for r in raw[case.id] if r.get("error"))

    notes = sorted({r["note"] for rs in raw.values() for r in rs if r.get("note")})
    modes = {cid: sorted({r["sqlite_journal_mode"] for r in rs if r.get("sqlite_journal_mode")})
             for cid, rs in raw.items()}
    modes = {cid: m for cid, m in modes.items() if m}
    if modes:
        notes.append("log_metric: SQLite journal mode found in the store file: "
                     + ", ".join(f"{cid.split('/')[1]}={'/'.join(m)}" for cid, m in modes.items())
                     + " (the per-connection 'synchronous' level is not recorded in the file)")
    if args.search_populate == "once" and "search" in workloads:
        notes.append("search: population ran once per tool; repeats 2.. ran query-only on a copy "
                     "of that populated store (populate_s median is over the populating runs only)")
    if args.scale != 1.0:
        notes.append(f"scale={args.scale}: sizes scaled, figures not comparable with full runs")

    # ---- table
    table = Table(title=f"Tracking benchmark — medians of {args.repeats} run(s) "
                        f"(modelyard vs MLflow {mlflow_version or ''})")
    table.add_column("workload")
    table.add_column("measure")
    table.add_column("better")
    table.add_column("modelyard (SQLite)", justify="right")
    table.add_column("MLflow", justify="right")
    table.add_column("MLflow store")
    table.add_column("modelyard / MLflow", justify="right")
    rows = []
    for w, field, label, direction in MEASURES:
        if w not in workloads:
            continue
        my_case = next((c for c in cases if c.workload == w and c.tool == "modelyard"), None)
        ml_cases = [c for c in cases if c.workload == w and c.tool == "mlflow"] or [None]
        ref = medians[(my_case or ml_cases[0]).id]  # type: ignore[union-attr]
        label = label.format(points_expected=fmt(ref.get("points_expected")))
        for ml_case in ml_cases:
            my_v = medians[my_case.id].get(field) if my_case else None
            ml_v = medians[ml_case.id].get(field) if ml_case else None
            if ml_case and raw[ml_case.id] and all(r.get("skipped") for r in raw[ml_case.id]):
                ml_v = "skipped"
            ratio = (my_v / ml_v if isinstance(my_v, (int, float)) and isinstance(ml_v, (int, float))
                     and ml_v != 0 else None)
            store = {"sqlite": "SQLite", "file": "file store"}.get(ml_case.variant, "") if ml_case else ""
            rows.append({"workload": w, "measure": field, "label": label, "better": direction,
                         "mlflow_store": ml_case.variant if ml_case else None,
                         "modelyard": my_v, "mlflow": ml_v, "ratio_modelyard_over_mlflow": ratio})
            table.add_row(w, label, direction, fmt(my_v), fmt(ml_v), store,
                          (f"{ratio:.3g}x" if ratio is not None else "—"))
    console.print(table)
    for n in notes:
        console.print(f"[dim]note: {n}[/dim]", highlight=False)

    result = {
        "benchmark": "tracking",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": [os.path.relpath(sys.argv[0], REPO) if sys.argv[0] else "", *sys.argv[1:]],
        "settings": {"repeats": args.repeats, "only": args.only, "workloads": workloads,
                     "scale": args.scale, "search_populate": args.search_populate,
                     "mlflow_pin": MLFLOW_PIN,
                     "child_env": {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                                   "MLFLOW_ENABLE_ASYNC_LOGGING": "unset"}},
        "machine": machine,
        "total_wall_s": round(time.time() - t_start, 1),
        "notes": notes,
        "table": rows,
        "cases": [{"case": c.id, "tool": c.tool, "workload": c.workload, "variant": c.variant,
                   "median": medians[c.id], "runs": raw[c.id]} for c in cases],
    }
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, out_path)
    console.print(f"wrote {out_path} "
                  f"(total {result['total_wall_s']:.0f}s)", highlight=False)
    return 1 if any(m["failed_runs"] for m in medians.values()) else 0


def summary_line(workload: str, r: dict[str, Any]) -> str:
    if r.get("skipped"):
        return f"skipped: {r.get('note')}"
    if workload == "log_metric":
        return f"{r['n']} calls: {r['calls_per_s']:,.0f} calls/s, {r['ms_per_call']:.3f} ms/call"
    if workload == "log_batch":
        return f"{r['points_per_s']:,.0f} points/s (median of {len(r['repeats'])})"
    if workload == "search":
        pop = f"populate {r['populate_s']:.1f}s, " if r.get("populate_s") is not None else ""
        return (f"{pop}search median {r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms, "
                f"{r['results_returned']} results, top auc {r['top_auc']} (ok={r['top_auc_ok']})")
    if workload == "concurrent":
        return (f"failed {r['processes_failed']}/{r['processes']}, found {r['points_found']}/"
                f"{r['points_expected']}, lost {r['points_lost']}, "
                f"{r['throughput_points_per_s']} points/s over {r['wall_s']}s"
                + ("" if r.get("readback_ok") else "; store could not be read back")
                + ("" if r.get("all_ready_before_start") else "; a writer started late"))
    return json.dumps(r)[:200]


if __name__ == "__main__":
    sys.exit(main())
