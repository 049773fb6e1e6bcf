"""Experiments and runs: the overview, an experiment's runs table (keyset pages, any sort,
the run filter language, chosen columns) and the metric series the charts draw."""

from __future__ import annotations

import urllib.parse
from typing import Any

from modelyard.core.entities import Experiment, Run
from modelyard.core.errors import FilterSyntaxError, ValidationError
from modelyard.core.search_filter import Entity, parse_order_by
from modelyard.server.ui._web import PREFIX, View

_DEFAULT_METRICS = 6
_DEFAULT_PARAMS = 4
_MAX_SERIES_RUNS = 20


def _experiment(e: Experiment, count: int | None = None) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "lifecycle_stage": e.lifecycle_stage.value,
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": e.tags,
        "runs": count,
    }


def experiments(view: View) -> dict[str, Any]:
    store = view.state.store
    found = [
        e for e in store.search_experiments()
        if view.can("read", "experiment", e.experiment_id)
    ]
    counts = store.count_runs([e.experiment_id for e in found]) if found else {}
    return {"experiments": [_experiment(e, counts.get(e.experiment_id, 0)) for e in found]}


def _column(name: str) -> tuple[str, str]:
    """``metrics.auc`` → (``metrics``, ``auc``)."""
    entity, _, key = name.partition(".")
    if entity not in ("params", "metrics", "tags") or not key:
        raise ValidationError(
            f"column {name[:80]!r}: choose params.<name>, metrics.<name> or tags.<name>"
        )
    return entity, key


def _value(run: Run, entity: str, key: str) -> Any:
    data = run.data
    if entity == "metrics":
        return data.metrics.get(key)
    return (data.params if entity == "params" else data.tags).get(key)


def run_row(run: Run, columns: list[tuple[str, str]]) -> dict[str, Any]:
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "status": info.status.value,
        "user": info.user,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "duration_ms": info.duration_ms,
        "values": {f"{e}.{k}": _value(run, e, k) for e, k in columns},
    }


def _link(experiment_id: str, **query: str | list[str] | None) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if value is None or value == "":
            continue
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, item))
    encoded = urllib.parse.urlencode(pairs)
    return f"{PREFIX}/experiments/{experiment_id}" + (f"?{encoded}" if encoded else "")


def experiment_runs(view: View) -> dict[str, Any]:
    experiment_id = view.path["experiment_id"]
    view.require("read", "experiment", experiment_id)
    store = view.state.store
    experiment = store.get_experiment(experiment_id)
    filter_string = view.param("filter").strip()
    order = view.param("order").strip()
    cursor = view.param("cursor") or None
    limit = view.int_param("limit", 100, 1, 1000)
    keys = store.run_keys([experiment_id])
    chosen = view.params("col")
    if not chosen:
        chosen = [f"metrics.{k}" for k in keys.metrics[:_DEFAULT_METRICS]] + [
            f"params.{k}" for k in keys.params[:_DEFAULT_PARAMS]
        ]
    columns = [_column(c) for c in chosen]
    sort_key, ascending = "", False
    if order:
        parsed = parse_order_by([order])[0]
        sort_key, ascending = f"{parsed.entity.value}.{parsed.key}", parsed.ascending
        if parsed.entity is Entity.ATTRIBUTE:
            sort_key = parsed.key
    error = None
    try:
        page = store.page_runs(
            [experiment_id], filter_string=filter_string or None, order_by=order or None,
            cursor=cursor, limit=limit,
        )
        runs, next_cursor, total = page.runs, page.next_cursor, page.total
    except FilterSyntaxError as problem:  # a filter that does not parse: said next to the box
        runs, next_cursor, total, error = [], None, 0, str(problem)[:400]
    cols = [f"{e}.{k}" for e, k in columns]
    base = {"filter": filter_string or None, "col": cols if view.params("col") else None, "limit": str(limit) if limit != 100 else None}

    def sort_link(key: str) -> str:
        descending_first = not key.startswith(("params.", "tags.")) and key not in ("run_name", "user", "status")
        if sort_key == key:
            next_order = f"{key} {'DESC' if ascending else 'ASC'}"
        else:
            next_order = f"{key} {'DESC' if descending_first else 'ASC'}"
        quoted = next_order if "." not in key else _quote(next_order)
        return _link(experiment_id, **base, order=quoted)

    return {
        "experiment": _experiment(experiment),
        "filter": filter_string,
        "filter_error": error,
        "order": order,
        "sort_key": sort_key,
        "ascending": ascending,
        "limit": limit,
        "total": total,
        "columns": cols,
        "available": {"params": keys.params, "metrics": keys.metrics, "tags": keys.tags},
        "runs": [run_row(r, columns) for r in runs],
        "next_cursor": next_cursor,
        "next_url": _link(experiment_id, **base, order=order or None, cursor=next_cursor) if next_cursor else None,
        "first_url": _link(experiment_id, **base, order=order or None) if cursor else None,
        "sort_links": {k: sort_link(k) for k in ["run_name", "start_time", "status", "user", *cols]},
    }


def _quote(order: str) -> str:
    """``metrics.val loss DESC`` → ``metrics.`val loss` DESC`` when the name needs it."""
    key, direction = order.rsplit(" ", 1)
    entity, name = key.split(".", 1)
    if all(ch.isalnum() or ch in "_-" for ch in name):
        return order
    return f"{entity}.`{name}` {direction}"


def series(view: View) -> dict[str, Any]:
    """Metric histories for charts, as columns: ``?run=<id>&run=<id>&key=<metric>``; a history
    longer than ``?max_points=`` (4,000) comes as min/max per step bucket (``downsampled``)."""
    run_ids = view.params("run")[:_MAX_SERIES_RUNS]
    keys = view.params("key")[:20]
    if not run_ids or not keys:
        raise ValidationError("name at least one ?run= and one ?key=")
    max_points = view.int_param("max_points", 4000, 100, 1_000_000)
    store = view.state.store
    out = []
    for run_id in run_ids:
        run = store.get_run(run_id)
        view.require("read", "experiment", run.info.experiment_id)
        for key in keys:
            found = store.metric_series(run_id, key, max_points)
            out.append(
                {
                    "run_id": run_id,
                    "run_name": run.info.run_name,
                    "key": key,
                    "step": found.steps,
                    "timestamp": found.timestamps,
                    "value": found.values,
                    "total": found.total,
                    "downsampled": found.downsampled,
                }
            )
    return {"series": out}
