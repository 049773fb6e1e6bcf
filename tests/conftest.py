"""Shared fixtures: a fresh store per test, on SQLite and (when configured) PostgreSQL.

PostgreSQL tests read MODELYARD_TEST_POSTGRES_URL and skip with a reason when it is
unset; CI (.ci/run) sets it and MODELYARD_REQUIRE_SERVICES=1, so there they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.registry._loader import CACHE
from modelyard.tracking import _client as client_module
from modelyard.tracking import _fluent

POSTGRES_ENV = "MODELYARD_TEST_POSTGRES_URL"


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("MODELYARD_REQUIRE_SERVICES"):
            pytest.fail(f"{POSTGRES_ENV} must be set when MODELYARD_REQUIRE_SERVICES=1")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user@host:port/db")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped afterwards)."""
    import psycopg

    base = postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        _close_stores()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _close_stores() -> None:
    for store in list(client_module._stores.values()):
        store.close()
    client_module._stores.clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once per metadata backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'modelyard.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> modelyard.Client:
    return modelyard.Client(store_url, artifact_uri=str(tmp_path / "artifacts"))


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own home folder and a clean fluent state."""
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MODELYARD_TRACKING_URI", raising=False)
    monkeypatch.delenv("MODELYARD_ARTIFACT_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    modelyard.set_tracking_uri(None)
    CACHE.clear()
    yield
    while _fluent.active_run() is not None:
        _fluent._stack().pop()
    modelyard.set_tracking_uri(None)
    _close_stores()


@pytest.fixture
def fluent(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fluent API pointed at a fresh store on each backend."""
    monkeypatch.setenv("MODELYARD_ARTIFACT_URI", str(tmp_path / "artifacts"))
    modelyard.set_tracking_uri(store_url)
    return store_url
