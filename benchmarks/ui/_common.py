"""The UI benchmark's data, the same for modelyard and MLflow: one experiment of N runs with
10 params and 10 metrics each, one run with a 100,000-point metric history, and 10 runs with
10,000-point histories to compare. Deterministic (no randomness beyond a fixed seed)."""

from __future__ import annotations

import math
import random

EXPERIMENT = "ui-bench"
RUNS = 10_000
PARAMS = [f"p{i:02d}" for i in range(10)]
METRICS = [f"m{i:02d}" for i in range(10)]
LONG_POINTS = 100_000
COMPARE_RUNS = 10
COMPARE_POINTS = 10_000
T0 = 1_700_000_000_000


def run_name(i: int) -> str:
    return f"run-{i:05d}"


def run_values(i: int) -> tuple[dict[str, str], dict[str, float]]:
    rng = random.Random(i)
    params = {k: str(rng.choice(["a", "b", "c", "d"]) + str(rng.randint(0, 99))) for k in PARAMS}
    metrics = {k: round(rng.random(), 6) for k in METRICS}
    return params, metrics


def curve(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [1.0 / math.sqrt(s + 1) + 0.02 * rng.random() for s in range(n)]


def top_by_m00(n: int = RUNS) -> str:
    """The run that sorting by m00 descending puts first."""
    best = max(range(n), key=lambda i: (run_values(i)[1]["m00"], -i))
    return run_name(best)
