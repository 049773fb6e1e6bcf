"""The prediction log's writer: requests and feedback queued on the response path, written as
Parquet by a background thread.

Writes happen in batches, every ``flush_seconds``; the queue in front of the thread is
bounded in requests and in bytes, and requests that find it full are counted as dropped,
never silently lost. Online serving's single-row requests wait packed, one byte string each
(``_predlog_packed.py``), its other usual requests in lanes, as columns
(``_predlog_lanes.py``); anything else waits as a ``LoggedRequest``. A batch that cannot be
written (a full disk, a value Arrow refuses) is counted as dropped by reason and logged once
per reason; the thread carries on. Closing the writer flushes what is queued. An unclean kill
(``kill -9``) loses what was queued since the last flush: at most one flush interval.
Temporary files such a kill leaves behind are removed when a writer starts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.data._predlog import (
    BAD_BATCH,
    QUEUE_FULL,
    WRITE_FAILED,
    Feedback,
    LoggedRequest,
    clean_stale_temps,
    date_of,
    default_log_root,
    feedback_bytes,
    feedback_table,
    request_bytes,
    requests_table,
    write_atomic,
)
from modelyard.data._predlog_lanes import Budget, Chunk, Lane, LaneHeader, by_day, chunk_table
from modelyard.data._predlog_packed import PACKED_BYTES, Packed, capacity, tables

log = logging.getLogger("modelyard.predictions")


class PredictionLogWriter:
    """Appends requests and feedback to the log from a background thread, in batches.

    The queue is bounded by ``queue_size`` requests and ``queue_bytes`` bytes (an estimate of
    the arrays a request holds); a request that does not fit is dropped and counted. A batch
    that fails to write is dropped, counted under its reason in ``dropped_by`` and logged once
    per reason; the thread never dies of it.

    With ``packing``, ``packed`` takes single-row requests as one byte string each
    (``_predlog_packed.py``), within half of both bounds (``capacity``); their times are
    on the performance counter's clock, and ``wall_offset`` says, at each flush, the wall
    clock's time at its zero."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        queue_size: int = 100_000,
        queue_bytes: int = 256 << 20,
        flush_seconds: float = 1.0,
        max_batch: int = 50_000,
        packing: bool = False,
        wall_offset: Callable[[], float] = lambda: time.time() - time.perf_counter(),
    ) -> None:
        self.root = Path(root) if root is not None else default_log_root()
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self.wall_offset = wall_offset
        self.written_rows = 0
        self.failed_writes = 0
        # the requests waiting as columns, by the key their logger chose (``lane``)
        self.lanes: dict[Hashable, Lane] = {}
        share = capacity(queue_size, queue_bytes) if packing else 0
        self.packed = Packed(share)
        self._budget = Budget(queue_size - share, queue_bytes - share * PACKED_BYTES)
        self._requests: deque[tuple[LoggedRequest, int]] = deque()
        self._feedback: deque[tuple[Feedback, int]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._reported: set[str] = set()

    @property
    def dropped_by(self) -> dict[str, int]:
        return self._budget.dropped_by

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by.values())

    # -- the response path: O(1), never blocks for long -----------------------------------

    def lane(self, key: Hashable, header: LaneHeader) -> Lane:
        """The lane for ``key`` (what its requests share, as the logger sees it: an endpoint,
        a route, a model version, a role), made with ``header`` when there is none. Callers
        look in ``lanes`` first: this is the slow way, once per key and flush interval."""
        with self._budget.lock:
            lane = self.lanes.get(key)
            if lane is None or lane.retired:  # (a retired lane is on its way out of ``lanes``)
                lane = self.lanes[key] = Lane(header, self._budget)
            return lane

    def log(self, item: LoggedRequest) -> bool:
        """Queue a request the general way; False (and counted as dropped) when the queue is full."""
        size = request_bytes(item)
        budget = self._budget
        with budget.lock:
            if not budget.admit(size):
                return False
            self._requests.append((item, size))
        return True

    def feedback(self, item: Feedback) -> bool:
        size = feedback_bytes(item)
        budget = self._budget
        with budget.lock:
            if len(self._feedback) >= self.queue_size:  # feedback has a count of its own
                budget.dropped_by[QUEUE_FULL] += 1
                return False
            if not budget.admit_bytes(size):
                return False
            self._feedback.append((item, size))
        return True

    @property
    def depth(self) -> int:
        """Requests and feedback waiting to be written."""
        return self._budget.items + len(self._feedback) + len(self.packed)

    @property
    def queued_bytes(self) -> int:
        """About how much memory the queue holds (a packed request counted at its bound)."""
        return self._budget.bytes + len(self.packed) * PACKED_BYTES

    # -- the background side -------------------------------------------------------------

    def start(self) -> PredictionLogWriter:
        if self._thread is None:
            try:
                clean_stale_temps(self.root)
            except OSError as error:  # an unreadable folder: the writes will say more
                log.warning(
                    "prediction log: could not clean temporary files under %s: %s", self.root, error
                )
            self._thread = threading.Thread(
                target=self._loop, name="modelyard-prediction-log", daemon=True
            )
            self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self._flush_safely()
        self._flush_safely()

    def _flush_safely(self) -> None:
        try:
            self.flush()
        except Exception as error:  # flush drops failed batches itself; this is a last guard
            self._report(BAD_BATCH, error)

    def _take(self, queue: deque[tuple[Any, int]], requests: bool) -> list[Any]:
        count = min(self.max_batch, len(queue))
        taken = [queue.popleft() for _ in range(count)]
        budget = self._budget
        with budget.lock:
            budget.bytes -= sum(size for _, size in taken)
            if requests:
                budget.items -= count
        return [item for item, _ in taken]

    def _take_lanes(self) -> list[Chunk]:
        """Every lane's queued requests; lanes that had none retire."""
        chunks = []
        for key, lane in list(self.lanes.items()):
            chunk = lane.take()
            if chunk is not None:
                chunks.append(chunk)
            elif lane.retired:
                with self._budget.lock:
                    if self.lanes.get(key) is lane:
                        del self.lanes[key]
        return chunks

    def flush(self) -> int:
        """Write everything queued so far; returns the number of rows written."""
        with self._lock:
            written = 0
            if self.packed:
                written += self._write_packed(self.packed.take())
            for chunk in self._take_lanes():
                written += self._write_chunk(chunk)
            while self._requests:
                written += self._write_requests(self._take(self._requests, True))
            while self._feedback:
                items: list[Feedback] = self._take(self._feedback, False)
                groups: dict[str, list[Feedback]] = {}
                for item in items:
                    groups.setdefault(date_of(item.timestamp), []).append(item)
                for date, group in groups.items():
                    if self._safe_write(
                        partial(feedback_table, group),
                        self.root / "feedback" / f"date={date}",
                        len(group),
                    ):
                        written += len(group)
            self.written_rows += written
            return written

    def _write_chunk(self, chunk: Chunk) -> int:
        folder = self.root / "requests" / f"endpoint={chunk.header.endpoint}"
        try:
            table = chunk_table(chunk)
        except Exception as error:
            self.failed_writes += 1
            self._drop(BAD_BATCH, len(chunk.request_ids), error)
            return 0
        return self._write_by_day(folder, table, chunk.times, chunk.counts)

    def _write_by_day(self, folder: Path, table: pa.Table, times: Sequence[float] | np.ndarray, counts: Sequence[int]) -> int:
        """Write the table of requests at ``times`` of ``counts`` rows each into ``folder``'s
        date partitions; returns the rows written."""
        rows = 0
        for day, part, requests in by_day(times, counts, table):
            if self._safe_write(part, folder / f"date={date_of(day * 86400)}", requests):
                rows += part.num_rows
        return rows

    def _write_packed(self, items: list[tuple[Any, ...]]) -> int:
        try:
            made = list(tables(items, self.wall_offset()))
        except Exception as error:
            self.failed_writes += 1
            self._drop(BAD_BATCH, len(items), error)
            return 0
        rows = 0
        for header, table, times in made:
            folder = self.root / "requests" / f"endpoint={header.endpoint}"
            rows += self._write_by_day(folder, table, times, [1] * len(times))
        return rows

    def _write_requests(self, batch: list[LoggedRequest]) -> int:
        groups: dict[tuple[str, str, tuple[str, ...]], list[LoggedRequest]] = {}
        dates: dict[int, str] = {}
        for item in batch:
            second = int(item.timestamp)
            date = dates.get(second)
            if date is None:
                date = dates[second] = date_of(item.timestamp)
            key = (item.endpoint, date, item.matrix_names or tuple(item.inputs))
            groups.setdefault(key, []).append(item)
        rows = 0
        for (endpoint, date, _), items in groups.items():
            folder = self.root / "requests" / f"endpoint={endpoint}" / f"date={date}"
            if self._safe_write(partial(requests_table, items), folder, len(items)):
                rows += sum(r.rows for r in items)
        return rows

    def _safe_write(self, make: Callable[[], pa.Table] | pa.Table, folder: Path, count: int) -> bool:
        """Build (when ``make`` is not a table yet) and write one table; on any failure the
        ``count`` items are dropped, counted and the reason logged (once per reason), and the
        caller goes on with the next batch."""
        try:
            write_atomic(make if isinstance(make, pa.Table) else make(), folder)
        except OSError as error:
            self.failed_writes += 1
            self._drop(WRITE_FAILED, count, error)
            return False
        except Exception as error:
            self.failed_writes += 1
            self._drop(BAD_BATCH, count, error)
            return False
        return True

    def _drop(self, reason: str, count: int, error: BaseException) -> None:
        with self._budget.lock:
            self.dropped_by[reason] += count
        self._report(reason, error)

    def _report(self, reason: str, error: BaseException) -> None:
        kind = f"{reason}:{type(error).__name__}"
        if kind in self._reported:
            return
        self._reported.add(kind)
        log.error(
            "prediction log: a batch was dropped (%s, %s); counted in modelyard_prediction_log_dropped_total, "
            "reported once per kind",
            reason,
            type(error).__name__,
            exc_info=error,
        )

    def close(self) -> None:
        """Stop the thread and write what is still queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._flush_safely()
