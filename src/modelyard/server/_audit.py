"""The audit of every write the server was asked for (who, what, on what, with what answer),
written in batches by a background thread so that it never slows a write down.

An unclean kill loses at most the last ``audit_flush_seconds`` of entries; the writes
themselves are in the store (and registry changes also in the registry's own audit, written
in the same transaction as the change)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from modelyard.core.ids import now_ms
from modelyard.store import AuditedWrite, UserStore

log = logging.getLogger("modelyard.server")
_MAX_BATCH = 5000


class WriteAudit:
    def __init__(
        self,
        users: UserStore,
        flush_seconds: float = 1.0,
        clock_ms: Callable[[], int] = now_ms,
        keep_requests_ms: int = 24 * 3600 * 1000,
    ) -> None:
        self._users = users
        self._keep_requests_ms = keep_requests_ms
        self._ticks = 0
        self._flush_seconds = flush_seconds
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._pending: list[AuditedWrite] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, actor: str, operation: str, target: str, status: int) -> None:
        entry = AuditedWrite(self._clock_ms(), actor, operation, target, status)
        with self._lock:
            self._pending.append(entry)

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
        if batch:
            try:
                self._users.record_writes(batch)
            except Exception:
                with self._lock:
                    self._pending[:0] = batch
                raise

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="modelyard-audit", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush()
                self._ticks += 1
                if self._ticks % 600 == 1:
                    self.forget_old_requests()
            except Exception:  # the store may be down for a moment; keep the entries
                log.exception("writing the audit failed; retrying")

    def forget_old_requests(self) -> int:
        """Drop request ids past their keeping time (retries come within minutes)."""
        return self._users.forget_requests_before(self._clock_ms() - self._keep_requests_ms)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        while True:
            with self._lock:
                if not self._pending:
                    return
            self.flush()
