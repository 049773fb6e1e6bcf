"""Shared, tool-agnostic helpers for the registry workloads.

Imported both by the project's interpreter (workload_modelyard.py) and by the
MLflow virtualenv's interpreter (workload_mlflow.py), so it must not import
either tool. It may import what both interpreters have: numpy, pandas and
scikit-learn (the same versions in both, see the JSON's machine.interpreters).

Everything that defines *what* is measured lives here (sizes, the model, the
50 MB array, the reference read), so the two workload files only differ in the
calls they make to their tool. The generic bits (emit, progress, percentile,
...) are re-used from benchmarks/tracking/_common.py.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_TRACKING_COMMON = Path(__file__).resolve().parent.parent / "tracking" / "_common.py"
_spec = importlib.util.spec_from_file_location("tracking_common", _TRACKING_COMMON)
assert _spec is not None and _spec.loader is not None
T = sys.modules.get("tracking_common") or importlib.util.module_from_spec(_spec)
sys.modules["tracking_common"] = T  # dataclasses need the module registered
_spec.loader.exec_module(T)

emit = T.emit
progress = T.progress
percentile = T.percentile
median = T.median
error_text = T.error_text
scaled = T.scaled

# --------------------------------------------------------------------------
# Sizes (the same for both tools)
# --------------------------------------------------------------------------

MODEL_NAME = "bench"
BIG_NAME = "big"
REGISTER_WARMUP = 1       # untimed registrations before the timed ones
REGISTER_N = 10           # timed registrations per process
LOAD_N = 50               # timed repeated loads after the first one
BIG_FLOATS = 6_553_600    # float64 -> 52,428,800 bytes = 50 MiB
GBC_PARAMS = {"n_estimators": 100, "max_depth": 3, "random_state": 0}
READ_CHUNK = 1 << 20
REFERENCE_FILE = "reference-50MB.bin"
EXPECTED_FILE = "expected.json"


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(workloads: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=workloads)
    p.add_argument("store_dir", help="an empty (brand-new) directory for the store")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every count and the big array's size (smoke runs only; "
                        "results at scale != 1 are not comparable with the reference figures)")
    # loaders: internal role
    p.add_argument("--api", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.store_dir = os.path.abspath(args.store_dir)
    return args


# --------------------------------------------------------------------------
# Data and models
# --------------------------------------------------------------------------


def breast_cancer():
    """(X, y): sklearn's breast-cancer data as a DataFrame and a Series (bundled, no download)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    return data.data, data.target


def fit_gbc():
    """The GradientBoostingClassifier of the brief, fitted; returns (model, X, fit_seconds)."""
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = breast_cancer()
    t0 = time.perf_counter()
    model = GradientBoostingClassifier(**GBC_PARAMS).fit(X, y)
    return model, X, time.perf_counter() - t0


def big_array(scale: float = 1.0):
    import numpy as np

    return np.random.default_rng(0).random(scaled(BIG_FLOATS, scale))


def as_list(pred: Any) -> list[float]:
    """Predictions of any tool (array, Series, DataFrame, list) as a flat list of floats."""
    import numpy as np

    return [float(v) for v in np.asarray(pred, dtype=float).ravel()]


def write_expected(store_dir: str, **values: Any) -> None:
    with open(os.path.join(store_dir, EXPECTED_FILE), "w") as f:
        json.dump(values, f)


def read_expected(store_dir: str) -> dict[str, Any]:
    with open(os.path.join(store_dir, EXPECTED_FILE)) as f:
        return json.load(f)


# --------------------------------------------------------------------------
# The disk reference of load_big
# --------------------------------------------------------------------------


def write_reference(store_dir: str, arr) -> str:
    """A file with the big array's raw bytes, written (and fsynced) next to the store, at
    the same moment as the model: like the model's files, it is in the OS page cache."""
    path = os.path.join(store_dir, REFERENCE_FILE)
    with open(path, "wb") as f:
        f.write(arr.tobytes())
        f.flush()
        os.fsync(f.fileno())
    return path


def read_sha256(path: str) -> tuple[float, int, str]:
    """(seconds, bytes, hexdigest) of reading `path` in 1 MiB chunks into hashlib.sha256."""
    h = hashlib.sha256()
    n = 0
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(READ_CHUNK)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
    return time.perf_counter() - t0, n, h.hexdigest()


def dir_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total


# --------------------------------------------------------------------------
# Fresh-process loaders
# --------------------------------------------------------------------------


def run_fresh(script: str, workload: str, store_dir: str, *extra: str) -> dict[str, Any]:
    """Run `script workload store_dir ...` in a brand-new interpreter (this one's executable,
    the store as working directory) and return its JSON; failures come back as a dict with
    error=True and the stderr tail."""
    cmd = [sys.executable, script, workload, store_dir, *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=store_dir, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    for line in (proc.stderr or "").splitlines():
        if line.startswith("progress: "):
            sys.stderr.write(line + "\n")
    res = T._last_json_line(proc.stdout or "")
    if proc.returncode != 0 or res is None:
        return {"error": True, "exit_code": proc.returncode, "cmd": cmd,
                "stderr_tail": (proc.stderr or "")[-4000:]}
    res["process_wall_s"] = round(wall, 2)
    return res


def flatten(prefix: str, res: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {f"{prefix}{k}": res.get(k) for k in keys}
