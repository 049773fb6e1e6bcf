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
