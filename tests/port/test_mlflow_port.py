"""The port test: typical MLflow scripts (``mlflow_scripts/``), rewritten textually from
``mlflow`` to ``modelyard``, run unchanged otherwise — and give what MLflow gives.

Each script prints one ``PORT-REPORT {json}`` line: the runs, params, metrics and
predictions it saw. Every script runs in a fresh process and folder, once renamed (against
modelyard) and, when the ``mlflow`` package is installed (the dev extra has
``mlflow-skinny``), once as written (against MLflow, on its own SQLite store); the two
reports must agree.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).parent / "mlflow_scripts"
NAMES = sorted(p.stem for p in SCRIPTS.glob("*.py"))
MARK = "PORT-REPORT "


def renamed(source: str) -> str:
    """The user's port: every ``mlflow`` becomes ``modelyard`` (``MlflowClient`` keeps its
    name: modelyard has it too)."""
    return source.replace("mlflow", "modelyard")


def run_script(source: str, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    folder.mkdir(parents=True)
    script = folder / "script.py"
    script.write_text(source, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-4000:]}"
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert len(lines) == 1, done.stdout[-2000:]
    report: dict[str, Any] = json.loads(lines[0][len(MARK) :])
    return report


def same(ours: Any, theirs: Any, where: str = "report") -> None:
    """Equal, with floats equal to 1e-9 relative (the same computations, on other stores)."""
    if isinstance(ours, float) or isinstance(theirs, float):
        assert math.isclose(float(ours), float(theirs), rel_tol=1e-9, abs_tol=1e-12), where
    elif isinstance(ours, dict):
        assert set(ours) == set(theirs), f"{where}: keys {sorted(ours)} vs {sorted(theirs)}"
        for key in ours:
            same(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items vs {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


@pytest.fixture(scope="module")
def mlflow_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What each script reports under the real MLflow (empty when it is not installed)."""
    if importlib.util.find_spec("mlflow") is None:
        return {}
    root = tmp_path_factory.mktemp("mlflow")

    def report(name: str) -> dict[str, Any]:
        folder = root / name
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        return run_script(
            (SCRIPTS / f"{name}.py").read_text(encoding="utf-8"),
            folder,
            {
                "TRACKING_URI": uri,
                "MLFLOW_TRACKING_URI": uri,
                "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",  # MLflow's gate on its pickles
                "PYTHONWARNINGS": "ignore",
            },
        )

    # two at a time: each script is its own process on its own store and folder, and most of
    # its time is importing MLflow
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(NAMES, pool.map(report, NAMES), strict=True))


def test_the_folder_holds_the_scripts_people_have() -> None:
    assert NAMES == [
        "lightgbm_autolog",
        "nested_sweep",
        "quickstart",
        "search_runs",
        "sklearn_autolog",
        "xgboost_registry",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_script_runs_after_the_rename_and_matches_mlflow(
    name: str, tmp_path: Path, mlflow_reports: dict[str, dict[str, Any]]
) -> None:
    source = (SCRIPTS / f"{name}.py").read_text(encoding="utf-8")
    assert "import mlflow" in source
    folder = tmp_path / "modelyard"
    uri = f"sqlite:///{folder / 'modelyard.db'}"
    ours = run_script(
        renamed(source),
        folder,
        {"TRACKING_URI": uri, "MODELYARD_TRACKING_URI": uri, "MODELYARD_HOME": str(folder / "home")},
    )
    assert ours  # the script got to its report
    if mlflow_reports:
        same(ours, mlflow_reports[name], name)
