"""Signatures inferred from data, and model input checked against them."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import NoSignatureWarning, SchemaError, ValidationError
from modelyard.core.signature import ColumnSpec, DType, InputKind, Signature, positional_names


def dtype_of(series: pd.Series) -> DType:
    """The signature dtype of a pandas column."""
    kind = series.dtype
    if pd.api.types.is_bool_dtype(kind):
        return DType.BOOL
    if pd.api.types.is_integer_dtype(kind):
        return DType.INT32 if kind.itemsize <= 4 else DType.INT64
    if pd.api.types.is_float_dtype(kind):
        return DType.FLOAT32 if kind.itemsize <= 4 else DType.FLOAT64
    if pd.api.types.is_datetime64_any_dtype(kind):
        return DType.DATETIME
    if (
        pd.api.types.is_string_dtype(kind)
        or isinstance(kind, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(kind)
    ):
        return DType.STRING
    raise ValidationError(
        f"column {series.name!r} has dtype {kind}, which a signature cannot describe"
    )


def as_frame(data: Any, names: list[str] | None = None) -> tuple[pd.DataFrame, InputKind]:
    """Model input as a DataFrame, and whether it came as one or as an array."""
    if isinstance(data, pd.DataFrame):
        return data, InputKind.DATAFRAME
    if isinstance(data, pd.Series):
        return data.to_frame().T if names and len(
            names
        ) > 1 else data.to_frame(), InputKind.DATAFRAME
    if isinstance(data, dict):
        values = {
            k: (v if isinstance(v, list | tuple | np.ndarray) else [v]) for k, v in data.items()
        }
        return pd.DataFrame(values), InputKind.DATAFRAME
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return pd.DataFrame.from_records(data), InputKind.DATAFRAME
    array = np.asarray(data)
    if array.ndim == 1:
        array = (
            array.reshape(1, -1) if names and len(names) == array.shape[0] else array.reshape(-1, 1)
        )
    if array.ndim != 2:
        raise SchemaError(f"model input has {array.ndim} dimensions; give rows of columns (2-D)")
    columns = (
        names if names and len(names) == array.shape[1] else positional_names(array.shape[1])
    )
    return pd.DataFrame(array, columns=columns), InputKind.NDARRAY


def _columns(frame: pd.DataFrame) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(str(name), dtype_of(frame[name])) for name in frame.columns)


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """The signature of training data (and, optionally, of the model's predictions on it)."""
    frame, kind = as_frame(model_input)
    outputs: tuple[ColumnSpec, ...] = ()
    if model_output is not None:
        out = model_output
        if isinstance(out, pd.Series):
            out = out.to_frame(name=str(out.name) if out.name is not None else "prediction")
        if not isinstance(out, pd.DataFrame):
            array = np.asarray(out)
            out = pd.DataFrame(array.reshape(len(array), -1))
            out.columns = (
                ["prediction"]
                if out.shape[1] == 1
                else [f"prediction_{i}" for i in range(out.shape[1])]
            )
        outputs = _columns(out)
    return Signature(inputs=_columns(frame), outputs=outputs, input_kind=kind)


def _compatible(expected: DType, series: pd.Series) -> bool:
    try:
        got = dtype_of(series)
    except ValidationError:
        return False
    if got == expected:
        return True
    if expected.is_numeric and got.is_numeric:
        if expected.is_integer and not got.is_integer:
            values = series.dropna().to_numpy()
            return bool(np.all(np.equal(np.mod(values, 1), 0)))
        return True
    return expected.is_numeric and got is DType.BOOL


def _preview(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{f', ... ({len(names)} in all)' if len(names) > limit else ''}]"


def enforce(signature: Signature, data: Any) -> pd.DataFrame:
    """Check ``data`` against the signature; return it as a DataFrame in signature order.

    Missing columns, extra columns and values of the wrong type are refused with a
    SchemaError that names the column. Compatible numbers are converted (int to float).
    """
    names = signature.input_names
    frame, _ = as_frame(data, names)
    if len(frame) == 0:
        raise SchemaError("model input has no rows")
    present = [str(c) for c in frame.columns]
    missing = [c.name for c in signature.inputs if c.name not in present and not c.optional]
    if missing:
        raise SchemaError(
            f"model input is missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
            f"the signature expects {_preview(names)}"
        )
    extra = [c for c in present if c not in names]
    if extra:
        raise SchemaError(
            f"model input has unexpected column{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}; "
            f"the signature expects only {_preview(names)}"
        )
    out: dict[str, Any] = {}
    for spec in signature.inputs:
        if spec.name not in present:
            continue
        series = frame[spec.name]
        if not _compatible(spec.dtype, series):
            sample = series.dropna().head(1).tolist()
            raise SchemaError(
                f"column {spec.name!r} must be {spec.dtype.value}, got {series.dtype}"
                + (f" (e.g. {str(sample[0])[:30]!r})" if sample else "")
            )
        if spec.dtype.is_numeric and series.dtype != spec.dtype.value:
            series = series.astype(
                "float64" if spec.dtype.is_integer and series.isna().any() else spec.dtype.value
            )
        out[spec.name] = series
    return pd.DataFrame(out, index=frame.index)


def validate_example(signature: Signature, example: Any) -> None:
    """Refuse an input example that does not satisfy its signature."""
    try:
        enforce(signature, example)
    except SchemaError as error:
        raise ValidationError(f"the input example does not match the signature: {error}") from error


def warn_no_signature(where: str, model: Any = None) -> None:
    """Say that ``where`` (a URI) holds a model without a signature, and what to pass."""
    what = f"the {type(model).__name__} model" if model is not None else "the model"
    warnings.warn(
        f"{where}: {what} has no signature: it names none of its input columns (it was not "
        "fitted on a DataFrame, or does not record what it was fitted on), so its input is not "
        "checked and serving cannot describe it; pass input_example= (a few rows of input) or "
        "signature= (modelyard.infer_signature(X, model.predict(X)))",
        NoSignatureWarning,
        stacklevel=3,
    )
