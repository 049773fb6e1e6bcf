"""The URIs that name things across the loop.

runs:/<run-id>/<path>          an artifact of a run
models:/<name>/<version>       a model version        (registry)
models:/<name>@<alias>         the version an alias points at
datasets:/<name>/<version>     a dataset version
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.core.errors import ValidationError

_RUNS = re.compile(r"^runs:/+(?P<run_id>[0-9a-fA-F]{32})(?:/(?P<path>.*))?$")


@dataclass(frozen=True, slots=True)
class RunArtifactUri:
    run_id: str
    path: str

    def __str__(self) -> str:
        return f"runs:/{self.run_id}/{self.path}" if self.path else f"runs:/{self.run_id}"


def parse_runs_uri(uri: str) -> RunArtifactUri:
    """Parse ``runs:/<run-id>/<path>``; the error shows the expected form."""
    match = _RUNS.match(uri) if isinstance(uri, str) else None
    if match is None:
        raise ValidationError(
            f"{uri!r} is not a run artifact URI; expected runs:/<32-hex run id>/<path>, "
            "e.g. runs:/0a1b.../model"
        )
    return RunArtifactUri(match["run_id"].lower(), (match["path"] or "").strip("/"))


_MODELS = re.compile(
    r"^models:/+(?P<name>[^/@]+)(?:/(?P<version>\d+|latest)|@(?P<alias>[A-Za-z_][\w\-]*))/?$"
)


@dataclass(frozen=True, slots=True)
class ModelUri:
    """``models:/name/3``, ``models:/name/latest`` or ``models:/name@champion``."""

    name: str
    version: int | None = None
    alias: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{'latest' if self.latest else self.version}"


def parse_models_uri(uri: str) -> ModelUri:
    match = _MODELS.match(uri) if isinstance(uri, str) else None
    if match is None:
        raise ValidationError(
            f"{uri!r} is not a model URI; expected models:/<name>/<version>, "
            "models:/<name>/latest or models:/<name>@<alias>"
        )
    version = match["version"]
    if version == "latest":
        return ModelUri(match["name"], latest=True)
    if version is not None:
        return ModelUri(match["name"], version=int(version))
    return ModelUri(match["name"], alias=match["alias"])
