"""Packed requests of the prediction log: online serving's single-row requests queued as one
byte string and two numbers each.

A lane (``_predlog_lanes.py``) checks each request's arrays and copies them into three lists
under a lock; that Python work on the response path cost the ONNX route ~9% of its throughput
(``benchmarks/serving/perf/log_cost.py``). Here the response path compares the request's
dtypes and size with its route's ``Layout`` (made once per route and model version), and
appends one tuple to a list, with no lock (a list's ``append`` is atomic under the GIL): the
key of its ``PackedHeader`` (an int), the request id, the times it started and took (the floats
the server measured anyway, on ``time.perf_counter``'s clock), the row's inputs as bytes, its
prediction and score as Python numbers, the entity keys. Without entity keys the tuple holds
nothing the garbage collector walks. The flush joins a group's bytes into one matrix, turns
the times into UTC (the wall clock's offset from the performance counter is read at the
flush, so a step of the wall clock also shifts the requests queued in the interval before it)
and builds the columns the general way builds: the same table.

Only single-row requests whose matrix is numeric, of its layout's dtype and width and at most
``MAX_MATRIX_BYTES``, with one numeric prediction and at most one numeric score come here, so a
queued request holds at most ``PACKED_BYTES``; ``Packed`` takes at most ``capacity`` of them
between two flushes, and a request that finds it full goes to its lane, which counts it
against the queue's bounds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from modelyard.data._predlog_lanes import LaneHeader, columns_table

MAX_MATRIX_BYTES = 4096  # a row of up to 512 float64 inputs
PACKED_BYTES = MAX_MATRIX_BYTES + 512  # and its prediction, score, id, key and tuple, at most

# a queued request: (its header's key in ``HEADERS``, request_id, started and elapsed (seconds
# on the performance counter), the row's inputs as bytes, its prediction and its score (None
# when the header has no scores) as Python numbers, the entity keys)


class PackedHeader(NamedTuple):
    """What a packed group's rows share: their lane's header, and how their bytes are read."""

    endpoint: str
    route: str
    model: str
    version: str
    shadow: bool
    names: tuple[str, ...]
    matrix: np.dtype[Any]  # the inputs' dtype
    scored: bool

    @property
    def lane(self) -> LaneHeader:
        return LaneHeader(*self[:6])


# The headers of the layouts made in this process, by key. A queued request holds its
# header's key, an int: a tuple holding only ints, floats, strings, bytes and None is untracked
# by the garbage collector at its first pass, while one holding the header (a tuple the
# collector tracks until a full pass) stayed tracked, was promoted with the queue and brought
# the next full pass, which walks the whole heap, sooner. One entry per route and model
# version served.
HEADERS: dict[int, PackedHeader] = {}
_keys = itertools.count()


class Layout(NamedTuple):
    """A route's packing for one model version, as the response path compares a request with
    it: ``header`` None when the version's answers cannot be packed."""

    scorer: object  # what the layout was made for (compared by identity)
    header: int | None  # its PackedHeader's key in ``HEADERS``
    matrix: np.dtype[Any] | None
    row_bytes: int
    prediction: np.dtype[Any] | None
    score: np.dtype[Any] | None


def _numeric(values: Any) -> bool:
    return isinstance(values, np.ndarray) and values.dtype.kind in "fiub"


def layout(scorer: object, header: LaneHeader, matrix: Any, predictions: Any, scores: Any) -> Layout:
    """How a route packs what ``scorer`` answers, from its first request: its dtypes, if the
    inputs, the prediction and the score (when there is one) are numeric arrays and a row
    holds at most ``MAX_MATRIX_BYTES``."""
    packable = (
        _numeric(matrix)
        and _numeric(predictions)
        and (scores is None or _numeric(scores))
        and len(header.names) * matrix.dtype.itemsize <= MAX_MATRIX_BYTES
    )
    if not packable:
        return Layout(scorer, None, None, -1, None, None)
    key = next(_keys)
    HEADERS[key] = PackedHeader(*header, matrix.dtype, scores is not None)
    score = None if scores is None else scores.dtype
    return Layout(scorer, key, matrix.dtype, len(header.names) * matrix.dtype.itemsize, predictions.dtype, score)


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


_HEADER, _ID, _STARTED, _ELAPSED, _ROW, _PREDICTION, _SCORE, _KEYS = map(itemgetter, range(8))


def _groups(items: list[tuple[Any, ...]]) -> Iterator[tuple[PackedHeader, list[tuple[Any, ...]]]]:
    """The requests by header: one group in the usual flush, found in C. (Fields are read
    with ``itemgetter``, not ``zip(*items)``: that makes an iterator an item, and the garbage
    collector's passes over tens of thousands of new objects cost more than the rest of the
    flush.)"""
    headers = list(map(_HEADER, items))
    first = headers[0]
    if headers.count(first) == len(items):
        yield HEADERS[first], items
        return
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for header, item in zip(headers, items, strict=True):
        groups.setdefault(header, []).append(item)
    for key, group in groups.items():
        yield HEADERS[key], group


def tables(items: list[tuple[Any, ...]], offset: float) -> Iterator[tuple[LaneHeader, pa.Table, np.ndarray]]:
    """The queued requests as the log's tables, a table per header, with their lane's header
    and their requests' times; ``offset`` is the wall clock's time at the performance
    counter's zero."""
    for header, group in _groups(items):
        n = len(group)
        matrix = np.frombuffer(b"".join(map(_ROW, group)), header.matrix).reshape(n, len(header.names))
        took = np.fromiter(map(_ELAPSED, group), np.float64, n)
        times = np.fromiter(map(_STARTED, group), np.float64, n) + took + offset
        predicted = np.fromiter(map(_PREDICTION, group), np.float64, n)
        scored = np.fromiter(map(_SCORE, group), np.float64, n) if header.scored else None
        ids, keys = list(map(_ID, group)), list(map(_KEYS, group))
        lane = header.lane
        yield lane, columns_table(lane, ids, times, took * 1000.0, [1] * n, matrix, predicted, scored, keys), times
