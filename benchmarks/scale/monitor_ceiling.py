"""Monitoring's ceiling on one node: a window's drift from its raw rows vs from merged profiles.

    python benchmarks/scale/monitor_ceiling.py --size 1m [--size 10m] [--size 100m]
        [--case rows --case streamed --case profiles] [--work /tmp/modelyard-ceiling]

The log is the large-log benchmark's (benchmarks/monitoring/large_log.py): n rows over two days
in files of 50,000 rows (1m = 20 files, 100m = 2,000), 10 numeric inputs and 2 categorical,
the second day shifted in x0; the reference is 50,000 undrifted rows. The window is both days.
Every case is a child process; wall time and peak memory (VmHWM of the process; the tree's
Pss sampled every 0.25 s) are recorded:

* ``rows``: ``Monitor.run(profiles=False)``, the product's path from rows: it loads the
  window's rows into one DataFrame (~75 bytes a row per column read), so it is run only where
  it fits (up to ``--rows-max``, 10M by default);
* ``streamed``: the same drift computed from every raw row of the window, read file by file:
  each numeric column's rows are counted on the reference's bins and each category counted,
  then the product's own arithmetic (``numeric_from_counts``, ``categorical_from_counts``,
  Bonferroni over the columns) gives the report. It equals ``rows`` exactly where both run
  (checked), with bounded memory at any size;
* ``profiles``: ``Monitor.run(profiles=True)`` with an empty profile store (the first pass
  reads every file once and stores hourly KLL profiles), then again with nothing new (the
  window's drift from the merged stored profiles alone: what every later pass costs).

Agreement: the flagged columns, and per column the statistic (KS distance, chi-squared) and
p-value, are compared with the raw-row answer. Results go to
benchmarks/results/scale-monitor-ceiling.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "monitoring")]
import _measure as M  # noqa: E402

SIZES = {"1m": 1_000_000, "10m": 10_000_000, "100m": 100_000_000}
END = _dt.datetime(2026, 6, 3, tzinfo=_dt.UTC)
WINDOW = "2d"


def report(drift: Any) -> dict[str, Any]:
    return {
        "drifted_columns": drift.drifted_columns,
        "columns": {
            c.column: {"statistic": c.statistic, "p_value": c.p_value, "ks": c.ks, "n": c.n_current}
            for c in drift.columns
        },
    }


def streamed(root: str, ref_path: str) -> tuple[Any, int]:
    """Drift of the window from every raw row, read a file at a time."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from modelyard.data._reference import reference
    from modelyard.monitoring._drift import (
        DriftOptions,
        DriftReport,
        categorical_from_counts,
        numeric_from_counts,
    )

    ref = reference(pd.read_parquet(ref_path))
    opts = DriftOptions()
    names = [c for c in ref if ref[c].get("kind") in ("numeric", "categorical")]
    numeric = [c for c in names if ref[c]["kind"] == "numeric"]
    counts = {c: np.zeros(len(ref[c]["edges"]) - 1) for c in numeric}
    beyond = dict.fromkeys(numeric, 0.0)
    finite = dict.fromkeys(numeric, 0)
    moments = {c: [0.0, 0.0] for c in numeric}
    categories: dict[str, pd.Series] = {
        c: pd.Series(dtype="int64") for c in names if c not in numeric
    }
    start = END - _dt.timedelta(days=2)
    lo = pa.scalar(start, pa.timestamp("us", tz="UTC"))
    hi = pa.scalar(END, pa.timestamp("us", tz="UTC"))
    rows = 0
    files = sorted(Path(root).rglob("*.parquet"))
    wanted = ["timestamp", "status", "shadow", *(f"input_{c}" for c in names)]
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1_000_000, columns=wanted):
            table = pa.Table.from_batches([batch])
            keep = pc.and_(
                pc.and_(pc.equal(table["status"], 200), pc.invert(table["shadow"])),
                pc.and_(pc.greater_equal(table["timestamp"], lo), pc.less(table["timestamp"], hi)),
            )
            table = table.filter(keep)
            rows += table.num_rows
            for c in numeric:
                values = table[f"input_{c}"].to_numpy(zero_copy_only=False).astype("float64")
                values = values[np.isfinite(values)]
                edges = np.asarray(ref[c]["edges"], dtype=np.float64)
                counts[c] += np.bincount(
                    np.searchsorted(edges[1:-1], values, side="left"), minlength=len(edges) - 1
                )
                beyond[c] += float(np.clip(edges[0] - values[values < edges[0]], 0, None).sum())
                beyond[c] += float(np.clip(values[values > edges[-1]] - edges[-1], 0, None).sum())
                finite[c] += int(values.size)
                moments[c][0] += float(values.sum())
                moments[c][1] += float(np.square(values).sum())
            for c in categories:
                counted = table[f"input_{c}"].drop_null().value_counts()
                found = pd.Series(
                    counted.field("counts").to_numpy(),
                    index=counted.field("values").to_pylist(),
                    dtype="int64",
                )
                categories[c] = categories[c].add(found, fill_value=0).astype("int64")
    alpha = opts.alpha / max(len(names), 1)
    results = []
    for c in names:
        if c in categories:
            results.append(
                categorical_from_counts(
                    c, ref[c], categories[c], opts.categorical_test, alpha, opts
                )
            )
        else:
            n = finite[c]
            mean = moments[c][0] / n if n else 0.0
            std = float(np.sqrt(max(moments[c][1] / n - mean * mean, 0.0))) if n else 0.0
            results.append(
                numeric_from_counts(
                    c, ref[c], counts[c], n, beyond[c], std, opts.numeric_test, alpha, opts
                )
            )
    judged = [r for r in results if r.drifted is not None]
    share = sum(1 for r in judged if r.drifted) / len(judged) if judged else 0.0
    return DriftReport(
        results, share, bool(judged) and share >= opts.drift_share, opts.drift_share, rows
    ), rows


