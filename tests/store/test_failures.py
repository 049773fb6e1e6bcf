"""An unreadable, locked or too-new database gets an error that names it and what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import modelyard
from modelyard.store import SqlStore


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "modelyard.db"
    path.write_bytes(b"this is a text file, not SQLite" * 100)
    with pytest.raises(
        modelyard.StoreUnreadableError,
        match=r"modelyard.db cannot be read as a modelyard database \(file is not a database\)",
    ):
        modelyard.Client(f"sqlite:///{path}")


def test_a_database_that_is_not_a_modelyard_store_is_left_untouched_when_newer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    conn.commit()
    conn.close()
    with pytest.raises(
        modelyard.StoreUnreadableError, match="is at schema 9999, newer than this modelyard"
    ):
        SqlStore(f"sqlite:///{path}")


def test_a_database_locked_beyond_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_BUSY_TIMEOUT", "0.2")
    url = f"sqlite:///{tmp_path}/locked.db"
    client = modelyard.Client(url)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(
            modelyard.StoreLockedError,
            match="stayed locked by another process .* MODELYARD_BUSY_TIMEOUT",
        ):
            client.log_metric(run_id, "m", 1.0)
        with pytest.raises(modelyard.StoreLockedError):
            client.log_param(run_id, "p", 1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    client.log_metric(run_id, "m", 2.0)  # the store recovers once the lock is gone
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [2.0]


def test_bad_busy_timeout_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELYARD_BUSY_TIMEOUT", "soon")
    with pytest.raises(
        modelyard.ConfigurationError, match="MODELYARD_BUSY_TIMEOUT='soon' is not a number"
    ):
        modelyard.Client(f"sqlite:///{tmp_path}/x.db")


def test_unreachable_postgres_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(modelyard.StoreError, match="127.0.0.1:1/"):
        SqlStore("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_full_sync_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_SQLITE_SYNC", "full")
    store = SqlStore(f"sqlite:///{tmp_path}/s.db")
    with store._engines.read.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.close()
    monkeypatch.setenv("MODELYARD_SQLITE_SYNC", "sometimes")
    with pytest.raises(modelyard.ConfigurationError, match="must be NORMAL or FULL"):
        SqlStore(f"sqlite:///{tmp_path}/t.db")
