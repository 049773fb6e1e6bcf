"""Lanes of the prediction log: online serving's requests queued for little and written as
columns with no Python per row.

A busy endpoint sends the log the same kind of request thousands of times a second: one
route, one model version, a numeric matrix of the same columns, numeric predictions and
scores. A lane checks such a request against its first one (dtypes and shapes), keeps the
bytes of its arrays and its fields in a list each (appends under the queue's lock; the arrays
themselves go free at once), and a flush joins each list into one Arrow column. A request
that is not the lane's (other dtypes or shapes, labels for predictions, a retired lane) is
logged the general way, as a ``LoggedRequest``; both ways give the same table for the same
requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from modelyard.data._predlog import (
    INPUT_PREFIX,
    QUEUE_BYTES,
    QUEUE_FULL,
    REASONS,
    entity_key_column,
    row_numbers,
)

_OVERHEAD = 160  # bytes a queued request costs beyond its arrays: its id, times, list slots


class Budget:
    """What the log's queue holds, shared by the general queue and every lane: requests and
    bytes, their bounds, and the requests dropped because a bound was reached. ``lock`` is
    held for a few instructions at a time."""

    __slots__ = ("bytes", "dropped_by", "items", "lock", "max_bytes", "max_items")

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.lock = threading.Lock()
        self.items = 0
        self.bytes = 0
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.dropped_by: dict[str, int] = dict.fromkeys(REASONS, 0)

    def admit(self, size: int) -> bool:
        """Count one request of ``size`` bytes in, or count it dropped. Call with ``lock`` held."""
        if self.items >= self.max_items:
            self.dropped_by[QUEUE_FULL] += 1
            return False
        if not self.admit_bytes(size):
            return False
        self.items += 1
        return True

    def admit_bytes(self, size: int) -> bool:
        """Count ``size`` bytes in (an item bounded in count elsewhere), or count it dropped."""
        if self.bytes + size > self.max_bytes:
            self.dropped_by[QUEUE_BYTES] += 1
            return False
        self.bytes += size
        return True


class LaneHeader(NamedTuple):
    """What every request of a lane shares."""

    endpoint: str
    route: str
    model: str
    version: str
    shadow: bool
    names: tuple[str, ...]  # the matrix's columns


class Chunk(NamedTuple):
    """A lane's requests taken for writing: a list per field, the arrays as their bytes."""

    header: LaneHeader
    dtypes: tuple[np.dtype[Any], np.dtype[Any], np.dtype[Any] | None]  # matrix, predictions, scores
    request_ids: list[str]
    times: list[float]
    latencies: list[float]
    counts: list[int]  # rows per request
    matrices: list[bytes]
    predictions: list[bytes]
    scores: list[bytes]
    keys: list[list[Any] | None]


