"""References of the prediction log: online serving's single-row requests, queued as the
objects their response already holds.

A lane (``_predlog_lanes.py``) checks each request's arrays and copies their bytes on the
response path; for a small ONNX model that cost 6.6% of the server's throughput (wrk, 21,937
req/s with the lane and no writes against 23,492 with the log off). Here the response path
appends one tuple of references to a list — its lane header's fields (a plain tuple made once
per route and model version), the request's id, time and latency, its matrix, the model's
predictions and scores, its entity keys — with no lock and no check (a list's ``append`` is
atomic under the GIL). Such a tuple holds nothing the garbage collector looks into (text,
numbers, arrays, plain tuples; a list only for entity keys), so the collector stops tracking it
at its first pass instead of walking the growing queue at every pass. The
flush joins each field with one numpy call and checks the joined arrays as a whole. A group
whose arrays do not join as a lane's would (other widths, labels for predictions, scores on
some requests only) is logged the general way, request by request: the same table either way.

Only single-row requests with a matrix of at most ``MAX_MATRIX_BYTES`` come here, so a queued
reference holds at most ``REF_BYTES``; ``Refs`` takes at most ``capacity`` of them between two
flushes, and a request that finds it full goes to its lane, which counts it against the queue's
bounds. A reference keeps its arrays alive until the next flush (``flush_seconds``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.data._predlog import LoggedRequest
from modelyard.data._predlog_lanes import LaneHeader, columns_table

MAX_MATRIX_BYTES = 4096  # a row of up to 512 float64 inputs
REF_BYTES = MAX_MATRIX_BYTES + 1024  # and its prediction, score, id, key and tuple, at most

# a queued reference: (a LaneHeader's fields as a plain tuple, request_id, timestamp,
# latency_ms, matrix, predictions, scores, keys)


class Refs(list[tuple[Any, ...]]):
    """The queued references (a list: the response path appends to it directly) and how many
    it may hold between two flushes."""

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
    """How many references a queue of these bounds gives the references: at most half of its
    requests and half of its bytes (the lanes and the general queue keep the rest)."""
    return max(0, min(queue_size // 2, (queue_bytes // 2) // REF_BYTES))


def _groups(items: list[tuple[Any, ...]]) -> Iterator[tuple[LaneHeader, list[tuple[Any, ...]]]]:
    """The references' fields as columns (a tuple each), by lane header: one group in the
    usual flush, found in C."""
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


def _joined(values: Sequence[Any], n: int, width: int | None = None) -> np.ndarray | None:
    """One request's arrays each, joined: None when they do not join into ``n`` rows (of
    ``width`` columns for a matrix) of a numeric kind."""
    try:
        joined = np.concatenate(values)
    except (TypeError, ValueError):  # a None among arrays, other widths, not arrays
        return None
    shape = (n,) if width is None else (n, width)
    if joined.shape != shape or joined.dtype.kind not in "fiub":
        return None
    return joined


def tables(
    items: list[tuple[Any, ...]],
) -> Iterator[tuple[LaneHeader, pa.Table | list[LoggedRequest], Sequence[float]]]:
    """The references as the log's tables, a table per lane header, with the header and their
    requests' times; a group whose arrays do not join comes as its requests, to write the
    general way."""
    for header, columns in _groups(items):
        _, ids, times, latencies, matrices, predictions, scores, keys = columns
        n = len(ids)
        matrix = _joined(matrices, n, len(header.names))
        predicted = _joined(predictions, n)
        none = sum(score is None for score in scores)  # (``count`` would compare arrays with None)
        scored = _joined(scores, n) if none == 0 else None
        if matrix is None or predicted is None or (scored is None and none != n):
            yield header, [_request(header, item) for item in zip(*columns, strict=True)], times
            continue
        yield header, columns_table(header, ids, times, latencies, [1] * n, matrix, predicted, scored, keys), times


def _request(header: LaneHeader, item: tuple[Any, ...]) -> LoggedRequest:
    _, request_id, timestamp, latency_ms, matrix, predictions, scores, keys = item
    # positional, in LoggedRequest's field order
    return LoggedRequest(
        request_id, timestamp, header.endpoint, header.route, header.model, header.version, header.shadow,
        200, latency_ms, 1, {}, predictions, scores, keys, matrix, header.names,
    )  # fmt: skip
