"""Packed requests of the prediction log: online serving's single-row requests queued as one
byte string each.

A lane (``_predlog_lanes.py``) checks each request's arrays and copies them into three lists
under a lock; that Python work on the response path cost the ONNX route ~9% of its throughput
(``benchmarks/serving/perf/log_cost.py``). Here the response path checks a few attributes,
packs the row's inputs, prediction and score into one ``bytes`` and appends one tuple — the
lane header's fields (a plain tuple made once per route and model version), the request id,
time and latency, the packed bytes, the three dtypes, the entity keys — to a list, with no
lock (a list's ``append`` is atomic under the GIL). The tuple holds one new object besides its
id and times, and nothing the garbage collector walks. The flush checks the dtypes and lengths
of a group at once (in C), reads the joined bytes as one record array and builds the columns;
a group of mixed dtypes is decoded request by request and written the general way: the same
table either way.

Only single-row requests with one prediction, at most one score, no Python objects in their
arrays and a matrix of at most ``MAX_MATRIX_BYTES`` come here, so a queued request holds at
most ``PACKED_BYTES``; ``Packed`` takes at most ``capacity`` of them between two flushes, and a
request that finds it full goes to its lane, which counts it against the queue's bounds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.data._predlog import LoggedRequest
from modelyard.data._predlog_lanes import LaneHeader, columns_table

MAX_MATRIX_BYTES = 4096  # a row of up to 512 float64 inputs
PACKED_BYTES = MAX_MATRIX_BYTES + 512  # and its prediction, score, id, key and tuple, at most
ONE = (1,)  # the shape of a single row's predictions and scores

# a queued request: (a LaneHeader's fields as a plain tuple, request_id, timestamp, latency_ms,
# the row's bytes: inputs, prediction, score; the inputs' dtype, the prediction's, the score's
# or None, the entity keys)


class Packed(list[tuple[Any, ...]]):
    """The queued requests (a list: the response path appends to it directly) and how many it
    may hold between two flushes."""

    __slots__ = ("capacity",)

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def take(self) -> list[tuple[Any, ...]]:
        """What is queued now; what the response path appends meanwhile stays for the next
        take (the list is never swapped: an append never lands in a list already taken)."""
        count = len(self)
        taken = self[:count]
        del self[:count]
        return taken


def capacity(queue_size: int, queue_bytes: int) -> int:
    """How many packed requests a queue of these bounds takes: at most half of its requests
    and half of its bytes (the lanes and the general queue keep the rest)."""
    return max(0, min(queue_size // 2, (queue_bytes // 2) // PACKED_BYTES))


def _groups(items: list[tuple[Any, ...]]) -> Iterator[tuple[LaneHeader, list[tuple[Any, ...]]]]:
    """The requests' fields as columns (a tuple each), by lane header: one group in the usual
    flush, found in C."""
    columns = list(zip(*items, strict=True))
    first = items[0][0]
    if columns[0].count(first) == len(items):
        yield LaneHeader._make(first), columns
        return
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for item in items:
        groups.setdefault(item[0], []).append(item)
    for header, group in groups.items():
        yield LaneHeader._make(header), list(zip(*group, strict=True))


def _record(width: int, matrix: np.dtype[Any], prediction: np.dtype[Any], score: np.dtype[Any] | None) -> np.dtype[Any]:
    """How a request's packed bytes are laid out: its inputs, its prediction, its score."""
    fields: list[tuple[Any, ...]] = [("m", matrix, (width,)), ("p", prediction)]
    if score is not None:
        fields.append(("s", score))
    return np.dtype(fields)


def _numeric(dtype: np.dtype[Any] | None) -> bool:
    return dtype is None or dtype.kind in "fiub"


def tables(
    items: list[tuple[Any, ...]],
) -> Iterator[tuple[LaneHeader, pa.Table | list[LoggedRequest], Sequence[float]]]:
    """The queued requests as the log's tables, a table per lane header, with the header and
    their requests' times; a group that is not all of one layout (or not numeric) comes as its
    requests, decoded one by one, to write the general way."""
    for header, columns in _groups(items):
        _, ids, times, latencies, packed, matrices, predictions, scores, keys = columns
        n = len(ids)
        width = len(header.names)
        kinds = (matrices[0], predictions[0], scores[0])
        record = _record(width, *kinds)
        lengths = np.fromiter(map(len, packed), np.int64, n)
        if (
            matrices.count(kinds[0]) == n
            and predictions.count(kinds[1]) == n
            and scores.count(kinds[2]) == n
            and all(_numeric(kind) for kind in kinds)
            and bool((lengths == record.itemsize).all())
        ):
            rows = np.frombuffer(b"".join(packed), record)
            scored = None if kinds[2] is None else rows["s"]
            yield header, columns_table(header, ids, times, latencies, [1] * n, rows["m"], rows["p"], scored, keys), times
            continue
        yield header, [_request(header, item) for item in zip(*columns, strict=True)], times


def _request(header: LaneHeader, item: tuple[Any, ...]) -> LoggedRequest:
    """One packed request decoded on its own, for the general way."""
    _, request_id, timestamp, latency_ms, packed, matrix_type, prediction_type, score_type, keys = item
    record = _record(len(header.names), matrix_type, prediction_type, score_type)
    row = np.frombuffer(packed, record) if len(packed) == record.itemsize else None
    matrix = None if row is None else row["m"]
    predictions = None if row is None else row["p"]
    scores = None if row is None or score_type is None else row["s"]
    # positional, in LoggedRequest's field order
    return LoggedRequest(
        request_id, timestamp, header.endpoint, header.route, header.model, header.version, header.shadow,
        200, latency_ms, 1, {}, predictions, scores, keys, matrix, header.names if matrix is not None else (),
    )  # fmt: skip
