"""``modelyard experiments``: list, create, show, rename, delete, restore."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._common import Json, TrackingUri, client, experiment
from modelyard.cli._output import emit_json, friendly_errors, table, when
from modelyard.core.entities import Experiment, ViewType

app = typer.Typer(help="Create, list and manage experiments.", no_args_is_help=True)


def _record(e: Experiment, runs: int | None = None) -> dict[str, object]:
    record: dict[str, object] = {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "lifecycle_stage": e.lifecycle_stage.value,
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": e.tags,
    }
    if runs is not None:
        record["runs"] = runs
    return record


@app.command("list")
def list_(
    tracking_uri: TrackingUri = None,
    all_: Annotated[bool, typer.Option("--all", help="Include deleted experiments.")] = False,
    json: Json = False,
) -> None:
    """List experiments with their number of runs."""
    with friendly_errors():
        c = client(tracking_uri)
        found = c.search_experiments(ViewType.ALL if all_ else ViewType.ACTIVE_ONLY)
        counts = c.store.count_runs([e.experiment_id for e in found])
    if json:
        emit_json([_record(e, counts[e.experiment_id]) for e in found])
        return
    table(
        "Experiments",
        ["id", "name", "runs", "created", "stage"],
        [
            [
                e.experiment_id,
                e.name,
                counts[e.experiment_id],
                when(e.creation_time),
                e.lifecycle_stage.value,
            ]
            for e in found
        ],
        caption=None
        if found
        else "No experiments yet: run `modelyard demo` or call modelyard.set_experiment().",
    )


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Name of the new experiment.")],
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Create an experiment."""
    with friendly_errors():
        experiment_id = client(tracking_uri).create_experiment(name)
    if json:
        emit_json({"experiment_id": experiment_id, "name": name})
    else:
        typer.echo(f"Created experiment {name!r} with id {experiment_id}")


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="Experiment id or name.")],
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Show one experiment."""
    with friendly_errors():
        c = client(tracking_uri)
        e = experiment(c, ref)
        runs = c.store.count_runs([e.experiment_id])[e.experiment_id]
    if json:
        emit_json(_record(e, runs))
        return
    table(
        f"Experiment {e.name}",
        ["field", "value"],
        [
            ["id", e.experiment_id],
            ["name", e.name],
            ["runs", runs],
            ["created", when(e.creation_time)],
            ["stage", e.lifecycle_stage.value],
            *[[f"tag {k}", val] for k, val in e.tags.items()],
        ],
    )


@app.command()
def rename(
    ref: Annotated[str, typer.Argument(help="Experiment id or name.")],
    new_name: Annotated[str, typer.Argument(help="The new name.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Rename an experiment."""
    with friendly_errors():
        c = client(tracking_uri)
        c.rename_experiment(experiment(c, ref).experiment_id, new_name)
    typer.echo(f"Renamed {ref!r} to {new_name!r}")


@app.command()
def delete(
    ref: Annotated[str, typer.Argument(help="Experiment id or name.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Move an experiment to the trash (restore brings it back)."""
    with friendly_errors():
        c = client(tracking_uri)
        e = experiment(c, ref)
        c.delete_experiment(e.experiment_id)
    typer.echo(
        f"Deleted experiment {e.name!r} (id {e.experiment_id}); undo with `modelyard experiments restore {e.experiment_id}`"
    )


@app.command()
def restore(
    ref: Annotated[str, typer.Argument(help="Experiment id.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Restore a deleted experiment."""
    with friendly_errors():
        c = client(tracking_uri)
        c.restore_experiment(ref)
    typer.echo(f"Restored experiment {ref}")
