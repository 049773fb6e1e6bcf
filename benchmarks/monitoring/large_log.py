"""Monitoring a large prediction log: a window's drift from merged profiles vs from the rows.

    .venv/bin/python benchmarks/monitoring/large_log.py [--sizes 1000000,10000000]
        [--full-max 10000000] [--repeats 3] [--out benchmarks/results/monitoring-large-log.json]

For each size n, a log of n rows over two days in files of 50,000 rows (10 numeric inputs, 2
categorical) is generated once under /tmp. Every case runs in a fresh subprocess; wall time
and peak RSS (ru_maxrss) are recorded:

* rows: ``Monitor.run(profiles=False)`` over the whole log (loads the window's rows);
* profiles, first pass: ``Monitor.run(profiles=True)`` with an empty store (reads every file once);
* profiles, 10 new files: the same after 10 more files arrived (reads only those);
* profiles, nothing new: merges the stored hourly profiles only.

Medians of --repeats runs; the load average is recorded with every run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path("/tmp/modelyard-large-log-bench")
T0 = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)
PER_FILE = 50_000
NUMERIC = 10


def _file(
    rng: np.random.Generator, start_us: int, span_us: int, tag: str, shift: float
) -> pa.Table:
    n = PER_FILE
    ts = np.sort(rng.integers(start_us, start_us + span_us, n))
    columns: dict[str, Any] = {
        "request_id": pa.array(
            np.char.add(tag, np.arange(n).astype(str)).astype(object), pa.string()
        ),
        "row": pa.array(np.zeros(n, np.int64)),
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "endpoint": pa.array(["credit"] * n, pa.string()),
        "route": pa.array(["champion"] * n, pa.string()),
        "model": pa.array(["credit"] * n, pa.string()),
        "version": pa.array(["1"] * n, pa.string()),
        "shadow": pa.array(np.zeros(n, bool)),
        "status": pa.array(np.full(n, 200, np.int16)),
        "latency_ms": pa.array(rng.gamma(2.0, 1.5, n)),
        "entity_key": pa.nulls(n, pa.string()),
        "prediction": pa.array(rng.integers(0, 2, n).astype("float64")),
        "prediction_label": pa.nulls(n, pa.string()),
        "score": pa.array(rng.uniform(0, 1, n)),
    }
    for j in range(NUMERIC):
        columns[f"input_x{j}"] = pa.array(rng.normal(j + shift * (j == 0), 1.0, n))
    columns["input_c0"] = pa.array(rng.choice(["a", "b", "c", "d"], n), pa.string())
    columns["input_c1"] = pa.array(rng.choice([f"k{i}" for i in range(50)], n), pa.string())
    return pa.table(columns)


def generate(root: Path, n: int, extra: int = 0, seed: int = 0) -> None:
    """n rows over two days (the second drifted in x0), or ``extra`` more files on day two."""
    rng = np.random.default_rng(seed + extra)
    files = extra if extra else n // PER_FILE
    day_us = 86_400_000_000
    start = int(T0.timestamp() * 1e6)
    for k in range(files):
        day = (2 * k) // files if not extra else 1
        offset = start + day * day_us + ((k % max(files // 2, 1)) * day_us) // max(files // 2, 1)
        table = _file(
            rng,
            offset,
            day_us // max(files // 2, 1),
            f"{'e' if extra else 'f'}{k}-",
            1.0 if day else 0.0,
        )
        date = (T0 + _dt.timedelta(days=day)).strftime("%Y-%m-%d")
        folder = root / "requests" / "endpoint=credit" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"part-{'e' if extra else 'f'}{k:06d}.parquet")


def reference(path: Path) -> None:
    table = _file(np.random.default_rng(99), 0, 1, "r", 0.0)
    frame = table.to_pandas()
    frame = frame[[c for c in frame.columns if c.startswith("input_")]].rename(
        columns=lambda c: c[6:]
    )
    frame.to_parquet(path)


CHILD = """
import datetime as _dt, json, resource, sys, time
from modelyard.monitoring import Monitor
root, store, ref, mode = sys.argv[1:5]
monitor = Monitor("credit", reference=ref, tracking_uri=store, log_root=root)
start = time.perf_counter()
result = monitor.run("2d", end=_dt.datetime(2026, 6, 3, tzinfo=_dt.UTC), store=False, profiles=mode != "rows")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": result.rows, "drifted": result.drift.drifted_columns if result.drift else None,
                  "ks_x0": result.drift.column("x0").ks if result.drift else None,
                  "findings": result.findings[:1]}))
"""


def run_case(root: Path, store: Path, ref: Path, mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(store), str(ref), mode],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if out.returncode != 0:
        return {
            "error": out.stderr.strip().splitlines()[-1]
            if out.stderr.strip()
            else f"exit {out.returncode}"
        }
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    data["load_average"] = os.getloadavg()
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--full-max", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out",
        default=str(
            Path(__file__).resolve().parent.parent / "results" / "monitoring-large-log.json"
        ),
    )
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    ref = DATA / "reference.parquet"
    reference(ref)
    results: list[dict[str, Any]] = []
    for n in [int(s) for s in args.sizes.split(",")]:
        base = DATA / f"n{n}"
        if not (base / "done").exists():
            shutil.rmtree(base, ignore_errors=True)
            t = time.perf_counter()
            generate(base / "log", n)
            (base / "done").write_text(str(time.perf_counter() - t))
        cases: dict[str, list[dict[str, Any]]] = {}
        for r in range(args.repeats):
            work = DATA / f"work-{n}"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(base / "log", work / "log")
            store = work / "store"
            if n <= args.full_max:
                cases.setdefault("rows", []).append(run_case(work / "log", store, ref, "rows"))
            cases.setdefault("profiles, first pass", []).append(
                run_case(work / "log", store, ref, "profiles")
            )
            generate(work / "log", 0, extra=10, seed=r)
            cases.setdefault("profiles, 10 new files", []).append(
                run_case(work / "log", store, ref, "profiles")
            )
            cases.setdefault("profiles, nothing new", []).append(
                run_case(work / "log", store, ref, "profiles")
            )
            print(
                json.dumps({"n": n, "repeat": r, "cases": {k: v[-1] for k, v in cases.items()}}),
                flush=True,
            )
            shutil.rmtree(work, ignore_errors=True)
        for case, runs in cases.items():
            ok = [x for x in runs if "error" not in x]
            results.append(
                {
                    "n": n,
                    "case": case,
                    "runs": runs,
                    "median_seconds": statistics.median(x["seconds"] for x in ok) if ok else None,
                    "median_peak_mib": statistics.median(x["peak_mib"] for x in ok) if ok else None,
                }
            )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "measured": _dt.datetime.now(_dt.UTC).isoformat(),
                "cpus": os.cpu_count(),
                "results": results,
            },
            indent=1,
        )
    )
    print("| rows in the log | case | time s (median) | peak RSS MiB (median) | runs |")
    print("|---:|---|---:|---:|---:|")
    for r in results:
        t = "-" if r["median_seconds"] is None else f"{r['median_seconds']:.2f}"
        m = "-" if r["median_peak_mib"] is None else f"{r['median_peak_mib']:.0f}"
        print(f"| {r['n']:,} | {r['case']} | {t} | {m} | {len(r['runs'])} |")


if __name__ == "__main__":
    main()