def _numeric(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "fiub"


class Lane:
    """The requests of one endpoint, route, model version and role (shadow or not) that come
    with a numeric matrix, waiting for the writer's next flush as a list per field. The lane's
    first request sets its dtypes; a request of other dtypes or shapes is not the lane's."""

    def __init__(self, header: LaneHeader, budget: Budget) -> None:
        self.header = header
        self.budget = budget
        self.retired = False  # taken out of the writer's lanes: ``add`` refuses from then on
        self.dtypes: tuple[Any, Any, Any] | None = None
        self._width = len(header.names)
        self._row_bytes = 8 * (self._width + 2)  # a row's inputs, prediction and score
        self._clear()

    def _clear(self) -> None:
        self.request_ids: list[str] = []
        self.times: list[float] = []
        self.latencies: list[float] = []
        self.counts: list[int] = []
        self.matrices: list[bytes] = []
        self.predictions: list[bytes] = []
        self.scores: list[bytes] = []
        self.keys: list[list[Any] | None] = []
        self.size = 0  # the bytes this lane's requests count for in the budget

    def _first(self, matrix: Any, predictions: Any, scores: Any) -> tuple[Any, Any, Any] | None:
        """The lane's dtypes, taken (under the lock) from its first request of numeric arrays."""
        dtypes = (matrix.dtype, predictions.dtype, None if scores is None else scores.dtype)
        if not _numeric(dtypes[0]) or not _numeric(dtypes[1]) or not (scores is None or _numeric(dtypes[2])):
            return None
        with self.budget.lock:
            if self.dtypes is None:
                self.dtypes = dtypes
            return self.dtypes

    def add(
        self,
        request_id: str,
        timestamp: float,
        latency_ms: float,
        rows: int,
        matrix: Any,
        predictions: Any,
        scores: Any,
        keys: list[Any] | None,
    ) -> bool:
        """Queue one answered request: True when it is queued, or dropped and counted (a full
        queue); False when it is not this lane's (its dtypes or shapes differ, the lane has
        retired) — log it the general way."""
        try:
            dtypes = self.dtypes or self._first(matrix, predictions, scores)
            if dtypes is None:
                return False
            if (
                matrix.dtype is not dtypes[0]
                or predictions.dtype is not dtypes[1]
                or matrix.shape != (rows, self._width)
                or predictions.shape != (rows,)
            ):
                return False
            if scores is None:
                if dtypes[2] is not None:
                    return False
                score_bytes = b""
            elif scores.dtype is not dtypes[2] or scores.shape != (rows,):
                return False
            else:
                score_bytes = scores.tobytes()
            matrix_bytes = matrix.tobytes()  # copies of a few hundred bytes: the arrays go free
            prediction_bytes = predictions.tobytes()
        except AttributeError:  # not an array
            return False
        size = _OVERHEAD + self._row_bytes * rows if keys is None else _OVERHEAD + (self._row_bytes + 64) * rows
        budget = self.budget
        lock = budget.lock
        lock.acquire()
        try:
            if self.retired:
                return False
            # ``budget.admit`` written out (a call costs the hot path ~400 instructions)
            if budget.items < budget.max_items and budget.bytes + size <= budget.max_bytes:
                budget.items += 1
                budget.bytes += size
                self.size += size
                self.request_ids.append(request_id)
                self.times.append(timestamp)
                self.latencies.append(latency_ms)
                self.counts.append(rows)
                self.matrices.append(matrix_bytes)
                self.predictions.append(prediction_bytes)
                self.scores.append(score_bytes)
                self.keys.append(keys)
            else:
                budget.admit(size)  # counts it dropped, by reason
        finally:
            lock.release()
        return True

    def take(self) -> Chunk | None:
        """The queued requests, for writing, and an empty lane; None when nothing was queued,
        and then the lane retires (the writer makes a new one when such a request comes)."""
        budget = self.budget
        with budget.lock:
            if not self.request_ids:
                self.retired = True
                return None
            assert self.dtypes is not None
            chunk = Chunk(
                self.header, self.dtypes, self.request_ids, self.times, self.latencies, self.counts,
                self.matrices, self.predictions, self.scores, self.keys,
            )  # fmt: skip
            budget.items -= len(self.request_ids)
            budget.bytes -= self.size
            self._clear()
        return chunk


def chunk_table(chunk: Chunk) -> pa.Table:
    """A chunk as the log's table — the table ``requests_table`` gives for the same requests —
    built on the joined bytes of its arrays, with no Python per row."""
    header = chunk.header
    matrix_dtype, prediction_dtype, score_dtype = chunk.dtypes
    total = sum(chunk.counts)
    matrix = np.frombuffer(b"".join(chunk.matrices), dtype=matrix_dtype).reshape(total, len(header.names))
    predicted = np.frombuffer(b"".join(chunk.predictions), dtype=prediction_dtype)
    scored = None if score_dtype is None else np.frombuffer(b"".join(chunk.scores), dtype=score_dtype)
    return columns_table(
        header, chunk.request_ids, chunk.times, chunk.latencies, chunk.counts, matrix, predicted, scored, chunk.keys
    )  # fmt: skip


def _constant(value: str, indices: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def columns_table(
    header: LaneHeader,
    request_ids: Sequence[str],
    times: Sequence[float] | np.ndarray,
    latencies: Sequence[float] | np.ndarray,
    counts: Sequence[int],
    matrix: np.ndarray,
    predicted: np.ndarray,
    scored: np.ndarray | None,
    keys: Sequence[list[Any] | None],
) -> pa.Table:
    """The log's table of requests that share ``header``, from a value per request (ids,
    times, latencies, row counts, entity keys) and their rows joined (``matrix`` of
    ``[rows, columns]``; predictions and scores, None for no scores, one a row)."""
    n = len(request_ids)
    single = counts.count(1) == n
    total = n if single else sum(counts)
    repeats = None if single else np.array(counts, dtype=np.int64)

    def each(values: Sequence[Any] | np.ndarray, dtype: Any) -> np.ndarray:  # a value per request -> a value per row
        array = np.array(values, dtype=dtype)
        return array if repeats is None else np.repeat(array, repeats)

    indices = pa.array(np.zeros(total, np.int32))
    columns: dict[str, Any] = {
        "request_id": pa.array(request_ids if single else each(request_ids, object), pa.string()),
        "row": pa.array(np.zeros(total, np.int64) if repeats is None else row_numbers(repeats, total)),
        "timestamp": pa.array((each(times, np.float64) * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC")),
        # the header's text as a dictionary of one value: no copy a row, and the Parquet
        # writer takes the dictionary as it is instead of hashing every row's value
        "endpoint": _constant(header.endpoint, indices),
        "route": _constant(header.route, indices),
        "model": _constant(header.model, indices),
        "version": _constant(header.version, indices),
        "shadow": pa.repeat(pa.scalar(header.shadow, pa.bool_()), total),
        "status": pa.repeat(pa.scalar(200, pa.int16()), total),
        "latency_ms": pa.array(each(latencies, np.float64)),
        "entity_key": entity_key_column(list(keys), list(counts), total),
        "prediction": pa.array(predicted.astype(np.float64, copy=False), from_pandas=True),
        "prediction_label": pa.nulls(total, pa.string()),
        "score": pa.array(
            np.full(total, np.nan) if scored is None else scored.astype(np.float64, copy=False), from_pandas=True
        ),
    }
    for j, name in enumerate(header.names):
        columns[INPUT_PREFIX + name] = pa.array(matrix[:, j])
    return pa.table(columns)


def by_day(times: Sequence[float] | np.ndarray, counts: Sequence[int], table: pa.Table) -> Iterator[tuple[int, pa.Table, int]]:
    """The table of requests at ``times`` of ``counts`` rows each split by UTC day (the log's
    date partitions), as (day, its rows, how many requests they are)."""
    days = (np.array(times, dtype=np.float64) // 86400).astype(np.int64)
    first, last = int(days.min()), int(days.max())
    if first == last:
        yield first, table, len(days)
        return
    row_days = np.repeat(days, np.asarray(counts, dtype=np.int64))
    for day in np.unique(days).tolist():
        yield day, table.filter(pa.array(row_days == day)), int((days == day).sum())
