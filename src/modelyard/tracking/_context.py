"""What a run records about where it ran: git, Python, packages, command line, host."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any


def _git(*args: str, cwd: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_context(cwd: str | None = None) -> dict[str, Any]:
    """The commit, branch, dirty flag and remote of the repository around ``cwd``, if any."""
    where = cwd or os.getcwd()
    commit = _git("rev-parse", "HEAD", cwd=where)
    if commit is None:
        return {}
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=where)
    return {
        "commit": commit,
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD", cwd=where),
        "dirty": bool(status),
        "remote": _git("config", "--get", "remote.origin.url", cwd=where),
    }


@lru_cache(maxsize=1)
def installed_packages() -> dict[str, str]:
    """Every installed distribution and its version (read once per process)."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    return dict(sorted(packages.items()))


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def capture() -> dict[str, Any]:
    """The full context recorded on a run started by the fluent API."""
    argv = list(sys.argv)
    return {
        "git": git_context(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "command": argv,
        "cwd": os.getcwd(),
        "packages": installed_packages(),
    }


def context_tags(context: dict[str, Any]) -> dict[str, str]:
    """The searchable part of the context, as ``modelyard.*`` tags."""
    tags = {
        "modelyard.host": str(context.get("host", "")),
        "modelyard.python": str(context.get("python", "")),
    }
    command = context.get("command") or []
    if command:
        tags["modelyard.source"] = os.path.basename(str(command[0])) or "<interactive>"
    git = context.get("git") or {}
    if git.get("commit"):
        tags["modelyard.git.commit"] = git["commit"]
        tags["modelyard.git.dirty"] = str(bool(git.get("dirty"))).lower()
        if git.get("branch"):
            tags["modelyard.git.branch"] = git["branch"]
    return tags
