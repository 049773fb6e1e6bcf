"""The reference side of drift detection: per column, a histogram over the reference's own
quantiles (numbers) or category counts (everything else), small enough to store with a
dataset version and exact enough to test against (the counts are exact for those bins).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BINS = 100  # quantile bins per numeric column: KS is resolved to about 1% of the mass
MAX_CATEGORIES = 200


def is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def numeric_reference(values: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """Histogram of ``values`` (NaN dropped) on edges at its own quantiles."""
    finite = values[np.isfinite(values)]
    out: dict[str, Any] = {"kind": "numeric", "count": int(finite.size), "nulls": int(values.size - finite.size)}
    if finite.size == 0:
        out.update(edges=[], counts=[])
        return out
    distinct = np.unique(finite)
    if distinct.size <= bins:  # few values (counts, flags): one bin per value
        edges = np.concatenate([distinct[:1], (distinct[:-1] + distinct[1:]) / 2, distinct[-1:]])
    else:
        edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)))
    # counts over the interior edges: bin i holds (edges[i], edges[i+1]], open at both ends
    counts = np.bincount(np.searchsorted(edges[1:-1], finite, side="left"), minlength=max(len(edges) - 1, 1))
    out.update(
        edges=edges.tolist(),
        counts=counts.tolist(),
        mean=float(finite.mean()),
        std=float(finite.std()),
        min=float(edges[0]),
        max=float(edges[-1]),
    )
    return out


def categorical_reference(series: pd.Series, limit: int = MAX_CATEGORIES) -> dict[str, Any]:
    text = series.dropna().astype(str)
    counts = text.value_counts()
    top = counts.head(limit)
    return {
        "kind": "categorical",
        "count": int(text.size),
        "nulls": int(series.size - text.size),
        "categories": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.iloc[limit:].sum()) if len(counts) > limit else 0,
    }


def reference(frame: pd.DataFrame, bins: int = BINS) -> dict[str, dict[str, Any]]:
    """The drift reference of every column of ``frame``."""
    out: dict[str, dict[str, Any]] = {}
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            present = series.dropna()
            out[str(name)] = {
                "kind": "datetime",
                "count": int(present.size),
                "nulls": int(series.size - present.size),
                "min": str(present.min()) if present.size else None,
                "max": str(present.max()) if present.size else None,
            }
        elif is_numeric(series):
            out[str(name)] = numeric_reference(series.to_numpy(dtype="float64", na_value=np.nan), bins)
        else:
            out[str(name)] = categorical_reference(series)
    return out
