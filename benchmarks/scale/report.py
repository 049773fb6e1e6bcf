"""Prints the ceiling benchmarks' results (benchmarks/results/scale-*-ceiling.json) as Markdown.

    python benchmarks/scale/report.py [--all]

Without ``--all``, each command's latest run only (earlier runs stay in the JSON files).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "results"


ALL = "--all" in sys.argv


def _load(name: str) -> list[dict[str, Any]]:
    """The runs of one benchmark; unless ``--all``, only the latest run of each command (and
    the latest summary of each size), in the order of sizes."""
    path = RESULTS / f"scale-{name}-ceiling.json"
    runs: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    if ALL:
        return runs
    latest: dict[str, dict[str, Any]] = {}
    for r in runs:
        key = r.get("command") or f"summary {r.get('size')} {sorted(r)}"
        latest.pop(key, None)
        latest[key] = r
    order = {"1m": 0, "10m": 1, "100m": 2}
    engines = ["duckdb", "local", "ray", "spark", "rows", "streamed", "profiles"]

    def rank(r: dict[str, Any]) -> tuple[int, int, str]:
        kind = str(r.get("engine") or r.get("case") or "")
        return (
            order.get(str(r.get("size")), 9),
            engines.index(kind) if kind in engines else 99,
            str(r.get("command")),
        )

    return sorted(latest.values(), key=rank)


def _n(value: int) -> str:
    return f"{value / 1e6:g}M" if value >= 1_000_000 else f"{value / 1e3:g}k"


def _mem(r: dict[str, Any]) -> str:
    parts = [f"{r['peak_child_mib']:,} MiB"]
    if r.get("peak_jvm_mib"):
        parts.append(f"+ {r['peak_jvm_mib']:,} MiB JVM")
    return " ".join(parts)


def _load_avg(r: dict[str, Any]) -> str:
    return f"{r['load_average_start'][0]:.1f} → {r['load_average_end'][0]:.1f}"


def _outcome(r: dict[str, Any], seconds: float | None) -> str:
    if "stopped_after_s" in r:
        return f"stopped after {r['stopped_after_s'] / 60:.0f} min"
    if "error" in r:
        return "failed: " + r["error"][-160:].replace("|", "/")
    return f"{seconds:,.1f} s" if seconds is not None else "—"


def pit() -> None:
    print(
        "| entity rows / feature rows | engine | join + checksum in the engine | peak memory (VmHWM) | tree peak (Pss) | spill peak | rows with features | checksum | load average |"
    )
    print("|---|---|---:|---|---:|---:|---:|---|---|")
    for r in _load("pit"):
        engine = (
            f"DuckDB (memory_limit {r['memory_limit']})"
            if r["engine"] == "duckdb"
            else f"Spark local[2] (driver {r['driver_memory']})"
        )
        print(
            f"| {_n(r['entity_rows'])} / {_n(r['feature_rows'])} | {engine} | {_outcome(r, r.get('seconds'))} "
            f"| {_mem(r)} | {r['peak_tree_mib']:,} MiB | {r.get('peak_spill_mib', 0):,} MiB "
            f"| {r.get('rows_with_features', '—'):,} | `{r.get('checksum', '—')}` | {_load_avg(r)} |"
            if "checksum" in r
            else f"| {_n(r['entity_rows'])} / {_n(r['feature_rows'])} | {engine} | {_outcome(r, None)} "
            f"| {_mem(r)} | {r['peak_tree_mib']:,} MiB | — | — | — | {_load_avg(r)} |"
        )


def score() -> None:
    print(
        "| rows | engine | job time | rows/s | process wall | peak memory: CLI process / largest other / JVM | tree peak (Pss) | prediction checksum | score checksum | load average |"
    )
    print("|---:|---|---:|---:|---:|---|---:|---|---|---|")
    summaries = []
    for r in _load("score"):
        if "identical_checksums" in r:
            summaries.append(r)
            continue
        jvm = f"{r['peak_jvm_mib']:,}" if r.get("peak_jvm_mib") else "—"
        other = f"{r['peak_largest_other_mib']:,}" if r.get("peak_largest_other_mib") else "—"
        if "rows" in r:
            print(
                f"| {_n(r['input_rows'])} | {r['engine']}{' --workers ' + str(r['workers']) if r.get('workers') else ''} | {r['seconds']:,.1f} s | {r['rows_per_second']:,} "
                f"| {r['wall_s']:,.1f} s | {r['peak_child_mib']:,} / {other} / {jvm} MiB | {r['peak_tree_mib']:,} MiB "
                f"| `{r['prediction_checksum']}` | `{r['score_checksum']}` | {_load_avg(r)} |"
            )
        else:
            print(
                f"| {_n(r['input_rows'])} | {r['engine']} | {_outcome(r, None)} | — | {r['wall_s']:,.1f} s "
                f"| {r['peak_child_mib']:,} / {other} / {jvm} MiB | {r['peak_tree_mib']:,} MiB | — | — | {_load_avg(r)} |"
            )
    for summary in summaries:
        rows = {k: v for k, v in summary.items() if k.startswith("row_by_row")}
        if not rows:
            continue
        print(
            f"\n{summary['size']}: identical checksums {summary['identical_checksums']}; {json.dumps(rows)}"
        )


def monitor() -> None:
    print("| window rows | pass | time | peak memory (VmHWM) | flagged columns | load average |")
    print("|---:|---|---:|---:|---|---|")
    agreements = []
    for r in _load("monitor"):
        if "agreement" in r:
            agreements.append(r)
            continue
        flagged = ", ".join(r.get("drifted_columns", [])) or "—"
        if r.get("case") == "profiles":
            first, again = r["profiles, first pass"], r["profiles, nothing new"]
            print(
                f"| {_n(r['log_rows'])} | profiles: first pass (reads every file once, stores hourly KLL profiles) | {first['seconds']:,.1f} s | {first['peak_mib_so_far']:,} MiB | | {_load_avg(r)} |"
            )
            print(
                f"| {_n(r['log_rows'])} | profiles: window from the merged stored profiles (nothing new) | {again['seconds']:,.2f} s | (same process) | {flagged} | |"
            )
        elif "case" in r:
            label = {
                "rows": "rows: `Monitor.run(profiles=False)` (loads the window)",
                "streamed": "rows, streamed: every row read file by file, exact counts",
            }[r["case"]]
            print(
                f"| {_n(r['log_rows'])} | {label} | {_outcome(r, r.get('seconds'))} | {r['peak_child_mib']:,} MiB | {flagged} | {_load_avg(r)} |"
            )
    for a in agreements:
        for case, c in a["agreement"].items():
            print(
                f"\n{a['size']}: {case} vs {a['raw_answer_from']}: same flagged columns {c['same_flagged_columns']}, "
                f"same rows {c['same_rows']}, max |ΔKS| {c['max_abs_ks_gap']:.2g}, max relative Δchi² "
                f"{c['max_rel_chi2_gap']:.2g}, max |Δp| of flagged columns {c['max_abs_p_value_gap_flagged']:.2g}, "
                f"smallest p of unflagged numeric columns "
                f"{c['min_p_value_unflagged_numeric']['raw']:.3g} (raw rows) vs "
                f"{c['min_p_value_unflagged_numeric']['other']:.3g} ({case})"
            )


if __name__ == "__main__":
    for title, table in (("PIT", pit), ("Batch scoring", score), ("Monitoring", monitor)):
        print(f"\n### {title}\n")
        table()
