"""What the online stores hold: entity keys (see ``_entity_keys``) with JSON payloads of
feature values and their event time, encoded column-wise from the Arrow batches that
materialization reads.

``FORMAT`` is the layout version of both online stores. Version 1 (modelyard 0.1) keyed rows
by ``"|".join(str(value))``, which let composite keys collide; version 2 keys rows as
``_entity_keys`` says and keeps each view's rows in generations switched atomically. A store
still holding version-1 rows is reported (``legacy_error``), never read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson

from modelyard.core.errors import InvalidStateError, ValidationError
from modelyard.core.signature import DType
from modelyard.features._entity_keys import key_part

FORMAT = 2
Row = tuple[str, dict[str, Any], int]  # entity key, feature values, event time (ms)
PAYLOAD = "__payload"  # a batch column of payloads already encoded (by DuckDB's to_json)
Encoded = tuple[Sequence[str], Sequence[int], Sequence[bytes]]  # keys, event times (ms), payloads


def legacy_error(uri: str, project: str, view: str) -> InvalidStateError:
    return InvalidStateError(
        f"online store {uri} holds feature view {view!r} (project {project!r}) in the layout of an "
        f"older modelyard (format 1), whose composite keys could collide; it is not read. "
        f"Materialize the view again (modelyard features materialize START END) to rewrite it "
        f"in format {FORMAT}"
    )


def dumps(values: dict[str, Any]) -> bytes:
    """``values`` as JSON, in a bytes object of its own size (see ``_fit``)."""
    return _fit(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS))


def _fit(document: bytes) -> bytes:
    """A copy of ``document`` that occupies its length: orjson hands each document back in the
    buffer it wrote it to (4 KiB at least), so 100,000 kept payloads of 40 bytes held 400 MB
    (and took 15x longer to allocate than to copy)."""
    return memoryview(document).tobytes()


def clean(value: Any) -> Any:
    """A value as stored: NaN as null, datetimes as ISO 8601 text."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_rows(rows: Sequence[Row]) -> Encoded:
    """``(key, values, event ms)`` rows as an ``Encoded`` batch."""
    return [r[0] for r in rows], [r[2] for r in rows], [dumps(r[1]) for r in rows]


def _key_column(column: Any) -> Any:
    """One join-key column (Arrow) as key parts (Arrow strings), column-wise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if column.null_count == 0 and (
        pa.types.is_integer(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
    ):
        tag = "i" if pa.types.is_integer(kind) else "s"
        text = pc.cast(column, pa.string())
        length = pc.cast(pc.binary_length(text), pa.string())
        return pc.binary_join_element_wise(tag, length, ":", text, "")
    parts = []
    for value in column.to_pylist():  # anything else: value by value, refusing what no lookup can match
        dtype = DType.STRING if isinstance(value, str) else DType.INT64
        part = key_part(value, dtype)
        if part is None:
            raise ValidationError(
                f"a join-key column of type {kind} holds a value that is not an integer or a string"
            )
        parts.append(part)
    return pa.array(parts, pa.string())


def _identity(order: Any) -> bool:
    """Whether the permutation ``order`` (Arrow indices) leaves every row in place."""
    import numpy as np

    return bool(np.array_equal(order.to_numpy(), np.arange(len(order))))


def encode_batch(batch: Any, n_keys: int, names: Sequence[str]) -> Encoded:
    """An Arrow record batch of (join keys..., event ms, features... or ``PAYLOAD``) as
    online rows, sorted by key.

    Column-wise: the key parts are built by Arrow (``_key_column``) and the rows sorted by key,
    so that the store's B-tree is written in order (about 2x faster); the feature columns are
    turned into Python lists once (unless the payloads come encoded, in ``PAYLOAD``), and each
    payload is one ``orjson`` call (which writes NaN and infinities as null, as ``clean`` does
    for NaN). Only columns whose values ``clean`` could change (dates and times) go value by value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [_key_column(batch.column(i)) for i in range(n_keys)]
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "")
    order = pc.sort_indices(joined)
    if not _identity(order):  # materialization hands the rows over sorted: nothing to move
        batch = batch.take(order)
        joined = joined.take(order)
    keys: list[str] = joined.to_pylist()
    stamps: list[int] = batch.column(n_keys).cast(pa.int64()).to_pylist()
    if batch.schema.names[n_keys + 1 :] == [PAYLOAD]:
        encoded: list[bytes] = batch.column(n_keys + 1).to_pylist()
        return keys, stamps, encoded
    columns = []
    for j in range(len(names)):
        column = batch.column(n_keys + 1 + j)
        kind = column.type
        if (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
        ):
            columns.append(column.to_pylist())
        else:
            columns.append([clean(v) for v in column.to_pylist()])
    dumper: Callable[..., bytes] = orjson.dumps
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    payloads = [
        _fit(dumper(dict(zip(names, values, strict=True)), option=option))
        for values in zip(*columns, strict=True)
    ]
    if not names:
        payloads = [b"{}"] * len(keys)
    return keys, stamps, payloads