def child(case: str, root: str, store: str, ref: str) -> dict[str, Any]:
    from modelyard.monitoring import Monitor

    out: dict[str, Any] = {"case": case}
    if case == "streamed":
        started = time.perf_counter()
        drift, rows = streamed(root, ref)
        out.update(seconds=round(time.perf_counter() - started, 2), rows=rows, **report(drift))
        return out
    monitor = Monitor("credit", reference=ref, tracking_uri=store, log_root=root)
    passes = ["from rows"] if case == "rows" else ["profiles, first pass", "profiles, nothing new"]
    for name in passes:
        started = time.perf_counter()
        result = monitor.run(WINDOW, end=END, store=False, profiles=case != "rows")
        seconds = time.perf_counter() - started
        out[name] = {"seconds": round(seconds, 2), "peak_mib_so_far": M.peak_self_mib()}
        assert result.drift is not None
        out.update(seconds=round(seconds, 2), rows=result.rows, **report(result.drift))
    return out


def compare(raw: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """How close ``other``'s drift answer is to the raw rows' answer."""
    ks_gap = p_gap = stat_rel = 0.0
    unflagged_p: dict[str, list[float]] = {"raw": [], "other": []}
    for name, mine in raw["columns"].items():
        theirs = other["columns"][name]
        if mine["ks"] is not None:
            ks_gap = max(ks_gap, abs(mine["ks"] - theirs["ks"]))
        else:
            rel = abs(mine["statistic"] - theirs["statistic"]) / max(abs(mine["statistic"]), 1e-12)
            stat_rel = max(stat_rel, rel)
        if name in raw["drifted_columns"]:
            p_gap = max(p_gap, abs(mine["p_value"] - theirs["p_value"]))
        elif mine["ks"] is not None:  # categories' counts are exact in a profile: same p
            unflagged_p["raw"].append(mine["p_value"])
            unflagged_p["other"].append(theirs["p_value"])
    return {
        "same_flagged_columns": raw["drifted_columns"] == other["drifted_columns"],
        "same_rows": raw["rows"] == other["rows"],
        "max_abs_ks_gap": ks_gap,
        "max_rel_chi2_gap": stat_rel,
        "max_abs_p_value_gap_flagged": p_gap,
        "min_p_value_unflagged_numeric": {k: min(v, default=None) for k, v in unflagged_p.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", choices=sorted(SIZES), default=[])
    parser.add_argument(
        "--case", action="append", choices=["rows", "streamed", "profiles"], default=[]
    )
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "modelyard-ceiling"))
    parser.add_argument("--rows-max", type=int, default=10_000_000)
    parser.add_argument("--timeout-min", type=float, default=30.0)
    parser.add_argument(
        "--child", nargs=4, metavar=("CASE", "ROOT", "STORE", "REF"), help=argparse.SUPPRESS
    )
    parser.add_argument("--generate-only", action="store_true", help="write the log, run nothing")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    import large_log

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ref = work / "monitor-reference.parquet"
    if not ref.exists():
        large_log.reference(ref)
    for size in args.size or ["1m"]:
        n = SIZES[size]
        base = work / f"monitor-{size}"
        if not (base / ".done").exists():
            shutil.rmtree(base, ignore_errors=True)
            started = time.perf_counter()
            large_log.generate(base / "log", n)
            (base / ".done").write_text(str(round(time.perf_counter() - started, 1)))
        if args.generate_only:
            continue
        cases = args.case or ["rows", "streamed", "profiles"]
        answers: dict[str, dict[str, Any]] = {}
        for case in cases:
            if case == "rows" and n > args.rows_max:
                print(
                    json.dumps(
                        {"size": size, "case": case, "skipped": f"over --rows-max {args.rows_max}"}
                    )
                )
                continue
            store = work / f"monitor-store-{size}-{case}"
            shutil.rmtree(store, ignore_errors=True)
            argv = [
                sys.executable,
                __file__,
                "--child",
                case,
                str(base / "log"),
                str(store),
                str(ref),
            ]
            result = M.run_child(argv, M.base_env(), timeout=args.timeout_min * 60)
            shutil.rmtree(store, ignore_errors=True)
            if "columns" in result:
                answers[case] = result
            result.update(
                size=size,
                log_rows=n,
                log_files=len(list((base / "log").rglob("*.parquet"))),
                measured=datetime.now().astimezone().isoformat(timespec="seconds"),
                command=f"python benchmarks/scale/monitor_ceiling.py --size {size} --case {case}",
            )
            M.save("scale-monitor-ceiling", result)
            print(json.dumps(result), flush=True)
        raw = answers.get("rows") or answers.get("streamed")
        if raw is not None:
            agreement = {k: compare(raw, v) for k, v in answers.items() if v is not raw}
            record = {"size": size, "raw_answer_from": raw["case"], "agreement": agreement}
            M.save("scale-monitor-ceiling", record)
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
