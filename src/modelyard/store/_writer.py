"""The hot write path: metric points, params and tags, on a dedicated DB-API connection.

Each call is one short transaction that is committed before it returns, so a point is
durable (in SQLite's WAL, which survives a killed process) the moment ``log_metric``
returns. The run's state is checked inside the same transaction as the write: a point
can never land in a run that another process has just finished.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from modelyard.core.entities import Metric, Param, RunTag, metric_value_for_storage
from modelyard.core.errors import InvalidStateError, NotFoundError, ParamConflictError
from modelyard.store._engine import Engines
from modelyard.store._errors import is_driver_error, translate
from modelyard.store._requests import CLAIM_SQL, claim_row, current_scope

_WRITABLE = ("RUNNING", "SCHEDULED")

_INSERT_POINT_IF_RUNNING = (
    "INSERT INTO metrics (run_id, key, step, timestamp, value) "
    "SELECT ?, ?, ?, ?, ? WHERE EXISTS "
    "(SELECT 1 FROM runs WHERE run_id = ? AND status IN ('RUNNING', 'SCHEDULED') "
    "AND lifecycle_stage = 'active')"
)
_INSERT_POINTS = "INSERT INTO metrics (run_id, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?)"
_UPSERT_LATEST = (
    "INSERT INTO latest_metrics (run_id, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, "
    "timestamp = excluded.timestamp, value = excluded.value "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
    "AND excluded.timestamp >= latest_metrics.timestamp)"
)
_RUN_STATE = "SELECT status, lifecycle_stage FROM runs WHERE run_id = ?"
_EXISTING_PARAMS = "SELECT key, value FROM params WHERE run_id = ?"
_INSERT_PARAM = (
    "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING"
)
_UPSERT_TAG = (
    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
)


def _latest_points(run_id: str, metrics: Sequence[Metric]) -> list[tuple[Any, ...]]:
    latest: dict[str, Metric] = {}
    for m in metrics:
        seen = latest.get(m.key)
        if seen is None or (m.step, m.timestamp) >= (seen.step, seen.timestamp):
            latest[m.key] = m
    return [
        (run_id, m.key, m.step, m.timestamp, metric_value_for_storage(m.value))
        for m in latest.values()
    ]


class Writer:
    """Writes points, params and tags with one DB-API connection per process."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self._sqlite = engines.dialect == "sqlite"
        self._lock = threading.Lock()
        self._pid = -1
        self._fairy: Any = None
        self._conn: Any = None
        self._sql = {
            name: (sql if self._sqlite else sql.replace("?", "%s"))
            for name, sql in {
                "point": _INSERT_POINT_IF_RUNNING,
                "points": _INSERT_POINTS,
                "latest": _UPSERT_LATEST,
                "state": _RUN_STATE,
                "params": _EXISTING_PARAMS,
                "param": _INSERT_PARAM,
                "tag": _UPSERT_TAG,
                "claim": CLAIM_SQL,
            }.items()
        }

    def _connection(self) -> Any:
        if self._pid != os.getpid() or self._conn is None:
            # A forked child must not share its parent's connection.
            self._fairy = self._engines.write.raw_connection()
            self._conn = self._fairy.driver_connection
            self._pid = os.getpid()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._fairy is not None and self._pid == os.getpid():
                self._fairy.close()
            self._fairy = self._conn = None

    def _begin(self, conn: Any) -> Any:
        cursor = conn.cursor()
        if self._sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        return cursor

    def _fail(self, conn: Any, error: BaseException) -> BaseException:
        try:
            conn.rollback()
        except Exception:
            self._fairy = self._conn = None
        if is_driver_error(error):
            return translate(error, self._engines.where)
        return error

    def _raise_not_writable(self, cursor: Any, run_id: str) -> None:
        cursor.execute(self._sql["state"], (run_id,))
        row = cursor.fetchone()
        if row is None:
            raise NotFoundError(f"run {run_id!r} does not exist")
        status, stage = row
        if stage != "active":
            raise InvalidStateError(f"run {run_id!r} is deleted; restore it before logging to it")
        raise InvalidStateError(
            f"run {run_id!r} is {status}; it no longer accepts data. Resume it with "
            f"start_run(run_id={run_id!r}) to log more"
        )

    def _claimed_before(self, cursor: Any) -> bool:
        """Claim the request id of a write sent over HTTP (see store._requests); True when
        an earlier attempt of the same request already wrote."""
        scope = current_scope()
        if scope is None:
            return False
        cursor.execute(self._sql["claim"], claim_row(scope))
        return bool(cursor.rowcount == 0)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        value = metric_value_for_storage(metric.value)
        row = (run_id, metric.key, metric.step, metric.timestamp, value)
        with self._lock:
            conn = self._connection()
            try:
                cursor = self._begin(conn)
                if self._claimed_before(cursor):
                    conn.rollback()
                    return
                cursor.execute(self._sql["point"], (*row, run_id))
                if cursor.rowcount != 1:
                    self._raise_not_writable(cursor, run_id)
                cursor.execute(self._sql["latest"], row)
                conn.commit()
            except BaseException as error:
                raise self._fail(conn, error) from error

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        """Write everything or nothing; a conflicting param aborts the whole batch."""
        with self._lock:
            conn = self._connection()
            try:
                cursor = self._begin(conn)
                if self._claimed_before(cursor):
                    conn.rollback()
                    return
                cursor.execute(self._sql["state"], (run_id,))
                row = cursor.fetchone()
                if row is None or row[0] not in _WRITABLE or row[1] != "active":
                    self._raise_not_writable(cursor, run_id)
                if params:
                    cursor.execute(self._sql["params"], (run_id,))
                    existing = dict(cursor.fetchall())
                    for p in params:
                        old = existing.get(p.key)
                        if old is not None and old != p.value:
                            raise ParamConflictError(
                                f"param {p.key!r} of run {run_id!r} is already {old!r}; "
                                f"it cannot change to {p.value!r} (params are immutable: "
                                "log the new value under another key, or start a new run)"
                            )
                        existing[p.key] = p.value
                    cursor.executemany(
                        self._sql["param"], [(run_id, p.key, p.value) for p in params]
                    )
                if tags:
                    cursor.executemany(self._sql["tag"], [(run_id, t.key, t.value) for t in tags])
                if metrics:
                    cursor.executemany(
                        self._sql["points"],
                        [
                            (run_id, m.key, m.step, m.timestamp, metric_value_for_storage(m.value))
                            for m in metrics
                        ],
                    )
                    cursor.executemany(self._sql["latest"], _latest_points(run_id, metrics))
                conn.commit()
            except BaseException as error:
                raise self._fail(conn, error) from error
