"""Alembic migrations: an empty database upgrades to head on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from modelyard.store import HEAD, SqlStore
from modelyard.store._migrate import MIGRATIONS
from modelyard.store._schema import metadata


def _sa_url(url: str) -> str:
    return (
        url.replace("postgresql://", "postgresql+psycopg://", 1)
        if url.startswith("postgresql://")
        else url
    )


def test_head_constant_matches_the_migration_scripts() -> None:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_empty_database_upgrades_to_head_matching_the_models(store_url: str) -> None:
    url = _sa_url(store_url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    engine.dispose()

    SqlStore(url).close()

    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        tables = set(inspect(conn).get_table_names())
        assert {
            "experiments",
            "runs",
            "metrics",
            "latest_metrics",
            "params",
            "tags",
            "artifacts",
        } <= tables
        # the migration creates exactly what the table definitions declare
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    engine.dispose()


def test_sqlite_store_uses_wal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    SqlStore(f"sqlite:///{tmp_path}/s.db").close()
    assert sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
