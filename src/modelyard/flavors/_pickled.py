"""Pickle-based saving shared by flavors whose models pickle faithfully."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from modelyard.flavors import _pickle_buffers
from modelyard.flavors._manifest import BundleFolder

MODEL_FILE = "model.pkl"


def dump(model: Any, folder: Path) -> None:
    with open(folder / MODEL_FILE, "wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load(bundle: BundleFolder, config: dict[str, Any]) -> Any:
    # bundle.read returns only bytes whose sha256 matched the registered digest as they were read
    return _pickle_buffers.loads(bundle.read(config.get("model_file", MODEL_FILE), "model_file"))


def importance_from(raw: Any, names: list[str]) -> dict[str, float] | None:
    """Global importance from ``feature_importances_`` or linear ``coef_``, named by input column."""
    import numpy as np

    estimator = raw
    steps = getattr(raw, "steps", None)
    if steps:
        estimator = steps[-1][1]
    values = getattr(estimator, "feature_importances_", None)
    if values is None:
        coef = getattr(estimator, "coef_", None)
        if coef is None:
            return None
        magnitude = np.abs(np.asarray(coef, dtype=float))
        values = magnitude.mean(axis=0) if magnitude.ndim > 1 else magnitude
    values = np.asarray(values, dtype=float).ravel()
    if len(values) != len(names):
        names = [f"feature_{i}" for i in range(len(values))]
    total = float(values.sum()) or 1.0
    return {
        n: round(float(v) / total, 6)
        for n, v in sorted(zip(names, values, strict=True), key=lambda x: -x[1])
    }
