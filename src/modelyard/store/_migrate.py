"""Bring a metadata store to the current schema, once, even when many processes start at once.

The check costs one query when the store is current. Otherwise the first process takes a
lock (a file lock beside a SQLite database, an advisory lock on PostgreSQL), upgrades
with Alembic, and the others wait and find the work done.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy import exc as sa_exc

from modelyard.core.errors import StoreUnreadableError
from modelyard.store._engine import Engines
from modelyard.store._errors import translated

HEAD = "0008"  # tests check this equals Alembic's head
_PG_LOCK_ID = 0x6D6F64656C  # "model"
MIGRATIONS = Path(__file__).with_name("migrations")


def current_revision(connection: Connection) -> str | None:
    try:
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    except (sa_exc.OperationalError, sa_exc.ProgrammingError):
        connection.rollback()
        return None
    return None if row is None else str(row[0])


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_schema(engines: Engines, database_path: str | None) -> None:
    """Upgrade the store to HEAD if it is behind; a no-op costing one query if it is not."""
    with translated(engines.where), engines.read.connect() as connection:
        revision = current_revision(connection)
    if revision == HEAD:
        return
    if revision is not None and revision > HEAD:
        raise StoreUnreadableError(
            f"metadata store {engines.where} is at schema {revision}, newer than this "
            f"modelyard ({HEAD}); upgrade modelyard"
        )
    if engines.dialect == "sqlite":
        lock = Path(database_path or "memory").with_suffix(".migrate.lock")
        with _file_lock(lock), translated(engines.where):
            raw = engines.write.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA journal_mode = WAL")  # type: ignore[union-attr]
            finally:
                raw.close()
            with engines.write.connect() as connection:
                if current_revision(connection) != HEAD:
                    _upgrade(connection)
                    connection.commit()
        return
    with translated(engines.where), engines.write.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
        connection.commit()
        try:
            if current_revision(connection) != HEAD:
                _upgrade(connection)
                connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
            connection.commit()
