"""Request payloads turned into model input, checked against the signature on the way.

Every protocol (native records/columns, MLflow's four formats, Open Inference Protocol
tensors) ends in the same ``Batch``: one NumPy array per signature column. The common case,
all-numeric signatures, takes a fast path (one ``np.array`` over the rows); anything odd
falls back to a column-by-column check whose error names the field, the row and the problem.
"""

from __future__ import annotations

import math
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from modelyard.core.errors import SchemaError
from modelyard.core.signature import DType, InputKind, Signature

_NUMPY: dict[DType, str] = {
    DType.BOOL: "bool",
    DType.INT32: "int32",
    DType.INT64: "int64",
    DType.FLOAT32: "float32",
    DType.FLOAT64: "float64",
}


class Batch:
    """Model input for ``rows`` rows: one array per column, in signature order, and/or the
    same data as one 2-D float array when every column is numeric (columns then made on
    first use)."""

    __slots__ = ("_columns", "matrix", "names", "rows", "tensor")

    def __init__(
        self,
        columns: dict[str, np.ndarray] | None,
        rows: int,
        matrix: np.ndarray | None = None,
        names: list[str] | None = None,
        tensor: np.ndarray | None = None,
    ) -> None:
        self._columns = columns
        self.rows = rows
        self.matrix = matrix
        self.names = names
        self.tensor = tensor  # a model without a known schema: the array as the client sent it

    @property
    def columns(self) -> dict[str, np.ndarray]:
        if self._columns is None:
            assert self.matrix is not None and self.names is not None
            self._columns = {n: self.matrix[:, j] for j, n in enumerate(self.names)}
        return self._columns


