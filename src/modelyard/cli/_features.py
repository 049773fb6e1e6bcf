"""``modelyard features``: plan, apply, list, show."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli._common import Json, TrackingUri
from modelyard.cli._output import console, emit_json, friendly_errors, table
from modelyard.features import FeatureStore, Plan

app = typer.Typer(help="Declare, apply and inspect feature definitions.", no_args_is_help=True)

Repo = Annotated[
    Path, typer.Option("--repo", "-r", help="The feature repository folder (its *.py files).")
]


def _store(repo: Path, tracking_uri: str | None) -> FeatureStore:
    return FeatureStore(repo_path=repo, tracking_uri=tracking_uri)


def _print_plan(title: str, plan: Plan) -> None:
    rows = [[label, "[green]add[/]"] for label in plan.added]
    rows += [[label, "[yellow]change[/]"] for label in plan.changed]
    rows += [[label, "[red]remove[/]"] for label in plan.removed]
    table(title, ["definition", "action"], rows, caption="Nothing to change." if not rows else None)


@app.command()
def plan(repo: Repo = Path("."), tracking_uri: TrackingUri = None, json: Json = False) -> None:
    """Show what `apply` would add, change or remove."""
    with friendly_errors():
        result = _store(repo, tracking_uri).plan()
    if json:
        emit_json({"added": result.added, "changed": result.changed, "removed": result.removed})
        return
    _print_plan("Plan", result)


@app.command()
def apply(repo: Repo = Path("."), tracking_uri: TrackingUri = None, json: Json = False) -> None:
    """Check every source and record the definitions in the metadata store."""
    with friendly_errors():
        result = _store(repo, tracking_uri).apply()
    if json:
        emit_json({"added": result.added, "changed": result.changed, "removed": result.removed})
        return
    _print_plan("Applied", result)


@app.command("list")
def list_(repo: Repo = Path("."), tracking_uri: TrackingUri = None, json: Json = False) -> None:
    """List entities, feature views and feature services."""
    with friendly_errors():
        fs = _store(repo, tracking_uri)
        views, services, entities = (
            fs.list_feature_views(),
            fs.list_feature_services(),
            fs.list_entities(),
        )
    if json:
        emit_json(
            {
                "entities": [e.to_spec() for e in entities],
                "feature_views": [v.to_spec() for v in views],
                "feature_services": [s.to_spec() for s in services],
            }
        )
        return
    table(
        "Feature views",
        ["name", "entities", "features", "ttl", "online", "owner"],
        [
            [
                v.name,
                ", ".join(v.join_keys),
                ", ".join(v.feature_names),
                str(v.ttl or "-"),
                "yes" if v.online else "no",
                v.owner or "-",
            ]
            for v in views
        ],
    )
    table(
        "Feature services",
        ["name", "features"],
        [[s.name, ", ".join(str(r) for r in s.refs)] for s in services],
    )


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="A feature view or feature service.")],
    repo: Repo = Path("."),
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Show one feature view (its fields and source) or feature service."""
    with friendly_errors():
        fs = _store(repo, tracking_uri)
        names = {v.name for v in fs.list_feature_views()}
        spec = (
            fs.get_feature_view(name).to_spec()
            if name in names
            else fs.get_feature_service(name).to_spec()
        )
    if json:
        emit_json(spec)
        return
    console.print_json(data=spec)


@app.command()
def serve(
    repo: Repo = Path("."),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 6566,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    online_store: Annotated[
        str | None,
        typer.Option(help="redis://... or a SQLite file (default: the home's online.db)."),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Serve online features over HTTP (POST /get-online-features; OpenAPI at /openapi.json)."""
    try:
        import uvicorn
    except ImportError:
        raise typer.BadParameter(
            "the feature server needs: pip install 'modelyard[serve]'"
        ) from None
    import os

    if online_store:
        os.environ["MODELYARD_ONLINE_STORE"] = online_store
    if tracking_uri:
        os.environ["MODELYARD_TRACKING_URI"] = tracking_uri
    os.environ["MODELYARD_FEATURE_REPO"] = str(repo.absolute())
    uvicorn.run(
        "modelyard.server._features_main:app",
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )
