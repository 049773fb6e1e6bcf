"""``modelyard features``: plan, apply, list, show."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli._common import Json, TrackingUri
from modelyard.cli._output import Styled, console, emit_json, friendly_errors, table
from modelyard.core.extras import require

if TYPE_CHECKING:  # imported when a command runs: `--help` stays quick
    from modelyard.features import FeatureStore, Plan

app = typer.Typer(help="Declare, apply and inspect feature definitions.", no_args_is_help=True)

Repo = Annotated[
    Path, typer.Option("--repo", "-r", help="The feature repository folder (its *.py files).")
]


def _store(repo: Path, tracking_uri: str | None, online_store: str | None = None) -> FeatureStore:
    from modelyard.features import FeatureStore

    return FeatureStore(repo_path=repo, tracking_uri=tracking_uri, online_store=online_store)


def _print_plan(title: str, plan: Plan) -> None:
    rows = [[label, Styled("add", "green")] for label in plan.added]
    rows += [[label, Styled("change", "yellow")] for label in plan.changed]
    rows += [[label, Styled("remove", "red")] for label in plan.removed]
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


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO date or time, e.g. 2026-11-01 or 2026-11-01T12:00:00+00:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command()
def materialize(
    start: Annotated[
        str, typer.Argument(help="Start of the event-time window (ISO, UTC if no zone).")
    ],
    end: Annotated[str, typer.Argument(help="End of the window.")],
    views: Annotated[
        list[str] | None,
        typer.Option("--view", "-v", help="Only these feature views (repeatable)."),
    ] = None,
    repo: Repo = Path("."),
    online_store: Annotated[
        str | None,
        typer.Option(help="redis://... or a SQLite file (default: the home's online.db)."),
    ] = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Load the latest values in [START, END] into the online store (idempotent; progress shown)."""
    with friendly_errors():
        fs = _store(repo, tracking_uri, online_store)
        counts = fs.materialize(_when(start), _when(end), views, progress=not json)
    if json:
        emit_json(counts)
        return
    table("Materialized", ["feature view", "entities written"], [[v, n] for v, n in counts.items()])


@app.command("materialize-incremental")
def materialize_incremental(
    end: Annotated[str, typer.Argument(help="Materialize up to this time (ISO).")],
    views: Annotated[
        list[str] | None,
        typer.Option("--view", "-v", help="Only these feature views (repeatable)."),
    ] = None,
    repo: Repo = Path("."),
    online_store: Annotated[str | None, typer.Option(help="redis://... or a SQLite file.")] = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Materialize from where the last completed run of each view stopped up to END."""
    with friendly_errors():
        fs = _store(repo, tracking_uri, online_store)
        counts = fs.materialize_incremental(_when(end), views, progress=not json)
    if json:
        emit_json(counts)
        return
    table("Materialized", ["feature view", "entities written"], [[v, n] for v, n in counts.items()])


@app.command()
def search(
    text: Annotated[
        str, typer.Argument(help="Words to look for in names, descriptions, owners and tags.")
    ],
    repo: Repo = Path("."),
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Find feature views and features by name, description, owner or tag."""
    needle = text.lower()
    with friendly_errors():
        views = _store(repo, tracking_uri).list_feature_views()
    hits = []
    for v in views:
        haystack = " ".join(
            [v.name, v.description, v.owner, *v.tags.keys(), *v.tags.values()]
        ).lower()
        matched = [
            f.name for f in v.schema if needle in f.name.lower() or needle in f.description.lower()
        ]
        if needle in haystack or matched:
            hits.append(
                {
                    "view": v.name,
                    "features": matched or v.feature_names,
                    "owner": v.owner,
                    "description": v.description,
                }
            )
    if json:
        emit_json(hits)
        return
    table(
        f"Features matching {text!r}",
        ["view", "features", "owner", "description"],
        [
            [h["view"], ", ".join(h["features"]), h["owner"] or "-", h["description"] or "-"]
            for h in hits
        ],
        caption=None if hits else "Nothing matches.",
    )


def _announce(
    fs: FeatureStore, repo: Path, host: str, port: int, workers: int, chosen: bool
) -> None:
    """The startup lines: where the server listens, and which online store it reads (saying
    so loudly when that store holds nothing for the repo's views)."""
    views = [v.name for v in fs.list_feature_views() if v.online]
    store = fs.online_store
    states = {name: store.state(fs.project, name) for name in views}
    console.print(
        f"serving features of [bold]{repo}[/] ({len(views)} online view{'s' if len(views) != 1 else ''}) "
        f"on http://{host}:{port} with {workers} worker{'s' if workers > 1 else ''} (OpenAPI: /openapi.json)",
        highlight=False, soft_wrap=True,
    )
    default = "" if chosen else " (the default; choose another with --online-store or $MODELYARD_ONLINE_STORE)"
    console.print(f"online store: {store.uri}{default}", highlight=False, soft_wrap=True)
    empty = [n for n, state in states.items() if state == "empty"]
    legacy = [n for n, state in states.items() if state == "legacy"]
    where = f" --repo {repo}" + ("" if not chosen else f" --online-store {store.uri}")
    if empty:
        console.print(
            f"[yellow]warning:[/] nothing is materialized in this store for {', '.join(empty)}: every "
            f"lookup will answer NOT_FOUND. Run: modelyard features materialize START END{where}",
            highlight=False, soft_wrap=True,
        )
    if legacy:
        console.print(
            f"[yellow]warning:[/] {', '.join(legacy)} hold rows written by an older modelyard, which are "
            f"not served; materialize again: modelyard features materialize START END{where}",
            highlight=False, soft_wrap=True,
        )


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
    """Serve online features over HTTP (POST /get-online-features; OpenAPI at /openapi.json).

    Prints the online store it reads, and warns when that store holds nothing for the repo."""
    with friendly_errors():
        uvicorn = require("uvicorn", "modelyard features serve")
        require("starlette", "modelyard features serve")
    import os

    if online_store:
        os.environ["MODELYARD_ONLINE_STORE"] = online_store
    if tracking_uri:
        os.environ["MODELYARD_TRACKING_URI"] = tracking_uri
    with friendly_errors():  # a broken repo or store fails here, with a clear message
        fs = _store(repo, tracking_uri, online_store)
        _announce(
            fs, repo.absolute(), host, port, workers, bool(os.environ.get("MODELYARD_ONLINE_STORE"))
        )
        fs.online_store.close()
    os.environ["MODELYARD_FEATURE_REPO"] = str(repo.absolute())
    uvicorn.run(
        "modelyard.server._features_main:app",
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # httptools; slow clients get 408; small lookups are answered without a request cycle
        http="modelyard.http._direct:DirectProtocol",
        limit_concurrency=1000,
        log_level="warning",
    )
