"""Run Python as on a plain ``pip install modelyard``: in a subprocess where every installed
package outside the core dependencies (pyproject.toml's ``dependencies`` and what they
require) cannot be imported, as if the extras were never installed."""

from __future__ import annotations

import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

_BLOCKER = """
import importlib.abc, sys
_BLOCKED = frozenset({blocked!r})
class _PlainInstall(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in a plain install)", name=name)
        return None
sys.meta_path.insert(0, _PlainInstall())
"""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def core_distributions() -> set[str]:
    """The core dependencies and everything they need, as installed here."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    found: set[str] = set()
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = _canonical(requirement.name)
        if name in found:
            continue
        found.add(name)
        try:
            todo.extend(Requirement(r) for r in md.requires(name) or [])
        except md.PackageNotFoundError:
            continue
    return found


def blocked_modules() -> set[str]:
    """Top-level modules of installed distributions a plain install would not have."""
    core = core_distributions() | {"modelyard"}
    return {
        module
        for module, distributions in md.packages_distributions().items()
        if not module.startswith("__editable__")
        and not any(_canonical(d) in core for d in distributions)
    }


def run_plain(code: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with only the core dependencies importable."""
    prelude = _BLOCKER.format(blocked=sorted(blocked_modules()))
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
