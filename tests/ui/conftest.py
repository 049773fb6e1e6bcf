"""Fixtures for the web UI: the demo's store built once per session (a small loop: runs, the
champion, drift, the alert, the retraining, the swap), a copy of it per test, the team server
over that copy on a loopback port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelyard.server import ServerConfig, build_state, create_app
from modelyard.server._state import ServerState
from modelyard.server.auth import create_user

from ..server.live import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("MODELYARD_UI_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"))


@dataclass(frozen=True)
class DemoStore:
    folder: Path  # modelyard.db and artifacts/
    home: Path  # MODELYARD_HOME of the demo: its prediction log


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    """``modelyard demo``'s loop on a small scenario (8 weeks of 400 applications), once."""
    from modelyard.demo import run_loop

    root = tmp_path_factory.mktemp("ui-demo")
    home = root / "home"
    saved = {k: os.environ.get(k) for k in ("MODELYARD_HOME", "MODELYARD_TRACKING_URI", "MODELYARD_ARTIFACT_URI")}
    os.environ["MODELYARD_HOME"] = str(home)
    os.environ.pop("MODELYARD_TRACKING_URI", None)
    os.environ.pop("MODELYARD_ARTIFACT_URI", None)
    try:
        summary = run_loop(f"sqlite:///{root / 'store' / 'modelyard.db'}", root / "demo", weeks=8, shift_week=5, rows_per_week=400)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert summary["retrained"] and summary["retrained"]["promoted"], "the demo did not retrain and promote"
    return DemoStore(root / "store", home)


@dataclass
class Site:
    url: str
    state: ServerState

    def http(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)  # type: ignore[arg-type]

    def user(self, name: str, role: str) -> str:
        return create_user(self.state.store.users, name, role)[1]


def _site(demo: DemoStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, auth: str) -> Iterator[Site]:
    folder = tmp_path / "store"
    shutil.copytree(demo.folder, folder)
    monkeypatch.setenv("MODELYARD_HOME", str(demo.home))  # the prediction log, read only
    state = build_state(ServerConfig(backend_store_uri=f"sqlite:///{folder / 'modelyard.db'}", auth=auth))  # type: ignore[arg-type]
    with serve(create_app(state=state)) as url:
        yield Site(url, state)


@pytest.fixture
def demo_site(demo_store: DemoStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The UI over a copy of the demo's store, auth off (what `modelyard ui` serves)."""
    yield from _site(demo_store, tmp_path, monkeypatch, "none")


@pytest.fixture
def secure_site(demo_store: DemoStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The same with token auth (what `modelyard server` serves)."""
    yield from _site(demo_store, tmp_path, monkeypatch, "token")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("MODELYARD_REQUIRE_SERVICES"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
        pytest.skip(f"UI browser tests need Debian's Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
