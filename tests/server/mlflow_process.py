"""Run a script with the real ``mlflow`` package in a subprocess pointed at a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any


def run_mlflow(
    script: str,
    url: str,
    workdir: Path,
    *,
    token: str | None = None,
    env: dict[str, str] | None = None,
    expect_ok: bool = True,
) -> Any:
    """Run ``script`` (its last printed line is JSON) with ``MLFLOW_TRACKING_URI=url``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "mlflow_script.py"
    path.write_text(textwrap.dedent(script))
    child_env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "GIT_PYTHON_REFRESH": "quiet",
        **(env or {}),
    }
    child_env.pop("MLFLOW_TRACKING_TOKEN", None)
    if token is not None:
        child_env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=workdir,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if expect_ok and done.returncode != 0:
        raise AssertionError(f"the mlflow script failed:\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"the mlflow script printed nothing:\n{done.stderr[-4000:]}"
    # a local store next to the script would mean the client ignored the server
    assert not (workdir / "mlruns").exists() and not (workdir / "mlflow.db").exists()
    return json.loads(lines[-1])
