"""``modelyard runs``: list, search, show, compare, history, artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelyard.cli._common import Json, TrackingUri, client, experiment
from modelyard.cli._output import duration, emit_json, friendly_errors, say, table, when
from modelyard.core.entities import Run, ViewType
from modelyard.core.formatting import number
from modelyard.core.search_filter import Comparison, Entity, Node, parse_filter, parse_order_by

if TYPE_CHECKING:
    from modelyard.tracking import Client

app = typer.Typer(help="Find, inspect and compare runs.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="Run id, or a unique prefix of it (the 8 characters listings print).")]
ExperimentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--experiment", "-e", help="Experiment id or name (repeatable; default: all experiments)."
    ),
]


def _cell(value: Any) -> Any:
    """A comparison cell: numbers as people read them, missing (NaN) as ``-``."""
    if isinstance(value, float):
        return "-" if value != value else number(value)
    return "-" if value is None else value


def run_json(run: Run) -> dict[str, Any]:
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status.value,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage.value,
        "parent_run_id": info.parent_run_id,
        "user": info.user,
        "metrics": run.data.metrics,
        "params": run.data.params,
        "tags": run.data.tags,
        "inputs": [
            {
                "name": d.name,
                "digest": d.digest,
                "context": d.context,
                "source": d.source,
                "num_rows": d.num_rows,
            }
            for d in run.inputs
        ],
    }


def _experiment_ids(c: Client, refs: list[str] | None) -> list[str]:
    if refs:
        return [experiment(c, r).experiment_id for r in refs]
    return [e.experiment_id for e in c.search_experiments()]


def _mentioned(node: Node | None, entity: Entity) -> list[str]:
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [node.key] if node.entity is entity else []
    return [k for item in node.items for k in _mentioned(item, entity)]


def _runs_table(
    title: str, found: list[Run], metrics: list[str], params: list[str], caption: str | None
) -> None:
    if not metrics:
        metrics = sorted({k for r in found for k in r.data.metrics})[:3]
    if not params:
        params = sorted({k for r in found for k in r.data.params})[:2]
    rows = [
        [
            r.info.run_id[:8],
            r.info.run_name,
            r.info.status.value,
            when(r.info.start_time),
            duration(r.info.duration_ms),
        ]
        + [number(r.data.metrics.get(k)) for k in metrics]
        + [r.data.params.get(k, "-") for k in params]
        for r in found
    ]
    table(title, ["run", "name", "status", "started", "took", *metrics, *params], rows, caption, keys=2)


def _search(
    tracking_uri: str | None,
    experiments: list[str] | None,
    filter_string: str,
    order_by: list[str] | None,
    max_results: int,
    page_token: str | None,
    all_: bool,
    json: bool,
    title: str,
) -> None:
    with friendly_errors():
        c = client(tracking_uri)
        ids = _experiment_ids(c, experiments)
        view = ViewType.ALL if all_ else ViewType.ACTIVE_ONLY
        page = (
            c.search_runs(ids, filter_string, view, max_results, order_by, page_token)
            if ids
            else []
        )
        node = parse_filter(filter_string)
        order = parse_order_by(order_by)
    token = getattr(page, "token", None)
    if json:
        emit_json({"runs": [run_json(r) for r in page], "next_page_token": token})
        return
    metric_keys = list(
        dict.fromkeys(
            _mentioned(node, Entity.METRIC) + [o.key for o in order if o.entity is Entity.METRIC]
        )
    )
    param_keys = list(
        dict.fromkeys(
            _mentioned(node, Entity.PARAM) + [o.key for o in order if o.entity is Entity.PARAM]
        )
    )
    caption = f"more: --page-token {token}" if token else (None if page else "No runs match.")
    _runs_table(title, list(page), metric_keys, param_keys, caption)


@app.command("list")
def list_(
    experiments: ExperimentOpt = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-n", help="Show at most this many runs.")
    ] = 50,
    page_token: Annotated[
        str | None, typer.Option(help="Token printed under the previous page.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include deleted runs.")] = False,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """List the newest runs."""
    _search(tracking_uri, experiments, "", None, max_results, page_token, all_, json, "Runs")


@app.command()
def search(
    filter_string: Annotated[
        str,
        typer.Argument(
            help="Filter, e.g. \"metrics.auc > 0.8 and params.model = 'gbm'\". Identifiers: "
            "metrics.*, params.*, tags.*, and attributes status, run_name, start_time, end_time, user. "
            "Operators: = != < <= > >= LIKE ILIKE IN, IS [NOT] NULL; combine with and/or and parentheses.",
        ),
    ] = "",
    experiments: ExperimentOpt = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", "-o", help="e.g. 'metrics.auc DESC' (repeatable)."),
    ] = None,
    max_results: Annotated[int, typer.Option("--max-results", "-n", help="Page size.")] = 50,
    page_token: Annotated[
        str | None, typer.Option(help="Token printed under the previous page.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include deleted runs.")] = False,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Search runs with a filter over metrics, params, tags and attributes."""
    _search(
        tracking_uri,
        experiments,
        filter_string,
        order_by,
        max_results,
        page_token,
        all_,
        json,
        "Matching runs",
    )


