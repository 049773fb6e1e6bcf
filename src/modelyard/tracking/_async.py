"""Asynchronous metric logging (``MODELYARD_ASYNC_LOGGING=true``, as MLflow's async logging):
``log_metric`` queues the point and returns; one background thread per client sends what has
queued as ``log_batch`` calls (one per run, up to ``max_batch`` points each).

Nothing is lost silently: ``flush()`` (called by ``end_run`` / ``set_terminated``, by reads
of a run's metrics, and at interpreter exit) waits until every queued point is stored, and
raises the first error a background send met. A point is stored once: each batch is one
write with one request id, retried as a whole.
"""

from __future__ import annotations

import atexit
import sys
import threading
import weakref
from collections.abc import Callable, Sequence

from modelyard.core.entities import Metric
from modelyard.core.errors import ModelyardError

Send = Callable[[str, Sequence[Metric]], None]

_queues: weakref.WeakSet[MetricQueue] = weakref.WeakSet()


class AsyncLoggingError(ModelyardError):
    """Points queued by asynchronous logging could not be stored (see ``__cause__``)."""


class MetricQueue:
    """Points waiting to be sent, and the thread that sends them."""

    def __init__(self, send: Send, *, max_batch: int = 10_000) -> None:
        self._send = send
        self._max_batch = max_batch
        self._points: list[tuple[str, Metric]] = []
        self._pending = 0  # queued and not yet stored (or failed)
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        _queues.add(self)

    def put(self, run_id: str, metric: Metric) -> None:
        with self._cond:
            if self._error is not None:
                self._raise()
            self._points.append((run_id, metric))
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="modelyard-async-logging", daemon=True
                )
                self._thread.start()
            if len(self._points) == 1:
                self._cond.notify_all()

    def _raise(self) -> None:
        error, self._error = self._error, None
        raise AsyncLoggingError(
            f"asynchronous logging could not store some points: {error}"
        ) from error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._points:
                    self._cond.wait()
                batch = self._points[: self._max_batch]
                del self._points[: self._max_batch]
            try:
                by_run: dict[str, list[Metric]] = {}
                for run_id, metric in batch:
                    by_run.setdefault(run_id, []).append(metric)
                for run_id, metrics in by_run.items():
                    self._send(run_id, metrics)
            except BaseException as error:  # kept for flush() to raise in the caller's thread
                with self._cond:
                    if self._error is None:
                        self._error = error
            finally:
                with self._cond:
                    self._pending -= len(batch)
                    self._cond.notify_all()

    def flush(self) -> None:
        """Wait until every queued point is stored; raise what a background send met."""
        with self._cond:
            while self._pending:
                self._cond.wait()
            if self._error is not None:
                self._raise()


@atexit.register
def _flush_at_exit() -> None:
    for queue in list(_queues):
        try:
            queue.flush()
        except AsyncLoggingError as error:
            print(f"modelyard: {error}", file=sys.stderr)
