"""Shared, tool-agnostic pieces of the server benchmark (standard library only: imported by
our interpreter and by the MLflow virtualenv's)."""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from typing import Any

LOG_METRIC_CALLS = 2000  # single synchronous log_metric calls, each timed
LOG_BATCH_KEYS = 10
LOG_BATCH_STEPS = 1000  # 10 keys x 1000 steps = 10,000 points per log_batch workload
LOG_BATCH_REPEATS = 3
MLFLOW_MAX_METRICS_PER_BATCH = 1000  # the MLflow client's cap on one log_batch
ASYNC_POINTS = 200_000
SEARCH_RUNS = 10_000
SEARCH_QUERIES = 20
SEARCH_FILTER = "metrics.auc > 0.8 and params.model = 'gbm'"
SEARCH_ORDER_BY = ["metrics.auc DESC"]
SEARCH_MAX_RESULTS = 100
SEARCH_MODELS = ("gbm", "rf", "lr")
SEARCH_SEED = 20240601
BASE_TIMESTAMP_MS = 1_700_000_000_000


def search_rows(n: int) -> list[tuple[str, float, float]]:
    """(model, auc, loss) of each synthetic run, the same for both tools."""
    rng = random.Random(SEARCH_SEED)
    return [(rng.choice(SEARCH_MODELS), rng.random(), rng.random()) for _ in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency_summary(latencies_s: list[float], total_s: float) -> dict[str, Any]:
    ms = [x * 1000 for x in latencies_s]
    return {
        "calls": len(ms),
        "calls_per_s": round(len(ms) / total_s, 1),
        "mean_ms": round(statistics.fmean(ms), 3),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
    }


def progress(text: str) -> None:
    print(f"progress: {text}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def timed(fn: Any, *args: Any, **kwargs: Any) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0
