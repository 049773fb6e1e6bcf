"""Shared, tool-agnostic helpers for the monitoring (drift) benchmark.

Needs only the standard library, numpy, pandas and pyarrow: it is imported by the
project's interpreter (workload_modelyard.py, workload_scipy.py, run.py) and by the
Evidently virtualenv's interpreter (workload_evidently.py), so it must not import either tool.

Everything that defines *what* is measured lives here: the columns, the known truth
(which columns drift and how), the data files (written once as Parquet and read by every
tool), and the measurement helpers (timer, RSS).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------
# Data layout and the known truth
# --------------------------------------------------------------------------

NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
COLUMNS = NUMERIC + CATEGORICAL
LABELS = ["a", "b", "c", "d", "e"]
P_REF = np.array([0.30, 0.25, 0.20, 0.15, 0.10])
# Subtle change: 4 points of mass moved from "a" to "e" -> Jensen-Shannon distance
# 0.059 (base 2) / 0.049 (natural log) from P_REF; see js_distances().
P_SUBTLE = np.array([0.26, 0.25, 0.20, 0.15, 0.14])
# Larger change: uniform -> JS distance 0.155 (base 2) / 0.129 (natural log).
P_LARGE = np.array([0.20, 0.20, 0.20, 0.20, 0.20])

SHIFT_SD = 0.1    # mean shift in reference standard deviations
SCALE = 1.2       # standard-deviation multiplier

TRUTH = {
    "num_00": "numeric_shift",
    "num_01": "numeric_shift",
    "num_02": "numeric_scale",
    "cat_0": "categorical_subtle",
    "cat_1": "categorical_large",
}
UNCHANGED = [c for c in COLUMNS if c not in TRUTH]
UNCHANGED_NUMERIC = [c for c in UNCHANGED if c in NUMERIC]
UNCHANGED_CATEGORICAL = [c for c in UNCHANGED if c in CATEGORICAL]

# Per-column means/sds of the reference distribution (fixed, so the columns differ a bit).
_MEANS = np.linspace(-2.0, 3.0, len(NUMERIC))
_SDS = np.linspace(0.5, 4.0, len(NUMERIC))


def js_distances() -> dict[str, float]:
    from scipy.spatial.distance import jensenshannon  # scipy is in both interpreters

    return {
        "subtle_base2": float(jensenshannon(P_REF, P_SUBTLE, base=2)),
        "subtle_base_e": float(jensenshannon(P_REF, P_SUBTLE)),
        "large_base2": float(jensenshannon(P_REF, P_LARGE, base=2)),
        "large_base_e": float(jensenshannon(P_REF, P_LARGE)),
    }


def make_frame(n: int, rng: np.random.Generator, drifted: bool) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        mu, sd = _MEANS[i], _SDS[i]
        kind = TRUTH.get(name) if drifted else None
        if kind == "numeric_shift":
            mu = mu + SHIFT_SD * sd
        elif kind == "numeric_scale":
            sd = sd * SCALE
        data[name] = rng.normal(mu, sd, n)
    labels = np.array(LABELS, dtype=object)
    for name in CATEGORICAL:
        kind = TRUTH.get(name) if drifted else None
        p = {"categorical_subtle": P_SUBTLE, "categorical_large": P_LARGE}.get(kind, P_REF)
        data[name] = labels[rng.choice(len(LABELS), size=n, p=p)]
    return pd.DataFrame(data)


def data_paths(data_dir: str | Path, n: int, seed: int, scenario: str) -> tuple[Path, Path]:
    d = Path(data_dir) / f"n{n}"
    return d / f"{scenario}-s{seed}-reference.parquet", d / f"{scenario}-s{seed}-current.parquet"


def ensure_data(data_dir: str | Path, n: int, seed: int, scenario: str) -> tuple[Path, Path]:
    """Write reference and current for (n, seed, scenario) once; reuse afterwards.

    scenario "drift": current has the known drifted columns; "null": current is a fresh draw
    of the reference distribution in every column.
    """
    ref_path, cur_path = data_paths(data_dir, n, seed, scenario)
    if ref_path.exists() and cur_path.exists():
        return ref_path, cur_path
    ref_path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, n, 0 if scenario == "drift" else 1])
    for path, drifted in ((ref_path, False), (cur_path, scenario == "drift")):
        frame = make_frame(n, rng, drifted)
        tmp = path.with_name(path.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        del frame
    return ref_path, cur_path


def load(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path)


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float | None:
    v = _status_kib("VmRSS")
    return round(v / 1024, 1) if v is not None else None


def hwm_mib() -> float | None:
    v = _status_kib("VmHWM")
    return round(v / 1024, 1) if v is not None else None


def reset_hwm() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def maxrss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Phase:
    """Time a block and record the peak RSS inside it (HWM reset at the start)."""

    def __enter__(self) -> Phase:
        gc.collect()
        self.rss_before = rss_mib()
        self.hwm_reset = reset_hwm()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.peak = hwm_mib() if self.hwm_reset else None

    def result(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "rss_before_mib": self.rss_before,
            "phase_peak_rss_mib": self.peak,
            "phase_extra_rss_mib": round(self.peak - self.rss_before, 1) if self.peak and self.rss_before else None,
        }


def progress(msg: str) -> None:
    print(f"progress: {msg}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    # process peak RSS over the whole life of the process (loading included)
    result.setdefault("process_peak_rss_mib", maxrss_mib())
    result["python"] = sys.version.split()[0]
    print(json.dumps(result), flush=True)
