"""The ``modelyard`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard import __version__
from modelyard.cli import (
    _datasets,
    _demo,
    _experiments,
    _features,
    _models,
    _monitor,
    _pipelines,
    _runs,
    _serve,
    _server,
    _ui,
)

app = typer.Typer(
    name="modelyard",
    help="modelyard: features, experiments, a registry, serving, monitoring and pipelines, in one loop.\n\n"
    "Every command reads the store from --tracking-uri or $MODELYARD_TRACKING_URI "
    "(default: ./.modelyard). Listings print Rich tables, or JSON with --json.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(_experiments.app, name="experiments")
app.add_typer(_runs.app, name="runs")
app.add_typer(_models.app, name="models")
app.add_typer(_features.app, name="features")
app.add_typer(_datasets.app, name="datasets")
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_pipelines.app, name="pipelines")
app.command()(_pipelines.scheduler)
app.command()(_pipelines.lineage)
app.command()(_demo.demo)
app.command()(_serve.serve)
app.command()(_serve.score)
app.command()(_serve.build)
app.add_typer(_serve.token_app, name="token")
app.command()(_server.server)
app.add_typer(_server.users_app, name="users")
app.command()(_ui.ui)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """modelyard's command line."""
