"""``modelyard pipelines``, ``modelyard scheduler`` and ``modelyard lineage``."""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Annotated, Any

import typer
import yaml

from modelyard.cli._common import Json, TrackingUri
from modelyard.cli._output import console, emit_json, friendly_errors, say, table
from modelyard.core.errors import ValidationError

app = typer.Typer(help="Cached pipelines: run them, list their runs, see what each step did.", no_args_is_help=True)
File = Annotated[str, typer.Argument(help="Python file defining @pipeline functions (and Schedule objects).")]
Engine = Annotated[str, typer.Option(help="inprocess, process (one process per step) or ray.")]
RayAddress = Annotated[
    str | None,
    typer.Option(
        help="With --engine ray: the cluster to run the steps on, host:port (from a node of it), "
        "ray://host:10001 (Ray Client) or auto (default: $RAY_ADDRESS, else a private local Ray).",
        show_default=False,
    ),
]


def _params(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValidationError(f"--param {pair!r} is not key=value")
        key, raw = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(raw)
    return out


def _when(ms: int | None) -> str:
    return "-" if ms is None else _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command("run")
def run(
    file: File,
    name: Annotated[str, typer.Argument(help="Pipeline to run.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value (YAML value), repeatable.")] = None,
    engine: Engine = "inprocess",
    ray_address: RayAddress = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Run a pipeline now; unchanged steps come from the cache."""
    from modelyard.pipelines import load_file

    with friendly_errors():
        pipelines, _ = load_file(file)
        if name not in pipelines:
            raise ValidationError(f"{file} has no pipeline {name!r}; it has {sorted(pipelines)}")
        result = pipelines[name].run(engine=engine, ray_address=ray_address, tracking_uri=tracking_uri, **_params(param))
    rows = [[s.name, s.status, f"{s.seconds:.2f}s", s.output_digest[:12], ", ".join(f"{k}: {v}" for k, v in s.links.items())] for s in result.steps]
    if json:
        emit_json({"run_id": result.run_id, "pipeline": result.pipeline, "status": result.status, "seconds": result.seconds,
                   "steps": [{"name": s.name, "status": s.status, "seconds": s.seconds, "output": s.output_digest, "links": s.links} for s in result.steps]})
        return
    table(f"pipeline {name} run {result.run_id}", ["step", "status", "time", "output", "produced"], rows,
          caption=f"{result.status} in {result.seconds:.1f}s; 'cached' steps were skipped (same code, inputs and params)")


@app.command("runs")
def runs(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Pipeline runs: when, why (manual, schedule, alert), and how they ended."""
    from modelyard.tracking import Client

    with friendly_errors():
        found = Client(tracking_uri).store.pipelines.runs(pipeline, limit)
    if json:
        emit_json([r.__dict__ for r in found])
        return
    table("pipeline runs", ["run", "pipeline", "status", "trigger", "started (UTC)", "ended", "attempts"],
          [[r.run_id[:12], r.pipeline, r.status, r.trigger, _when(r.started_time), _when(r.ended_time), r.attempts] for r in found])


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="Pipeline run id (or a unique prefix).")], tracking_uri: TrackingUri = None, json: Json = False) -> None:
    """One pipeline run and its steps."""
    from modelyard.tracking import Client

    with friendly_errors():
        store = Client(tracking_uri).store.pipelines
        matches = [r for r in store.runs(None, 10_000) if r.run_id.startswith(run_id)]
        if len(matches) != 1:
            raise ValidationError(f"{len(matches)} pipeline runs start with {run_id!r}; give more of the id")
        row = matches[0]
        steps = store.steps(row.run_id)
    if json:
        emit_json({**row.__dict__, "steps": [s.__dict__ for s in steps]})
        return
    table(f"{row.pipeline} run {row.run_id} ({row.status}, {row.trigger})", ["step", "status", "output", "started", "produced"],
          [[s.step, s.status, (s.output_digest or "")[:12], _when(s.started_time), ", ".join(f"{k}: {v}" for k, v in s.links.items())] for s in steps])


def scheduler(
    file: File,
    poll: Annotated[float, typer.Option(help="Seconds between checks.")] = 5.0,
    engine: Engine = "inprocess",
    ray_address: RayAddress = None,
    lease: Annotated[float, typer.Option(help="Seconds a run's lease lasts unless renewed (a dead runner's runs are taken over after it).")] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Check once and exit (for cron or tests).")] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Run the file's schedules: each firing runs exactly once, even with two schedulers or a
    restart mid-run (a run whose runner died is taken over when its lease expires)."""
    from modelyard.pipelines import Scheduler, load_file

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    with friendly_errors():
        pipelines, schedules = load_file(file)
        sched = Scheduler(pipelines, tracking_uri=tracking_uri, engine=engine, ray_address=ray_address, lease_seconds=lease)
        for s in schedules:
            sched.schedule(s.name, s.pipeline, s.cron, s.params)
    if once:
        say(f"scheduler {sched.owner}: {len(schedules)} schedule(s) over {sorted(pipelines)}")
        ran = sched.tick()
        say(f"ran {len(ran)} pipeline run(s)")
        return
    try:  # the scheduler logs its own start line
        sched.run_forever(poll_seconds=poll)
    except KeyboardInterrupt:
        say("scheduler stopped")


def lineage(
    model_uri: Annotated[str, typer.Argument(help="models:/name/3 or models:/name@alias")],
    tracking_uri: TrackingUri = None,
    log_root: Annotated[str | None, typer.Option(help="Prediction log folder (default: <home>/predictions).")] = None,
    json: Json = False,
) -> None:
    """Where a model version came from and where it went: data → features → run → pipeline
    → model → deployments."""
    from modelyard.pipelines._lineage import lineage_of

    with friendly_errors():
        info = lineage_of(model_uri, tracking_uri=tracking_uri, log_root=log_root)
    if json:
        emit_json(info)
        return
    from rich.text import Text
    from rich.tree import Tree

    def plain(text: str) -> Text:  # names and values as they are, never read as markup
        return Text(text)

    tree = Tree(Text.assemble((str(info["model"]), "bold"), f" ({info['flavor']}, registered {info['registered']})"))
    data = tree.add("data")
    for d in info["datasets"]:
        data.add(plain(f"{d['name']} {d['digest'][:12]} ({d.get('context') or 'input'}, {d.get('rows', '?')} rows)"))
    if info.get("feature_service"):
        tree.add(plain(f"features: service {info['feature_service']}"))
    if info.get("run"):
        r = info["run"]
        tree.add(plain(f"run {r['run_id']} ({r['name']}, {r['status']}) metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in list(r["metrics"].items())[:6])))
    if info.get("pipeline_run"):
        p = info["pipeline_run"]
        node = tree.add(plain(f"pipeline {p['pipeline']} run {p['run_id']} ({p['status']}, {p['trigger']})"))
        for s in p["steps"]:
            node.add(plain(f"{s['step']}: {s['status']}"))
    aliases = tree.add("aliases")
    for a in info["aliases"]:
        aliases.add(plain(str(a)))
    deployments = tree.add("served by")
    for e in info["endpoints"]:
        deployments.add(plain(f"{e['endpoint']}: {e['rows']} rows, {e['first']} → {e['last']}"))
    console.print(tree)
