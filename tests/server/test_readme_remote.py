"""The README's snippets a second time, against a team server: tests/test_readme.py run with
``MODELYARD_README_TRACKING_URI`` pointing at a ``modelyard server`` process on a fresh store,
so only the tracking URI changes. The sections that need stores the server does not serve yet
are skipped there, with their reasons (``REMOTE_SKIPS``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .test_remote_kill import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_runs_against_a_team_server(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    server.start()
    try:
        env = dict(os.environ, MODELYARD_README_TRACKING_URI=server.url)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-v", "-p", "no:randomly", "-p", "no:cacheprovider",
             "-rs", str(ROOT / "tests" / "test_readme.py")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    # every page but those in REMOTE_SKIPS runs against the server, the demo included
    for page in ("getting-started.md", "tracking.md", "registry.md", "features.md", "serving.md",
                 "monitoring.md", "pipelines.md", "events.md"):
        assert f"test_the_docs_run_as_written[{page}] PASSED" in done.stdout, done.stdout[-3000:]
    for page in ("ui.md", "server.md"):
        assert f"test_the_docs_run_as_written[{page}] SKIPPED" in done.stdout, done.stdout[-3000:]
