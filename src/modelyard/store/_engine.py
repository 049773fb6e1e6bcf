"""Engines for the metadata store: SQLite (WAL, busy timeout, immediate writes) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from modelyard.core.errors import ConfigurationError, MissingDependencyError
from modelyard.core.settings import sqlite_synchronous


@dataclass(frozen=True)
class Engines:
    """A write engine (transactions take the write lock up front) and a read engine."""

    write: Engine
    read: Engine
    dialect: str  # "sqlite" or "postgresql"
    where: str  # a printable location, without passwords


def _sqlite_engine(url: str, busy_timeout_s: float, immediate: bool) -> Engine:
    synchronous = sqlite_synchronous()
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Transactions are begun explicitly below, so the driver must not begin its own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        # with WAL, NORMAL survives a killed process; FULL also survives a power loss
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def create_engines(url: str, busy_timeout_s: float) -> Engines:
    """Engines for ``url``; a SQLite file's folder is created when missing."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    where = parsed.render_as_string(hide_password=True)
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)
        return Engines(
            write=_sqlite_engine(url, busy_timeout_s, immediate=True),
            read=_sqlite_engine(url, busy_timeout_s, immediate=False),
            dialect="sqlite",
            where=where,
        )
    if backend == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError("psycopg", "postgres", "A PostgreSQL store") from error
        engine = create_engine(url, pool_pre_ping=True)
        return Engines(write=engine, read=engine, dialect="postgresql", where=where)
    raise ConfigurationError(
        f"metadata store URL {where!r} uses {backend!r}; supported are sqlite and postgresql"
    )