def _kind_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _maybe_bools(array: np.ndarray, rows: list[Any]) -> bool:
    """Whether JSON true/false hide in ``rows`` (NumPy folded them into ``array`` as 1 and 0).
    Only the values that are 0 or 1 can be booleans, so in a larger batch only those are looked
    at (all values' types when most are 0/1; about 25 ns a value)."""
    if array.size <= 64:
        return bool in set(map(type, chain.from_iterable(rows)))
    hits = np.flatnonzero((array == 0) | (array == 1))
    if hits.size == 0:
        return False
    if hits.size > array.size // 8:
        return bool in set(map(type, chain.from_iterable(rows)))
    width = array.shape[1]
    return any(type(rows[i // width][i % width]) is bool for i in hits.tolist())


class InputSpec:
    """How to read requests for one model: its columns, their dtypes, whether it takes NaN."""

    def __init__(self, signature: Signature | None, allow_nan: bool) -> None:
        self.signature = signature
        self.allow_nan = allow_nan
        self.names: list[str] = signature.input_names if signature is not None else []
        self.name_set = frozenset(self.names)
        self.name_tuple = tuple(self.names)
        self.dtypes: list[DType] = [c.dtype for c in signature.inputs] if signature else []
        self.optional = frozenset(c.name for c in signature.inputs if c.optional) if signature else frozenset()
        self.numeric = bool(self.names) and all(d.is_numeric or d is DType.BOOL for d in self.dtypes)
        self.all_float64 = bool(self.names) and all(d is DType.FLOAT64 for d in self.dtypes)
        # columns that are not BOOL: JSON true/false is refused there
        self.has_bool_free = any(d is not DType.BOOL for d in self.dtypes)
        self.ndarray = signature is not None and signature.input_kind is InputKind.NDARRAY
        self._getter = itemgetter(*self.names) if len(self.names) > 1 else None

    # -- the layouts requests come in ----------------------------------------------------

    def from_records(self, records: Any, field: str = "records") -> Batch:
        """A list of objects, one per row."""
        if not isinstance(records, list) or not records:
            raise SchemaError(f"'{field}' must be a non-empty list of objects, one per row")
        if self.signature is None:
            return self._unsigned(pd.DataFrame.from_records(records))
        names = self.name_set
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise SchemaError(f"{field}[{i}] must be an object of column -> value, got {_kind_name(record)}")
            if record.keys() != names:
                self._key_error(record.keys(), f"{field}[{i}]")
        if self.numeric:
            getter = self._getter
            rows = [getter(r) for r in records] if getter is not None else [[r[self.names[0]]] for r in records]
            batch = self._numeric_rows(rows)
            if batch is not None:
                return batch
        columns = {name: [r.get(name) for r in records] for name in self.names}
        return self._from_lists(columns, field, len(records))

    def from_columns(self, columns: Any, field: str = "columns") -> Batch:
        """An object of column -> list of values."""
        if not isinstance(columns, dict) or not columns:
            raise SchemaError(f"'{field}' must be an object of column -> list of values")
        lengths = set()
        for name, values in columns.items():
            if not isinstance(values, list):
                raise SchemaError(f"{field}.{name} must be a list of values, got {_kind_name(values)}")
            lengths.add(len(values))
        if len(lengths) != 1:
            raise SchemaError(f"every list in '{field}' must have the same length; got lengths {sorted(lengths)}")
        rows = lengths.pop()
        if rows == 0:
            raise SchemaError(f"'{field}' has no rows")
        if self.signature is None:
            return self._unsigned(pd.DataFrame(columns))
        if columns.keys() != self.name_set:
            self._key_error(columns.keys(), field)
        return self._from_lists({n: columns[n] for n in self.names}, field, rows)

    def from_split(self, names: Any, data: Any, field: str = "dataframe_split") -> Batch:
        """Pandas' ``split`` orientation: column names and rows of values."""
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SchemaError(f"{field}.columns must be a list of column names")
        if not isinstance(data, list) or not data:
            raise SchemaError(f"{field}.data must be a non-empty list of rows")
        if self.signature is None:
            return self._unsigned(pd.DataFrame(data, columns=names))
        if set(names) != self.name_set or len(names) != len(self.names):
            self._key_error(names, f"{field}.columns")
        width = len(names)
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != width:
                raise SchemaError(f"{field}.data[{i}] must be a list of {width} values, one per column")
        if names == self.names and self.numeric:
            batch = self._numeric_rows(data)
            if batch is not None:
                return batch
        index = {n: j for j, n in enumerate(names)}
        columns = {n: [row[index[n]] for row in data] for n in self.names}
        return self._from_lists(columns, f"{field}.data", len(data))

    def from_rows(self, data: Any, field: str = "instances") -> Batch:
        """Rows of values in signature order (a tensor of shape [rows, columns])."""
        if not isinstance(data, list) or not data:
            raise SchemaError(f"'{field}' must be a non-empty list of rows")
        if isinstance(data[0], dict):
            return self.from_records(data, field)
        if self.signature is None:
            return self._unsigned(pd.DataFrame(data))
        if not isinstance(data[0], list):
            if len(self.names) == 1:
                data = [[v] for v in data]
            elif len(data) == len(self.names):
                data = [data]
            else:
                raise SchemaError(
                    f"'{field}' must be a list of rows with {len(self.names)} values each ({self._preview()})"
                )
        width = len(self.names)
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != width:
                raise SchemaError(
                    f"{field}[{i}] must be a list of {width} values in signature order ({self._preview()})"
                )
        return self.from_split(self.names, data, field)

    def from_array(self, array: np.ndarray, field: str) -> Batch:
        """A 2-D array whose columns are the signature's columns, in order."""
        if self.signature is None:
            if array.ndim == 1:
                array = array.reshape(1, -1)
            if array.ndim != 2 or array.shape[0] == 0:
                raise SchemaError(f"{field} has shape {list(array.shape)}; this model takes [rows, columns]")
            # no names known: the model gets the array as sent, never a frame named 0..k-1
            return Batch({f"f{j}": array[:, j] for j in range(array.shape[1])}, array.shape[0], tensor=array)
        if array.ndim == 1:
            array = array.reshape(-1, 1) if len(self.names) == 1 else array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(self.names):
            raise SchemaError(
                f"{field} has shape {list(array.shape)}; this model takes [rows, {len(self.names)}] ({self._preview()})"
            )
        if array.shape[0] == 0:
            raise SchemaError(f"{field} has no rows")
        if array.dtype.kind in "fiub" and self.numeric:
            batch = self._numeric_array(array, field)
            if batch is not None:
                return batch
        columns = {n: array[:, j].tolist() for j, n in enumerate(self.names)}
        return self._from_lists(columns, field, array.shape[0])

    # -- turning a Batch into what the model takes ---------------------------------------

    def model_input(self, batch: Batch) -> Any:
        if self.signature is None:
            return batch.tensor if batch.tensor is not None else pd.DataFrame(batch.columns)
        if self.ndarray:
            if batch.matrix is not None:
                return batch.matrix
            return np.column_stack([batch.columns[n] for n in self.names])
        if batch.matrix is not None:
            return pd.DataFrame(batch.matrix, columns=self.names, copy=False)
        return pd.DataFrame(batch.columns, copy=False)

    # -- internals -------------------------------------------------------------------------

    def _preview(self) -> str:
        shown = ", ".join(self.names[:6])
        return f"columns {shown}{', ...' if len(self.names) > 6 else ''}"

    def _key_error(self, keys: Any, where: str) -> None:
        got = set(keys)
        missing = [n for n in self.names if n not in got and n not in self.optional]
        extra = sorted(str(k) for k in got if k not in self.name_set)
        if missing:
            raise SchemaError(
                f"{where} is missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing[:8]))}{' ...' if len(missing) > 8 else ''}; "
                f"the model takes {len(self.names)} columns ({self._preview()})"
            )
        if extra:
            raise SchemaError(
                f"{where} has unexpected column{'s' if len(extra) > 1 else ''} "
                f"{', '.join(map(repr, extra[:8]))}; the model takes only {self._preview()}"
            )

    def _numeric_rows(self, rows: list[Any]) -> Batch | None:
        """The fast path: rows of plain numbers into one array; None when anything is odd."""
        try:
            array = np.array(rows)
        except (ValueError, TypeError):
            return None
        if array.ndim != 2 or array.dtype.kind not in "fiub":
            return None
        if array.dtype.kind != "b" and self.has_bool_free and _maybe_bools(array, rows):
            return None  # true/false folded into numbers: the slow path refuses them by column
        return self._numeric_array(array, "")

    def _numeric_array(self, array: np.ndarray, field: str) -> Batch | None:
        if array.dtype.kind == "b" and self.has_bool_free:
            return None  # booleans for number columns: refused by column on the slow path
        if array.dtype.kind == "f" and not self.allow_nan and not np.isfinite(array).all():
            return None  # the slow path names the column and row
        if self.all_float64:
            matrix = array.astype(np.float64, copy=False)
            return Batch(None, len(matrix), matrix, self.names)
        if any(d.is_integer for d in self.dtypes) and array.dtype.kind == "f":
            return None  # whole-number check per column on the slow path
        columns = {
            n: array[:, j].astype(_NUMPY[d], copy=False)
            for j, (n, d) in enumerate(zip(self.names, self.dtypes, strict=True))
        }
        matrix = array.astype(np.float64, copy=False)
        return Batch(columns, len(array), matrix)

    def _from_lists(self, lists: dict[str, list[Any]], field: str, rows: int) -> Batch:
        columns: dict[str, np.ndarray] = {}
        for name, dtype in zip(self.names, self.dtypes, strict=True):
            if name not in lists:
                continue
            columns[name] = self._column(name, dtype, lists[name], field)
        matrix = None
        if self.numeric and len(columns) == len(self.names):
            matrix = np.column_stack([columns[n] for n in self.names]).astype(np.float64, copy=False)
        return Batch(columns, rows, matrix)

    def _column(self, name: str, dtype: DType, values: list[Any], field: str) -> np.ndarray:
        where = f"{field}: column {name!r}"
        if dtype.is_numeric or dtype is DType.BOOL:
            out = []
            for i, value in enumerate(values):
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    if not self.allow_nan:
                        raise SchemaError(
                            f"{where} is null/NaN at row {i}; this model does not accept missing values"
                        )
                    out.append(math.nan)
                    continue
                if dtype is DType.BOOL:
                    if not isinstance(value, bool):
                        raise SchemaError(f"{where} must be a boolean, got {_kind_name(value)} at row {i}")
                elif not isinstance(value, int | float) or isinstance(value, bool):
                    raise SchemaError(f"{where} must be {dtype.value}, got {_kind_name(value)} at row {i}")
                elif isinstance(value, float) and math.isinf(value) and not self.allow_nan:
                    raise SchemaError(f"{where} is infinite at row {i}")
                elif dtype.is_integer and isinstance(value, float) and not value.is_integer():
                    raise SchemaError(f"{where} must be a whole number ({dtype.value}), got a fraction at row {i}")
                out.append(value)
            has_nan = any(isinstance(v, float) and math.isnan(v) for v in out)
            target = "float64" if has_nan and (dtype.is_integer or dtype is DType.BOOL) else _NUMPY[dtype]
            return np.asarray(out, dtype=target)
        if dtype is DType.STRING:
            for i, value in enumerate(values):
                if value is None:
                    if not self.allow_nan:
                        raise SchemaError(f"{where} is null at row {i}; this model does not accept missing values")
                elif not isinstance(value, str):
                    raise SchemaError(f"{where} must be a string, got {_kind_name(value)} at row {i}")
            return np.asarray(values, dtype=object)
        # datetimes: ISO-8601 strings
        try:
            parsed = pd.to_datetime(pd.Series(values), utc=False, format="ISO8601")
        except (ValueError, TypeError):
            raise SchemaError(f"{where} must hold ISO-8601 timestamps") from None
        return np.asarray(parsed.to_numpy())

    def _unsigned(self, frame: pd.DataFrame) -> Batch:
        if len(frame) == 0:
            raise SchemaError("the request has no rows")
        return Batch({str(c): frame[c].to_numpy() for c in frame.columns}, len(frame))
