"""Fixtures for the team server: a live server (real HTTP on loopback) over a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelyard.server import ServerConfig, build_state, create_app
from modelyard.server._state import ServerState
from modelyard.server.auth import create_user

from .live import serve


@dataclass
class Live:
    url: str
    state: ServerState
    store_url: str
    artifacts: str

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def user(self, name: str, role: str) -> str:
        return create_user(self.state.store.users, name, role)[1]


@pytest.fixture
def live_server(store_url: str, tmp_path: Path) -> Iterator[Live]:
    """A team server with token auth over a fresh store (SQLite and PostgreSQL)."""
    artifacts = str(tmp_path / "server-artifacts")
    state = build_state(
        ServerConfig(backend_store_uri=store_url, artifacts_destination=artifacts, auth="token")
    )
    with serve(create_app(state=state)) as url:
        yield Live(url, state, store_url, artifacts)


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[Live]:
    """A team server without auth (loopback) over a fresh SQLite store."""
    store_url = f"sqlite:///{tmp_path / 'server' / 'modelyard.db'}"
    artifacts = str(tmp_path / "server-artifacts")
    state = build_state(
        ServerConfig(backend_store_uri=store_url, artifacts_destination=artifacts, auth="none")
    )
    with serve(create_app(state=state)) as url:
        yield Live(url, state, store_url, artifacts)
