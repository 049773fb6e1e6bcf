"""Dataset versions from in-memory data: content hash, schema and a statistical profile."""

from __future__ import annotations

from typing import Any

from modelyard.core import validation as v
from modelyard.core.entities import DatasetVersion
from modelyard.core.errors import ValidationError
from modelyard.core.hashing import sha256_bytes
from modelyard.data._reference import reference

QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
TOP_CATEGORIES = 20
SAMPLE_ROWS = 10


def _digest(frame: Any) -> str:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sha256_bytes(sink.getvalue().to_pybytes())


def profile(frame: Any) -> dict[str, Any]:
    """Per column: null rate, and quantiles/mean/std for numbers or top frequencies for the rest."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        stats: dict[str, Any] = {"null_rate": float(series.isna().mean()) if len(series) else 0.0}
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            counts = series.astype("string").value_counts(normalize=True, dropna=True)
            stats["kind"] = "categorical"
            stats["distinct"] = int(series.nunique(dropna=True))
            stats["frequencies"] = {
                str(k): float(f) for k, f in counts.head(TOP_CATEGORIES).items()
            }
        else:
            numeric = series.dropna().astype("float64")
            stats["kind"] = "numeric"
            if len(numeric):
                stats["mean"] = float(numeric.mean())
                stats["std"] = float(numeric.std(ddof=0))
                stats["quantiles"] = {
                    str(q): float(val) for q, val in numeric.quantile(list(QUANTILES)).items()
                }
        columns[str(name)] = stats
    out: dict[str, Any] = {"num_rows": len(frame), "columns": columns}
    # what drift monitoring compares production data against: quantile histograms and
    # category counts per column, and a bounded sample of rows for people to look at
    out["reference"] = reference(frame)
    out["sample"] = [
        {str(k): _plain(v) for k, v in row.items()} for row in frame.head(SAMPLE_ROWS).to_dict(orient="records")
    ]
    return out


def _plain(value: Any) -> Any:
    """A JSON-ready cell: numbers, text and booleans as they are, missing as None, else text."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)  # NumPy scalars
    if callable(item):
        got = item()
        if isinstance(got, bool | int | float | str):
            return None if isinstance(got, float) and math.isnan(got) else got
    return str(value)


def from_pandas(
    df: Any,
    *,
    name: str | None = None,
    source: str | None = None,
    targets: str | None = None,
) -> DatasetVersion:
    """A dataset version for a DataFrame: ``log_input(from_pandas(df, name="train"))``.

    The digest is the sha256 of the frame's Arrow serialization, so the same data gives
    the same version wherever it is computed.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"from_pandas needs a pandas DataFrame, got {type(df).__name__}")
    if targets is not None and targets not in df.columns:
        raise ValidationError(
            f"targets column {targets!r} is not among the columns {list(df.columns)[:20]}"
        )
    digest = _digest(df)
    schema = {str(c): str(t) for c, t in df.dtypes.items()}
    prof = profile(df)
    if targets is not None:
        prof["targets"] = targets
    return DatasetVersion(
        name=v.check_name(name or f"dataset-{digest[:8]}", "dataset name"),
        digest=digest,
        source_type="pandas" if source is None else "uri",
        source=source or "<in-memory DataFrame>",
        num_rows=len(df),
        schema=schema,
        profile=prof,
    )


def from_numpy(
    features: Any,
    *,
    targets: Any = None,
    name: str | None = None,
    source: str | None = None,
    feature_names: list[str] | None = None,
) -> DatasetVersion:
    """A dataset version for an array of features (and optional targets)."""
    import numpy as np
    import pandas as pd

    array = np.asarray(features)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValidationError(f"from_numpy needs a 1-D or 2-D array, got {array.ndim} dimensions")
    columns = feature_names or [f"f{i}" for i in range(array.shape[1])]
    if len(columns) != array.shape[1]:
        raise ValidationError(
            f"feature_names has {len(columns)} names for {array.shape[1]} columns"
        )
    frame = pd.DataFrame(array, columns=columns)
    target_name = None
    if targets is not None:
        target_name = "target"
        frame[target_name] = np.asarray(targets)
    return from_pandas(frame, name=name, source=source, targets=target_name)
