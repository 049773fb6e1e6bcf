"""`modelyard --help` answers without importing the libraries the commands run on: each
command imports its client, feature store or registry when it runs. Before, the CLI's own
modules imported them all, and every `--help` paid ~1.2 s of imports (pandas, SQLAlchemy,
pyarrow...). Checked in a fresh interpreter, by which modules are loaded, not by time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ["duckdb", "httpx", "numpy", "pandas", "pyarrow", "scipy", "sklearn", "sqlalchemy"]

PROBE = """
import json, sys
from modelyard.cli import main
sys.argv = ["modelyard", *ARGS]
try:
    main()
except SystemExit as done:
    code = done.code
print("LOADED " + json.dumps({"code": code, "heavy": sorted(m for m in HEAVY if m in sys.modules)}))
"""


def loaded(*args: str) -> tuple[str, dict[str, object]]:
    code = PROBE.replace("ARGS", repr(list(args))).replace("HEAVY", repr(HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    marker = [line for line in done.stdout.splitlines() if line.startswith("LOADED ")]
    assert marker, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout, json.loads(marker[0][len("LOADED ") :])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--help"], "features"),
        (["features", "--help"], "materialize"),
        (["models", "--help"], "promote"),
        (["runs", "--help"], "list"),
        (["webhooks", "--help"], "deliveries"),
        (["server", "--help"], "users"),
    ],
)
def test_help_imports_none_of_the_heavy_libraries(args: list[str], says: str) -> None:
    out, found = loaded(*args)
    assert found["code"] == 0
    assert says in out  # the help itself was printed
    assert found["heavy"] == []


def test_a_command_still_imports_what_it_runs_on(tmp_path: Path) -> None:
    """The lazy imports are where the commands run: listing experiments loads the store."""
    out, found = loaded("experiments", "list", "--tracking-uri", str(tmp_path), "--json")
    assert found["code"] in (0, None), out
    assert "sqlalchemy" in found["heavy"]
