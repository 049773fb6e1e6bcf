"""Retried writes done once: a write that arrives with a request id claims that id in the
same transaction as the write itself.

The team server runs each write inside ``request_scope(request_id, actor, operation)``; the
store methods that are not naturally idempotent (appending metric points, creating an
experiment, a run or a model version, moving an alias ...) call ``claim`` inside their
transaction. A claim that finds the id already taken means the write was done before (the
client retried after losing the answer): the method then returns what the first attempt
produced instead of writing again. Because the claim commits or rolls back with the write, a
server killed at any moment leaves either both or neither.

Outside a scope (the library used in-process) nothing is claimed and nothing is recorded.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from modelyard.core.ids import now_ms
from modelyard.store._schema import request_log


@dataclass(frozen=True, slots=True)
class RequestScope:
    """Who asks for a write, under which request id, and what the write is."""

    request_id: str
    actor: str
    operation: str


_SCOPE: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar(
    "modelyard_request_scope", default=None
)


@contextmanager
def request_scope(request_id: str, actor: str, operation: str) -> Iterator[RequestScope]:
    """Writes inside the block are claimed under ``request_id`` (see the module docstring)."""
    scope = RequestScope(request_id, actor, operation)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def current_scope() -> RequestScope | None:
    return _SCOPE.get()


@dataclass(frozen=True, slots=True)
class Claim:
    """``fresh``: this attempt does the write; else ``result`` is what the first attempt recorded."""

    fresh: bool
    result: str | None = None


FRESH = Claim(True)


def claim(conn: Connection, dialect: str) -> Claim:
    """Claim the current scope's request id inside ``conn``'s transaction (FRESH outside a scope).

    A concurrent attempt with the same id waits for the first one's transaction, then finds
    the id taken."""
    scope = _SCOPE.get()
    if scope is None:
        return FRESH
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    inserted = conn.execute(
        insert(request_log)
        .values(
            request_id=scope.request_id,
            at=now_ms(),
            actor=scope.actor[:256],
            operation=scope.operation[:64],
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(request_log.c.request_id)  # rowcount is -1 here on psycopg: ask for the row
    ).first()
    if inserted is not None:
        return FRESH
    result = conn.execute(
        select(request_log.c.result).where(request_log.c.request_id == scope.request_id)
    ).scalar()
    return Claim(False, result)


def settle(conn: Connection, result: str) -> None:
    """Record what the claimed write produced (an id, a version number) for its retries."""
    scope = _SCOPE.get()
    if scope is not None:
        conn.execute(
            update(request_log)
            .where(request_log.c.request_id == scope.request_id)
            .values(result=result)
        )


CLAIM_SQL = (
    "INSERT INTO request_log (request_id, at, actor, operation) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (request_id) DO NOTHING"
)


def claim_row(scope: RequestScope) -> tuple[str, int, str, str]:
    """The parameters of CLAIM_SQL for a DB-API cursor (the hot write path)."""
    return (scope.request_id, now_ms(), scope.actor[:256], scope.operation[:64])


def forget_before(conn: Connection, at_ms: int) -> int:
    """Drop request ids older than ``at_ms`` (retries come within minutes); the count dropped."""
    return int(conn.execute(delete(request_log).where(request_log.c.at < at_ms)).rowcount or 0)
