"""Shared, tool-agnostic helpers for the tracking workloads.

Standard library only: this module is imported both by the project's
interpreter (workload_modelyard.py) and by the MLflow virtualenv's interpreter
(workload_mlflow.py), so it must not import either tool.

Everything that defines *what* is measured lives here (sizes, the synthetic data
of the search workload, the concurrent-writer choreography), so the two
workload files only differ in the calls they make to their tool.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------
# Sizes (the same for both tools unless the brief says otherwise)
# --------------------------------------------------------------------------

LOG_BATCH_KEYS = 10
LOG_BATCH_STEPS = 1000  # 10 keys x 1000 steps = 10,000 points per batch
LOG_BATCH_REPEATS = 5
MLFLOW_MAX_METRICS_PER_BATCH = 1000  # MLflow's client-side cap on one log_batch

SEARCH_RUNS = 10_000
SEARCH_STEPS = 20
SEARCH_QUERIES = 20
SEARCH_SEED = 20240601
SEARCH_EXPERIMENT = "search"
SEARCH_FILTER = "metrics.auc > 0.8 and params.model = 'gbm'"
SEARCH_ORDER_BY = ["metrics.auc DESC"]
SEARCH_MAX_RESULTS = 100
SEARCH_MODELS = ("gbm", "rf", "lr")

CONCURRENT_PROCS = 8
CONCURRENT_POINTS = 500
CONCURRENT_EXPERIMENT = "concurrent"

# Fixed epoch-millisecond base so the batch workloads log identical data.
BASE_TIMESTAMP_MS = 1_700_000_000_000


# --------------------------------------------------------------------------
# Command line / output
# --------------------------------------------------------------------------


def parse_args(workloads: list[str], default_n: dict[str, int]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=workloads)
    p.add_argument("store_dir", help="an empty (brand-new) directory for the store")
    p.add_argument("--n", type=int, default=None,
                   help="log_metric: number of timed calls (default depends on tool/variant: "
                        + ", ".join(f"{k}={v}" for k, v in default_n.items()) + ")")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every size by this (smoke runs only; results at scale != 1 "
                        "are not comparable with the reference figures)")
    # search: reuse a store populated by an earlier process (see run.py)
    p.add_argument("--query-only", action="store_true",
                   help="search: skip population, query an already-populated store")
    # concurrent: internal roles
    p.add_argument("--start-at", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--points", type=int, default=CONCURRENT_POINTS, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.store_dir = os.path.abspath(args.store_dir)
    return args


def scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def emit(obj: dict[str, Any]) -> None:
    """Print the one JSON object a workload reports (last line of stdout)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def progress(msg: str) -> None:
    """Progress for humans; run.py echoes stderr lines starting with 'progress:'."""
    sys.stderr.write(f"progress: {msg}\n")
    sys.stderr.flush()


def percentile(values: list[float], q: float) -> float:
    """Percentile with linear interpolation between closest ranks (q in 0..100)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def error_text(exc: BaseException) -> str:
    text = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    return text if len(text) <= 2000 else text[:2000] + " ...[truncated]"


def sqlite_journal_mode(db_path: str) -> str | None:
    """The journal mode recorded in a SQLite file (read after the tool is done)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return str(con.execute("PRAGMA journal_mode").fetchone()[0])
        finally:
            con.close()
    except Exception:
        return None


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def log_batch_points(rep: int) -> list[tuple[str, float, int, int]]:
    """10 keys x 1000 steps as (key, value, timestamp_ms, step); deterministic."""
    rng = random.Random(1000 + rep)
    points = []
    for step in range(LOG_BATCH_STEPS):
        ts = BASE_TIMESTAMP_MS + step
        for k in range(LOG_BATCH_KEYS):
            points.append((f"metric_{k}", rng.random(), ts, step))
    return points


@dataclass(frozen=True)
class SearchRunData:
    params: list[tuple[str, str]]
    metrics: list[tuple[str, float, int, int]]  # (key, value, timestamp_ms, step)
    latest_auc: float
    model: str


def search_runs_data(n_runs: int) -> list[SearchRunData]:
    """The synthetic population of the search workload (identical for both tools).

    Run i: params model=('gbm','rf','lr')[i % 3] and lr (a float string);
    metrics auc and loss, each a 20-step history; auc ~ U(0.5, 1.0), the last
    step being the latest value that search filters and orders on.
    """
    rng = random.Random(SEARCH_SEED)
    out = []
    for i in range(n_runs):
        model = SEARCH_MODELS[i % len(SEARCH_MODELS)]
        lr = f"{10 ** rng.uniform(-4, -1):.6g}"
        metrics = []
        auc = 0.0
        for step in range(SEARCH_STEPS):
            ts = BASE_TIMESTAMP_MS + i * 1000 + step
            auc = rng.uniform(0.5, 1.0)
            loss = rng.uniform(0.0, 2.0)
            metrics.append(("auc", auc, ts, step))
            metrics.append(("loss", loss, ts, step))
        out.append(SearchRunData([("model", model), ("lr", lr)], metrics, auc, model))
    return out


def expected_search_top(data: list[SearchRunData]) -> tuple[float, int]:
    """(max latest auc among matching runs, number of matching runs)."""
    matching = [d.latest_auc for d in data if d.model == "gbm" and d.latest_auc > 0.8]
    return (max(matching) if matching else float("nan")), len(matching)


