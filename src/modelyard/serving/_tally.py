"""Per-worker sums of the scoring metrics, added to prometheus_client's series in one go.

With several workers, prometheus_client's multiprocess mode turns every ``inc`` and
``observe`` into a locked write to a memory-mapped file: four per scored request. The tally
keeps the counts of successful requests (requests, rows, the latency histogram) in plain
Python and flushes them every ``flush_seconds`` from a background thread, when
``max_pending`` requests are waiting, and before ``/metrics`` is rendered, so that a scrape of
this worker is exact and other workers' counts are at most ``flush_seconds`` old.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from typing import Any

from modelyard.serving._metrics import Metrics

Key = tuple[str, str, str]


class Tally:
    def __init__(self, metrics: Metrics, *, flush_seconds: float = 0.5, max_pending: int = 256) -> None:
        self._metrics = metrics
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        # key -> [requests, rows, latency sum, bucket counts]
        self._pending: dict[Key, list[Any]] = {}
        self._count = 0
        self._series: dict[Key, tuple[Any, Any, Any]] = {}
        self._bounds: list[float] = list(metrics.latency._upper_bounds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, key: Key, seconds: float, rows: int) -> None:
        """Count one successful request of ``rows`` rows answered in ``seconds``."""
        bucket = bisect_left(self._bounds, seconds)
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                entry = self._pending[key] = [0, 0, 0.0, [0] * len(self._bounds)]
            entry[0] += 1
            entry[1] += rows
            entry[2] += seconds
            entry[3][bucket] += 1
            self._count += 1
            due = self._count >= self.max_pending
        if due:
            self.flush()

    def flush(self) -> None:
        """Add what is pending to the prometheus series."""
        with self._flushing:  # one flusher at a time: the series are updated in order
            with self._lock:
                pending, self._pending, self._count = self._pending, {}, 0
            for key, (requests, rows, total, buckets) in pending.items():
                counter, histogram, scored = self._children(key)
                counter.inc(requests)
                scored.inc(rows)
                _add_observations(histogram, total, buckets)

    def _children(self, key: Key) -> tuple[Any, Any, Any]:
        series = self._series.get(key)
        if series is None:  # label lookups cost ~4 us each; keep the children
            m = self._metrics
            series = self._series[key] = (
                m.requests.labels(*key, "200"),
                m.latency.labels(key[0]),
                m.rows.labels(key[0]),
            )
        return series

    # -- the background flusher ----------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="modelyard-metrics", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            if self._count:
                self.flush()


def _add_observations(histogram: Any, total: float, buckets: list[int]) -> None:
    """Add observations to a histogram child: its sum once and each bucket once (what
    ``observe`` does one observation at a time)."""
    sum_value = getattr(histogram, "_sum", None)
    bucket_values = getattr(histogram, "_buckets", None)
    if sum_value is None or bucket_values is None or len(bucket_values) != len(buckets):
        raise RuntimeError("prometheus_client's Histogram changed: cannot add observations")
    sum_value.inc(total)
    for value, count in zip(bucket_values, buckets, strict=True):
        if count:
            value.inc(count)
