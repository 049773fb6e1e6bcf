"""Signatures read from a fitted model itself, for models saved without an input example.

A model fitted on a DataFrame remembers its column names (scikit-learn's
``feature_names_in_``, LightGBM's ``feature_name()``, XGBoost's ``feature_names``); one fitted
on a bare array remembers only how many columns it takes (``n_features_in_``). The first gives
a signature by name; the second a *positional* one: ``input_kind`` ``ndarray`` and inputs
named ``f0 .. f{k-1}``, so a ``[N, k]`` tensor maps onto them in signature order (and the model
receives a bare array, as it was fitted).

Dtypes come from the model where it knows them (XGBoost's ``feature_types``, the categories
of a Pipeline's encoders, an imputer's statistics) and are float64 otherwise, the type
scikit-learn turns numeric input into. Columns a ColumnTransformer drops are optional.
Outputs follow the estimator: a classifier predicts one of its ``classes_``, a regressor a
number (float64; float32 for XGBoost). Everything here only reads attributes; nothing is imported or predicted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.signature import ColumnSpec, DType, InputKind, Signature, positional_names

_INFERRED_DTYPES = {
    "string": DType.STRING,
    "unicode": DType.STRING,
    "bytes": DType.STRING,
    "integer": DType.INT64,
    "floating": DType.FLOAT64,
    "mixed-integer-float": DType.FLOAT64,
    "decimal": DType.FLOAT64,
    "boolean": DType.BOOL,
    "datetime64": DType.DATETIME,
    "datetime": DType.DATETIME,
}


def signature_from(
    names: Sequence[str] | None,
    count: int | None,
    *,
    dtypes: Mapping[int, DType] | None = None,
    optional: Sequence[int] = (),
    outputs: tuple[ColumnSpec, ...] = (),
) -> Signature | None:
    """A signature by ``names`` (fitted on a DataFrame), else positional over ``count``
    columns (fitted on an array); None when the model knows neither."""
    if names is not None and len(names) > 0:
        columns, kind = [str(n) for n in names], InputKind.DATAFRAME
    elif count is not None and count > 0:
        columns, kind = positional_names(count), InputKind.NDARRAY
    else:
        return None
    known = dtypes or {}
    skip = set(optional)
    inputs = tuple(
        ColumnSpec(name, known.get(i, DType.FLOAT64), optional=i in skip)
        for i, name in enumerate(columns)
    )
    return Signature(inputs=inputs, outputs=outputs, input_kind=kind)


def dtype_of_values(values: Any) -> DType | None:
    """The signature dtype of a set of values (an encoder's categories, say); None if mixed."""
    array = np.asarray(values)
    if array.size == 0:
        return None
    return _INFERRED_DTYPES.get(pd.api.types.infer_dtype(array, skipna=True))


def prediction_output(estimator: Any, kind: str | None, numeric: DType) -> tuple[ColumnSpec, ...]:
    """The output column of a single-output ``classifier`` (the dtype of its ``classes_``) or
    ``regressor`` (``numeric``); nothing for other kinds, or several outputs."""
    if kind == "regressor":
        return (ColumnSpec("prediction", numeric),)
    classes = getattr(estimator, "classes_", None)
    if kind != "classifier" or classes is None or isinstance(classes, list):
        return ()
    dtype = dtype_of_values(classes)
    return () if dtype is None else (ColumnSpec("prediction", dtype),)


# -- scikit-learn ------------------------------------------------------------------------


def _first_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    if not steps:
        return estimator
    for _, step in steps:
        if step is not None and step != "passthrough":
            return _first_step(step)
    return estimator


def _step_dtypes(step: Any, width: int) -> dict[int, DType]:
    """Dtypes of the ``width`` columns that ``step`` (a fitted transformer or estimator) reads."""
    step = _first_step(step)
    categories = getattr(step, "categories_", None)
    if isinstance(categories, list) and len(categories) == width:  # OneHot/Ordinal/Target encoders
        found = {i: dtype_of_values(c) for i, c in enumerate(categories)}
        return {i: d for i, d in found.items() if d is not None}
    statistics = getattr(step, "statistics_", None)  # SimpleImputer
    if statistics is not None and len(statistics) == width:
        found = {i: dtype_of_values([s]) for i, s in enumerate(statistics)}
        return {i: d for i, d in found.items() if d is not None}
    return {}


def _column_indices(columns: Any, names: list[str] | None, count: int) -> list[int]:
    if isinstance(columns, slice):
        return list(range(count))[columns]
    picked = list(np.atleast_1d(np.asarray(columns)))
    if picked and isinstance(picked[0], np.bool_ | bool):
        return [i for i, keep in enumerate(picked) if keep]
    if names is not None and picked and isinstance(picked[0], str):
        return [names.index(str(c)) for c in picked if str(c) in names]
    return [int(c) for c in picked]


def _transformer_dtypes(
    transformer: Any, names: list[str] | None, count: int
) -> tuple[dict[int, DType], list[int]]:
    """(column index -> dtype, dropped column indices) of a fitted ColumnTransformer."""
    dtypes: dict[int, DType] = {}
    dropped: list[int] = []
    for _, step, columns in transformer.transformers_:
        indices = _column_indices(columns, names, count)
        if isinstance(step, str):
            if step == "drop":
                dropped.extend(indices)
            continue
        for position, dtype in _step_dtypes(step, len(indices)).items():
            dtypes[indices[position]] = dtype
    return dtypes, dropped


def sklearn_signature(estimator: Any, kind: str | None) -> Signature | None:
    """The signature a fitted scikit-learn estimator or Pipeline declares by itself; ``kind``
    is ``classifier``, ``regressor`` or None (what its outputs are)."""
    names_in = getattr(estimator, "feature_names_in_", None)
    names = None if names_in is None else [str(n) for n in names_in]
    count = getattr(estimator, "n_features_in_", None)
    if names is None and not isinstance(count, int):
        return None
    width = len(names) if names is not None else int(count or 0)
    first = _first_step(estimator)
    dtypes: dict[int, DType] = {}
    dropped: list[int] = []
    if hasattr(first, "transformers_"):
        dtypes, dropped = _transformer_dtypes(first, names, width)
    elif first is not estimator:
        dtypes = _step_dtypes(first, width)
    return signature_from(
        names,
        width,
        dtypes=dtypes,
        optional=dropped,
        outputs=prediction_output(estimator, kind, DType.FLOAT64),
    )