@app.command()
def show(
    run_id: RunId,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Show a run: status, params, latest metrics, tags, inputs and where it ran."""
    with friendly_errors():
        c = client(tracking_uri)
        run = c.get_run(c.resolve_run_id(run_id))
    if json:
        record = run_json(run)
        record["context"] = run.context
        emit_json(record)
        return
    info = run.info
    git = run.context.get("git") or {}
    rows = [
        ["run id", info.run_id],
        ["name", info.run_name],
        ["experiment", info.experiment_id],
        ["status", info.status.value],
        ["started", when(info.start_time)],
        ["took", duration(info.duration_ms)],
        ["parent", info.parent_run_id or "-"],
        ["user", info.user],
    ]
    if git:
        rows.append(
            ["git", f"{git.get('commit', '')[:12]}{' (dirty)' if git.get('dirty') else ''}"]
        )
    if run.context.get("python"):
        rows.append(["python", run.context["python"]])
    if run.context.get("command"):
        rows.append(["command", " ".join(run.context["command"])])
    table(f"Run {info.run_name}", ["field", "value"], rows)
    if run.data.metrics:
        table(
            "Metrics (latest)",
            ["metric", "value"],
            [[k, number(val)] for k, val in sorted(run.data.metrics.items())],
        )
    if run.data.params:
        table("Params", ["param", "value"], sorted(run.data.params.items()))
    user_tags = {k: val for k, val in run.data.tags.items() if not k.startswith("modelyard.")}
    if user_tags:
        table("Tags", ["tag", "value"], sorted(user_tags.items()))
    if run.inputs:
        table(
            "Inputs",
            ["dataset", "digest", "rows", "context"],
            [[d.name, d.digest[:12], d.num_rows, d.context] for d in run.inputs],
        )


@app.command()
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids, or unique prefixes of them.")],
    diff_only: Annotated[
        bool, typer.Option("--diff-only", help="Keep only params and metrics that differ.")
    ] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Also write a PNG of every metric's series to this file.")
    ] = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Compare runs side by side: one column per run, one row per param or metric."""
    with friendly_errors():
        c = client(tracking_uri)
        run_ids = [c.resolve_run_id(r) for r in run_ids]
        frame = c.compare_runs(run_ids, only_differences=diff_only)
        written = c.plot_metric_history(run_ids, plot) if plot else None
    if json:
        records = frame.reset_index().to_dict(orient="records")
        emit_json(
            {
                "runs": [
                    {k: (None if val != val else val) for k, val in r.items()} for r in records
                ],
                "plot": str(written) if written else None,
            }
        )
        return
    transposed = frame.T
    rows = [
        [field, *(_cell(val) for val in transposed.loc[field])]
        for field in transposed.index
    ]
    table("Run comparison", ["", *map(str, transposed.columns)], rows, caption="-: the run has no such param or metric")
    if written:
        say("Metric plot written to ", (str(written), "bold"))


@app.command()
def history(
    run_id: RunId,
    key: Annotated[str, typer.Argument(help="Metric name.")],
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Every point of one metric series."""
    with friendly_errors():
        c = client(tracking_uri)
        run_id = c.resolve_run_id(run_id)
        points = c.get_metric_history(run_id, key)
    if json:
        emit_json([{"step": p.step, "value": p.value, "timestamp": p.timestamp} for p in points])
        return
    table(
        f"{key} of {run_id[:8]}",
        ["step", "value", "time"],
        [[p.step, number(p.value), when(p.timestamp)] for p in points],
    )


@app.command()
def artifacts(
    run_id: RunId,
    path: Annotated[str, typer.Argument(help="Folder or file inside the run.")] = "",
    download: Annotated[
        Path | None, typer.Option(help="Copy the path (verified by sha256) into this folder.")
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="List every file below path.")
    ] = False,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """List (or download) a run's artifacts."""
    with friendly_errors():
        c = client(tracking_uri)
        run_id = c.resolve_run_id(run_id)
        if download is not None:
            local = c.download_artifacts(run_id, path, download)
            if json:
                emit_json({"downloaded": local})
            else:
                typer.echo(f"Downloaded to {local}")
            return
        files = c.list_artifact_files(run_id, path) if recursive else c.list_artifacts(run_id, path)
    if json:
        emit_json(
            [
                {"path": f.path, "is_dir": f.is_dir, "size": f.file_size, "sha256": f.digest}
                for f in files
            ]
        )
        return
    table(
        f"Artifacts of {run_id[:8]}" + (f" under {path}" if path else ""),
        ["path", "size", "sha256"],
        [
            [
                f.path + ("/" if f.is_dir else ""),
                "-" if f.file_size is None else f.file_size,
                (f.digest or "")[:12],
            ]
            for f in files
        ],
        caption=None if files else "No artifacts here.",
    )
