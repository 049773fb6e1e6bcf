"""Options shared by the commands, and how a command finds its client and experiment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.core.entities import Experiment
from modelyard.core.errors import NotFoundError

if TYPE_CHECKING:  # imported when a command runs: `--help` stays quick
    from modelyard.tracking import Client

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        "-t",
        envvar="MODELYARD_TRACKING_URI",
        help="Store to use: a folder, sqlite:///file.db or postgresql://... (default: ./.modelyard).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def client(tracking_uri: str | None) -> Client:
    from modelyard.tracking import Client

    return Client(tracking_uri)


def experiment(c: Client, ref: str) -> Experiment:
    """An experiment by id (digits) or by name."""
    if ref.isdigit():
        try:
            return c.get_experiment(ref)
        except NotFoundError:
            pass
    found = c.get_experiment_by_name(ref)
    if found is None:
        names = ", ".join(repr(e.name) for e in c.search_experiments()[:10]) or "none yet"
        raise NotFoundError(f"experiment {ref!r} does not exist; experiments: {names}")
    return found
