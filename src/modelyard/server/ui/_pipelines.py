"""Pipelines: recent runs with their trigger (manual, schedule, alert) and outcome; a run
with its DAG, each step's status (ran or cached), duration and what it produced; schedules."""

from __future__ import annotations

from typing import Any

from modelyard.core.errors import NotFoundError
from modelyard.server.ui._graph import Graph, Node, layout
from modelyard.server.ui._web import PREFIX, View
from modelyard.store._pipeline_store import PipelineRunRow


def trigger_kind(trigger: str) -> str:
    if trigger.startswith("alert:"):
        return "alert"
    if trigger.startswith("schedule"):
        return "schedule"
    return "manual" if trigger in ("", "manual") else trigger.split(":", 1)[0][:20]


def trigger_detail(trigger: str) -> str:
    """What set the run off, without the kind the badge next to it already shows: the rule of
    an alert (``drift_share >= 0.3``), the schedule's name; empty for a manual run."""
    kind = trigger_kind(trigger)
    head, sep, rest = trigger.partition(":")
    if kind == "manual" or trigger == kind:
        return ""
    return rest if sep and head == kind else trigger


def _run(row: PipelineRunRow) -> dict[str, Any]:
    return {"run_id": row.run_id, "pipeline": row.pipeline, "status": row.status,
            "trigger": row.trigger, "trigger_kind": trigger_kind(row.trigger),
            "trigger_detail": trigger_detail(row.trigger), "engine": row.engine,
            "created_time": row.created_time, "started_time": row.started_time,
            "ended_time": row.ended_time, "attempts": row.attempts, "error": row.error,
            "duration_ms": (row.ended_time - row.started_time) if row.ended_time and row.started_time else None,
            "params": row.params}


def pipelines(view: View) -> dict[str, Any]:
    store = view.state.store.pipelines
    name = view.param("pipeline") or None
    limit = view.int_param("limit", 100, 1, 1000)
    runs = store.runs(name, limit)
    return {
        "pipeline": name,
        "runs": [_run(r) for r in runs],
        "schedules": [{"name": s.name, "pipeline": s.pipeline, "cron": s.cron, "params": s.params}
                      for s in store.schedules()],
    }


def pipeline_run(view: View) -> dict[str, Any]:
    run_id = view.path["run_id"]
    store = view.state.store.pipelines
    row = store.get_run(run_id)
    if row is None:
        raise NotFoundError("no pipeline run has that id")
    steps = store.steps(run_id)
    graph = Graph()
    previous: str | None = None
    for s in steps:
        produced = []
        for key in ("runs", "model_versions", "datasets"):
            value = s.links.get(key)
            if value:
                produced.extend(value if isinstance(value, list) else [value])
        runs = s.links.get("runs") or []
        href = f"{PREFIX}/runs/{runs[0]}" if runs and isinstance(runs, list) else None
        graph.add(Node(s.step, s.step, "step", f"{s.status} · {((s.ended_time or s.started_time) - s.started_time) / 1000:.1f}s", href, s.status))
        after = s.links.get("after")
        if isinstance(after, list):
            for upstream in after:
                graph.link(str(upstream), s.step)
        elif previous is not None:  # runs recorded before edges were kept: in order
            graph.link(previous, s.step)
        previous = s.step
    return {
        "run": _run(row),
        "steps": [
            {"step": s.step, "status": s.status, "cache_key": s.cache_key, "output_digest": s.output_digest,
             "started_time": s.started_time, "ended_time": s.ended_time,
             "duration_ms": (s.ended_time - s.started_time) if s.ended_time else None,
             "after": s.links.get("after") or [],
             "runs": s.links.get("runs") or [], "model_versions": s.links.get("model_versions") or [],
             "datasets": s.links.get("datasets") or []}
            for s in steps
        ],
        "cache_hits": sum(1 for s in steps if s.status == "cached"),
        "graph": layout(graph) if steps else None,
    }
