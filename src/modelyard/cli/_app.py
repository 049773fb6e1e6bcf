"""The ``modelyard`` command: its commands in panels, in the order a newcomer meets them."""

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
    _webhooks,
)
from modelyard.cli._help import Group


class _Root(Group):
    order = (
        "demo",
        "experiments", "runs", "models", "features", "datasets",
        "ui", "server", "users", "webhooks",
        "serve", "score", "build", "token",
        "monitor", "pipelines", "scheduler", "lineage",
    )


app = typer.Typer(
    name="modelyard",
    cls=_Root,
    help="modelyard: features, experiments, a registry, serving, monitoring and pipelines, in one loop.\n\n"
    "Every command reads the store from --tracking-uri or $MODELYARD_TRACKING_URI "
    "(default: ./.modelyard). Listings print Rich tables, or JSON with --json.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
START, TRACK, SERVE, WATCH = "Start here", "Track, register, data", "Serve", "Watch and retrain"
app.command(rich_help_panel=START)(_demo.demo)
app.add_typer(_experiments.app, name="experiments", rich_help_panel=TRACK)
app.add_typer(_runs.app, name="runs", rich_help_panel=TRACK)
app.add_typer(_models.app, name="models", rich_help_panel=TRACK)
app.add_typer(_features.app, name="features", rich_help_panel=TRACK)
app.add_typer(_datasets.app, name="datasets", rich_help_panel=TRACK)
app.command(rich_help_panel=SERVE)(_serve.serve)
app.command(rich_help_panel=SERVE)(_serve.score)
app.command(rich_help_panel=SERVE)(_serve.build)
app.add_typer(_serve.token_app, name="token", rich_help_panel=SERVE)
app.add_typer(_monitor.app, name="monitor", rich_help_panel=WATCH)
app.add_typer(_pipelines.app, name="pipelines", rich_help_panel=WATCH)
app.command(rich_help_panel=WATCH)(_pipelines.scheduler)
app.command(rich_help_panel=WATCH)(_pipelines.lineage)
app.command(rich_help_panel=START)(_ui.ui)
app.command(rich_help_panel=SERVE)(_server.server)
app.add_typer(_server.users_app, name="users", rich_help_panel=SERVE)
app.add_typer(_webhooks.app, name="webhooks", rich_help_panel=TRACK)


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
