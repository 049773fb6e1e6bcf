"""The embedded online store: a SQLite file (WAL), one table per generation of each view.

``online_views`` points each (project, view) at the table that serves it; ``online_tables``
lists every generation table with the time its writer last wrote to it.

* ``materialize`` builds a new generation: a fresh table is bulk-loaded with the window's rows,
  one transaction per batch (the pointer does not name it yet, so no reader sees it). A last
  transaction merges in the current generation's rows that the window does not supersede,
  switches the pointer and drops the replaced table.
* ``materialize_incremental`` writes into the current generation in one transaction (nothing
  is copied: an increment is small, and the transaction makes it atomic).

A reader runs single statements, each on one snapshot (WAL), so it sees the old generation or
the new one, never a mix. A killed writer leaves the old generation serving and, for a new
generation, a table nobody reads; a later materialization of the view drops it once its writer
has been silent for ``LEASE_S`` (a live writer touches it with every batch).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from modelyard.core.errors import ConflictError, StoreLockedError
from modelyard.features._online_format import (
    Encoded,
    Row,
    encode_rows,
    legacy_error,
)

_LEGACY = "online_features"  # format 1: one table keyed by (project, view, entity)
_CHUNK = 10_000  # keys per SELECT ... IN (...)
LEASE_S = 3_600  # an unswitched generation untouched this long was left by a dead writer


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _upsert(table: str) -> str:
    """Insert rows; an existing entity is replaced only by a row at least as new."""
    t = _q(table)
    return (
        f"INSERT INTO {t} (entity, event_ms, payload) VALUES (?, ?, ?) ON CONFLICT (entity) "
        f"DO UPDATE SET event_ms = excluded.event_ms, payload = excluded.payload "
        f"WHERE excluded.event_ms >= {t}.event_ms"
    )


class _Write:
    """One materialization of one view; see the module docstring."""

    def __init__(self, store: SqliteOnlineStore, project: str, view: str, incremental: bool) -> None:
        self._store = store
        self._project = project
        self._view = view
        self._incremental = incremental
        self._open: sqlite3.Connection | None = None  # an incremental write's open transaction
        self._target: str | None = None
        self._created = False  # the target is a new generation

    def _begin(self) -> sqlite3.Connection:
        conn = self._store._conn()
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: big batches stay in the cache
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreLockedError(
                f"online store {self._store.uri} stayed locked by another writer for 30 s: {error}"
            ) from error
        return conn

    def _create(self, conn: sqlite3.Connection) -> str:
        table = f"og_{uuid.uuid4().hex}"
        conn.execute(
            f"CREATE TABLE {_q(table)} (entity TEXT PRIMARY KEY, event_ms INTEGER NOT NULL, "
            "payload BLOB NOT NULL) WITHOUT ROWID"
        )
        conn.execute(
            "INSERT INTO online_tables (tbl, project, view, touched_ms) VALUES (?, ?, ?, ?)",
            (table, self._project, self._view, self._store._now_ms()),
        )
        self._created = True
        return table

    def write_encoded(self, rows: Encoded) -> None:
        keys, stamps, payloads = rows
        if self._incremental:
            conn = self._open
            if conn is None:
                conn = self._open = self._begin()
                try:
                    current = self._store._pointer(conn, self._project, self._view)
                    self._target = current or self._create(conn)
                except BaseException:
                    self.abort()
                    raise
            conn.executemany(_upsert(self._target or ""), zip(keys, stamps, payloads, strict=True))
            return
        conn = self._begin()
        try:
            if self._target is None:
                self._target = self._create(conn)
            else:
                touched = conn.execute(
                    "UPDATE online_tables SET touched_ms = ? WHERE tbl = ?",
                    (self._store._now_ms(), self._target),
                ).rowcount
                if not touched:
                    raise ConflictError(
                        f"the generation this run was writing for feature view {self._view!r} was "
                        f"dropped (silent for over {LEASE_S} s?); nothing was changed: run it again"
                    )
            conn.executemany(_upsert(self._target), zip(keys, stamps, payloads, strict=True))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def commit(self) -> None:
        if self._target is None:
            return  # nothing written: the current generation stays as it is
        conn = self._open or self._begin()
        self._open = None
        try:
            if self._created:
                self._switch(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _switch(self, conn: sqlite3.Connection) -> None:
        """Merge the current generation into the new one, point at it, drop what it replaces."""
        assert self._target is not None
        target = _q(self._target)
        current = self._store._pointer(conn, self._project, self._view)
        if current is not None and current != self._target:
            # only the rows the new generation lacks or holds older are written: a re-run of
            # the same window (every row present and as new) then writes nothing here
            conn.execute(
                f"INSERT INTO {target} (entity, event_ms, payload) SELECT c.entity, c.event_ms, "
                f"c.payload FROM {_q(current)} c LEFT JOIN {target} n ON n.entity = c.entity "
                f"WHERE n.entity IS NULL OR c.event_ms > n.event_ms ON CONFLICT (entity) DO UPDATE "
                f"SET event_ms = excluded.event_ms, payload = excluded.payload "
                f"WHERE excluded.event_ms > {target}.event_ms"
            )
        conn.execute(
            "INSERT INTO online_views (project, view, tbl) VALUES (?, ?, ?) "
            "ON CONFLICT (project, view) DO UPDATE SET tbl = excluded.tbl",
            (self._project, self._view, self._target),
        )
        stale = self._store._now_ms() - LEASE_S * 1000
        for (table,) in conn.execute(
            "SELECT tbl FROM online_tables WHERE project = ? AND view = ? AND tbl != ? "
            "AND (tbl IS ? OR touched_ms < ?)",
            (self._project, self._view, self._target, current, stale),
        ).fetchall():  # the replaced generation, and any left by a dead writer
            conn.execute(f"DROP TABLE IF EXISTS {_q(table)}")
            conn.execute("DELETE FROM online_tables WHERE tbl = ?", (table,))
        self._store._drop_legacy(conn, self._project, self._view)

    def abort(self) -> None:
        conn, self._open = self._open, None
        if conn is not None:
            conn.execute("ROLLBACK")
        elif self._created and self._target is not None:  # a committed, unswitched generation
            conn = self._store._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"DROP TABLE IF EXISTS {_q(self._target)}")
                conn.execute("DELETE FROM online_tables WHERE tbl = ?", (self._target,))
                conn.execute("COMMIT")
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")  # left for a later materialization to drop


class SqliteOnlineStore:
    """Feature rows in a SQLite file, one table per generation of each (project, view)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        """``clock`` (seconds since the epoch) dates generations, for ``LEASE_S``."""
        self.path = Path(path)
        self._clock = clock
        self.uri = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"online_views", "online_tables"} <= tables:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS online_views (project TEXT NOT NULL, view TEXT NOT NULL, "
                "tbl TEXT NOT NULL, PRIMARY KEY (project, view)) WITHOUT ROWID"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS online_tables (tbl TEXT PRIMARY KEY, project TEXT NOT NULL, "
                "view TEXT NOT NULL, touched_ms INTEGER NOT NULL) WITHOUT ROWID"
            )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA busy_timeout = 30000")
            self._local.conn = conn
            self._local.tables = {}  # (project, view) -> the table serving it, as last seen
        return conn

    @staticmethod
    def _pointer(conn: sqlite3.Connection, project: str, view: str) -> str | None:
        row = conn.execute(
            "SELECT tbl FROM online_views WHERE project = ? AND view = ?", (project, view)
        ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _legacy(conn: sqlite3.Connection, project: str, view: str) -> bool:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_LEGACY,)
        ).fetchone()
        return bool(exists) and conn.execute(
            f"SELECT 1 FROM {_LEGACY} WHERE project = ? AND view = ? LIMIT 1", (project, view)
        ).fetchone() is not None

    def _drop_legacy(self, conn: sqlite3.Connection, project: str, view: str) -> None:
        """Format-1 rows of a view just rewritten in format 2 (inside the caller's transaction)."""
        if self._legacy(conn, project, view):
            conn.execute(f"DELETE FROM {_LEGACY} WHERE project = ? AND view = ?", (project, view))
            if conn.execute(f"SELECT 1 FROM {_LEGACY} LIMIT 1").fetchone() is None:
                conn.execute(f"DROP TABLE {_LEGACY}")

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    @contextmanager
    def materialization(self, project: str, view: str, *, incremental: bool) -> Iterator[_Write]:
        """Write one view's rows atomically: committed on leaving the block, discarded on error."""
        write = _Write(self, project, view, incremental)
        try:
            yield write
        except BaseException:
            write.abort()
            raise
        write.commit()

    def write(self, project: str, view: str, rows: Sequence[Row]) -> None:
        """Upsert rows into the current generation (a value is replaced only by a newer one)."""
        with self.materialization(project, view, incremental=True) as write:
            write.write_encoded(encode_rows(rows))

    def state(self, project: str, view: str) -> str:
        """``ready`` (materialized), ``empty`` (never), or ``legacy`` (format-1 rows only)."""
        conn = self._conn()
        if self._pointer(conn, project, view) is not None:
            return "ready"
        return "legacy" if self._legacy(conn, project, view) else "empty"

    def read(
        self, project: str, view: str, keys: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], int]]:
        """The rows of ``keys``, from one generation.

        The table serving a view is remembered per thread. A switch drops the table it replaces
        in the same transaction, so a remembered table is the current one, or gone ("no such
        table"), and then the pointer is read again: no statement is spent checking it."""
        conn = self._conn()
        tables: dict[tuple[str, str], str] = self._local.tables
        for attempt in range(2):
            table = tables.get((project, view))
            if table is None:
                table = self._pointer(conn, project, view)
                if table is None:
                    if self._legacy(conn, project, view):
                        raise legacy_error(self.uri, project, view)
                    return {}
                tables[(project, view)] = table
            try:
                return self._select(conn, table, keys)
            except sqlite3.OperationalError as error:  # replaced since it was remembered
                if attempt or "no such table" not in str(error):
                    raise
                tables.pop((project, view), None)
        raise AssertionError("unreachable")

    @staticmethod
    def _select(
        conn: sqlite3.Connection, table: str, keys: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], int]]:
        found: dict[str, tuple[dict[str, Any], int]] = {}
        if len(keys) == 1:
            row = conn.execute(
                f'SELECT event_ms, payload FROM "{table}" WHERE entity = ?', (keys[0],)
            ).fetchone()
            if row is not None:
                found[keys[0]] = (orjson.loads(row[1]), row[0])
            return found
        chunks = [keys[i : i + _CHUNK] for i in range(0, len(keys), _CHUNK)]
        if len(chunks) > 1:
            conn.execute("BEGIN")  # one snapshot for every chunk
        try:
            for chunk in chunks:
                marks = ",".join("?" * len(chunk))
                for entity, ts, payload in conn.execute(
                    f'SELECT entity, event_ms, payload FROM "{table}" WHERE entity IN ({marks})',
                    chunk,
                ):
                    found[entity] = (orjson.loads(payload), ts)
        finally:
            if len(chunks) > 1:
                conn.execute("COMMIT")
        return found

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
