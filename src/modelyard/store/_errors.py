"""Database errors translated at the boundary into modelyard's own classes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from modelyard.core.errors import StoreError, StoreLockedError, StoreUnreadableError


def _message(error: BaseException) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]


def translate(error: BaseException, where: str) -> StoreError:
    """The modelyard error for a driver or SQLAlchemy error raised while using ``where``."""
    text = _message(error)
    lowered = text.lower()
    if "database is locked" in lowered or "database table is locked" in lowered:
        return StoreLockedError(
            f"metadata store {where} stayed locked by another process beyond the busy timeout "
            f"({text}); retry, or raise MODELYARD_BUSY_TIMEOUT (seconds)"
        )
    if (
        "file is not a database" in lowered
        or "unable to open database" in lowered
        or "database disk image is malformed" in lowered
        or "no such table" in lowered
        or "readonly database" in lowered
    ):
        return StoreUnreadableError(
            f"metadata store {where} cannot be read as a modelyard database ({text}); "
            "check the tracking URI points at a modelyard store and that the file is readable"
        )
    if "could not connect" in lowered or "connection refused" in lowered or "connection" in lowered:
        return StoreError(
            f"metadata store {where} is unreachable ({text}); check the server is running "
            "and the URL (host, port, database) is right"
        )
    return StoreError(f"metadata store {where} failed: {text}")


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn database errors raised inside the block into modelyard StoreErrors."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.DatabaseError, sa_exc.InterfaceError) as error:
        if isinstance(error, sa_exc.IntegrityError):
            raise
        raise translate(error, where) from error
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.IntegrityError):
            raise
        raise translate(error, where) from error


def is_driver_error(error: BaseException) -> bool:
    """Whether ``error`` comes from a DB-API driver (sqlite3 or psycopg)."""
    module = type(error).__module__
    return isinstance(error, sqlite3.Error) or module.startswith("psycopg")
