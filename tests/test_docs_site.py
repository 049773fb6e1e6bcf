"""The documentation site builds with ``mkdocs build --strict`` (no broken link, no missing
reference, no page left out of the nav), and its references cover the whole public surface:
every name in ``modelyard.__all__`` and in each public module's ``__all__`` has an entry in the
API reference, and every ``modelyard`` command has one in the CLI reference."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer

import modelyard
from modelyard.cli import app

ROOT = Path(__file__).resolve().parents[1]
# the modules a user imports, each with its own API page (reference/api/<page>.md)
MODULE_PAGES = {
    "features": "features",
    "pipelines": "pipelines",
    "monitoring": "monitoring",
    "serving": "serving",
    "data": "data",
    **{
        m: "mlflow-layout"
        for m in (
            "sklearn",
            "lightgbm",
            "xgboost",
            "onnx",
            "pyfunc",
            "models",
            "entities",
            "exceptions",
            "client",
        )
    },
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))


def test_the_site_builds_strict_with_every_page(site: Path) -> None:
    for page in (
        "getting-started",
        "concepts/loop",
        "server",
        "serving",
        "security",
        "coming-from-mlflow",
        "reference/cli",
        "benchmarks",
    ):
        assert (site / page / "index.html").is_file(), page


def test_the_api_reference_covers_modelyard_all(site: Path) -> None:
    top = _ids(site / "reference/api/modelyard/index.html")
    missing = []
    for name in modelyard.__all__:
        if isinstance(getattr(modelyard, name), ModuleType):
            assert name in MODULE_PAGES, (
                f"modelyard.{name} is public: give it an API page (tests/test_docs_site.py MODULE_PAGES)"
            )
            if f"modelyard.{name}" not in _ids(
                site / "reference/api" / MODULE_PAGES[name] / "index.html"
            ):
                missing.append(f"modelyard.{name}")
        elif f"modelyard.{name}" not in top:
            missing.append(f"modelyard.{name}")
    assert not missing, f"not in the API reference: {missing}"


@pytest.mark.parametrize("module", sorted({m for m, page in MODULE_PAGES.items() if page == m}))
def test_the_api_reference_covers_each_public_module(site: Path, module: str) -> None:
    found = _ids(site / "reference/api" / module / "index.html")
    public = importlib.import_module(f"modelyard.{module}").__all__
    missing = [name for name in public if f"modelyard.{module}.{name}" not in found]
    assert not missing, f"modelyard.{module}: not in the API reference: {missing}"


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if hasattr(command, "list_commands"):
        ctx = command.context_class(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _commands(sub, (*path, name))


def test_the_cli_reference_covers_every_command(site: Path) -> None:
    found = _ids(site / "reference/cli/index.html")
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 40
    missing = [" ".join(c) for c in commands if "-".join(("modelyard", *c)) not in found]
    assert not missing, f"not in the CLI reference: {missing}"