# --------------------------------------------------------------------------
# Concurrent writers: choreography shared by both tools
# --------------------------------------------------------------------------


def sleep_until(t_wall: float) -> float:
    """Sleep until wall-clock time t_wall; return how many seconds we waited."""
    waited = 0.0
    while True:
        now = time.time()
        if now >= t_wall:
            return waited
        d = min(t_wall - now, 0.5)
        time.sleep(d)
        waited += d


def concurrent_writer(args: argparse.Namespace, body: Callable[[int], int]) -> None:
    """Run one writer: wait for the common start time, run body, print its JSON.

    body(points_target) must log points one by one and return the number it
    logged; on failure it raises, with attribute ``points_logged`` and
    ``stage`` set on the exception when it can (see the workload files).
    """
    ready_at = time.time()
    sleep_until(args.start_at)
    started = time.time()
    result: dict[str, Any] = {
        "index": args.index,
        "ready_before_start_s": round(args.start_at - ready_at, 3),
        "start_lag_s": round(started - args.start_at, 4),
        "points_target": args.points,
    }
    try:
        logged = body(args.points)
        result.update(ok=True, error=None, stage=None, points_logged=logged)
    except BaseException as exc:
        result.update(
            ok=False,
            error=error_text(exc),
            stage=getattr(exc, "bench_stage", None),
            points_logged=getattr(exc, "bench_points_logged", None),
        )
    result["elapsed_s"] = round(time.time() - started, 3)
    emit(result)


def tag_failure(exc: BaseException, stage: str, points_logged: int) -> BaseException:
    try:
        exc.bench_stage = stage  # type: ignore[attr-defined]
        exc.bench_points_logged = points_logged  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - exotic exception types
        pass
    return exc


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def concurrent_parent(args: argparse.Namespace, script: str, tool: str, extra: dict[str, Any]) -> None:
    """Spawn N writers of `script` at one wall-clock instant, then read back.

    The store directory must be brand-new: no database exists before the
    writers start. Each writer imports its tool first, then sleeps until the
    common start time, so the import cost is outside the race.
    """
    n_procs = CONCURRENT_PROCS
    points = scaled(CONCURRENT_POINTS, args.scale)
    store_dir = args.store_dir
    if os.listdir(store_dir):
        raise SystemExit(f"concurrent: store dir {store_dir} is not empty")

    # Estimate how long n_procs interpreters need to start and import the tool
    # on this many cores, and schedule the common start far enough ahead.
    probe_dir = os.path.join(os.path.dirname(store_dir), os.path.basename(store_dir) + "-probe")
    os.makedirs(probe_dir, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, script, "noop", probe_dir], check=True,
                   stdout=subprocess.DEVNULL, cwd=probe_dir)
    import_s = time.perf_counter() - t0
    cpus = os.cpu_count() or 1
    delay = min(120.0, 2.0 + 2.5 * import_s * n_procs / cpus)
    start_at = time.time() + delay
    progress(f"{tool} concurrent: {n_procs} writers x {points} points, start in {delay:.1f}s")

    procs = []
    for i in range(n_procs):
        cmd = [sys.executable, script, "concurrent_writer", store_dir,
               "--start-at", repr(start_at), "--index", str(i), "--points", str(points)]
        procs.append(subprocess.Popen(cmd, cwd=store_dir, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        out, err = p.communicate()
        outs.append((p.returncode, out, err))
    t_last_exit = time.time()
    wall_s = t_last_exit - start_at

    writers = []
    for i, (rc, out, err) in enumerate(outs):
        rec = _last_json_line(out)
        if rec is None:
            rec = {"index": i, "ok": False, "error": f"no JSON from writer (exit {rc}); "
                   f"stderr tail: {err.strip()[-1500:]}", "points_logged": None}
        rec["exit_code"] = rc
        writers.append(rec)

    # Read back in a fresh process, after every writer has exited.
    rb = subprocess.run([sys.executable, script, "concurrent_readback", store_dir,
                         "--points", str(points)],
                        cwd=store_dir, capture_output=True, text=True)
    readback = _last_json_line(rb.stdout) or {
        "ok": False, "error": f"readback produced no JSON (exit {rb.returncode}): "
        f"{rb.stderr.strip()[-1500:]}", "points_found": 0}

    expected = n_procs * points
    found = int(readback.get("points_found") or 0)
    failed = sum(1 for w in writers if not w.get("ok"))
    errors = sorted({(w.get("error") or "").splitlines()[0][:240] if w.get("error") else "?"
                     for w in writers if not w.get("ok")})
    emit({
        "tool": tool,
        "workload": "concurrent",
        **extra,
        "processes": n_procs,
        "points_per_process": points,
        "processes_failed": failed,
        "points_expected": expected,
        "points_found": found,
        "points_lost": expected - found,
        "runs_found": readback.get("runs_found"),
        "readback_ok": bool(readback.get("ok")),
        "wall_s": round(wall_s, 3),
        "throughput_points_per_s": round(found / wall_s, 1) if wall_s > 0 else None,
        "start_delay_s": round(delay, 2),
        "all_ready_before_start": all((w.get("ready_before_start_s") or 0) > 0 for w in writers),
        "max_start_lag_s": max((w.get("start_lag_s") or 0) for w in writers),
        "distinct_errors": errors,
        "readback": readback,
        "writers": writers,
    })
