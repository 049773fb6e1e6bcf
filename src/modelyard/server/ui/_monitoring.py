"""Monitoring: per endpoint, the windows' series (drift share, drift per column with the
threshold it was judged by, performance per version from late labels, latency, errors,
throughput), the alerts with what each action did and the pipeline run it started, and the
hot swaps (alias moves of the served model) to mark on every chart. Distributions of the
drifted columns are computed for one window on request (a fragment the page loads after
painting), from the prediction log against the model's training profile."""

from __future__ import annotations

import datetime as _dt
import re
import urllib.parse
from collections import defaultdict
from typing import Any

from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.monitoring import Monitor
from modelyard.server.ui._web import PREFIX, View

OVERALL = ("rows", "drift_share", "auc", "accuracy", "log_loss", "rmse", "p50_latency_ms",
           "p95_latency_ms", "p99_latency_ms", "error_rate", "throughput_rps", "requests")
_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<|==)\s*(-?[\d.eE+-]+)\s*$")
_SWAP_ACTIONS = ("promote", "promote_forced", "set_alias")


def endpoints(view: View) -> dict[str, Any]:
    store = view.state.store.monitoring
    out = []
    for name in store.endpoints():
        points = store.points(name, "drift_share")
        auc = store.points(name, "auc")
        alerts = store.alerts(name, 50)
        out.append({
            "endpoint": name,
            "windows": len(points),
            "last_window_end": points[-1].window_end if points else None,
            "drift_share": points[-1].value if points else None,
            "auc": next((p.value for p in reversed(auc) if not p.version), None),
            "alerts": len(alerts),
        })
    return {"endpoints": out}


def _threshold(rule: str) -> tuple[str, str, float] | None:
    match = _RULE.match(rule)
    if match is None:
        return None
    try:
        return match.group(1), match.group(2), float(match.group(3))
    except ValueError:
        return None


Row = tuple[int, int, str, str, str, str, float | None]
_VERSION_NAMES = frozenset(("auc", "accuracy", "rows", "labelled", "p99_latency_ms"))
_OVERALL = frozenset(OVERALL)


def _series(rows: list[Row]) -> dict[str, Any]:
    """Columns aligned on the windows' ends (seconds), for uPlot."""
    ends = sorted({r[1] for r in rows})
    index = {e: i for i, e in enumerate(ends)}
    size = len(ends)
    overall: dict[str, list[float | None]] = {}
    columns: dict[str, dict[str, list[float | None]]] = defaultdict(dict)
    versions: dict[str, dict[str, list[float | None]]] = defaultdict(dict)
    starts: dict[int, int] = {}
    for start, end, name, column, version, route, value in rows:
        i = index[end]
        starts[end] = start
        if column:
            if name.startswith("column_"):
                series = columns[column].get(name[7:])
                if series is None:
                    series = columns[column][name[7:]] = [None] * size
                series[i] = value
        elif version:
            if route and name in _VERSION_NAMES:
                versions[f"v{version}"].setdefault(name, [None] * size)[i] = value
        elif name in _OVERALL:
            series = overall.get(name)
            if series is None:
                series = overall[name] = [None] * size
            series[i] = value
    return {
        "x": [e / 1000 for e in ends],
        "window_start": [starts[e] for e in ends],
        "window_end": ends,
        "overall": overall,
        "columns": dict(columns),
        "versions": dict(versions),
    }


def _served_models(view: View, endpoint: str) -> list[str]:
    registry = view.state.store.registry
    names = []
    try:
        registry.get_model(endpoint)
        names.append(endpoint)
    except NotFoundError:
        pass
    return [n for n in names if view.can("read", "model", n)]


def endpoint_page(view: View) -> dict[str, Any]:
    endpoint = view.path["endpoint"]
    store = view.state.store
    rows = store.monitoring.rows(endpoint)
    if not rows:
        raise NotFoundError("no monitoring results for this endpoint; run `modelyard monitor run` first")
    data = _series(rows)
    alerts = store.monitoring.alerts(endpoint, 500)
    rules = sorted({a.rule for a in alerts})
    thresholds = [t for t in (_threshold(r) for r in rules) if t is not None]
    pipeline_runs = store.pipelines.runs(limit=500)
    alert_rows = []
    for a in alerts:
        started = [r for r in pipeline_runs if r.trigger == f"alert:{a.rule}" and r.created_time >= a.fired_time - 1000]
        run = min(started, key=lambda r: r.created_time) if started and a.action == "trigger" else None
        alert_rows.append({"rule": a.rule, "fired_time": a.fired_time, "window_end": a.window_end,
                           "value": a.value, "action": a.action, "status": a.status, "detail": a.detail,
                           "pipeline_run": None if run is None else {"run_id": run.run_id, "pipeline": run.pipeline, "status": run.status}})
    swaps = []
    for model in _served_models(view, endpoint):
        for e in reversed(store.registry.audit_log(model, 500)):
            if e.action in _SWAP_ACTIONS and e.to_version is not None and e.from_version is not None:
                swaps.append({"at": e.at, "model": model, "alias": e.alias, "from_version": e.from_version,
                              "to_version": e.to_version, "actor": e.actor, "reason": e.reason})
    latest_drift = {}
    for column, values in data["columns"].items():
        drifted = values.get("drifted") or []
        latest_drift[column] = next((v for v in reversed(drifted) if v is not None), None)
    ever_drifted = sorted(c for c, v in data["columns"].items() if any(x == 1.0 for x in (v.get("drifted") or [])))
    last = {k: next((x for x in reversed(v) if x is not None), None) for k, v in data["overall"].items()}
    return {
        "endpoint": endpoint,
        "windows": len(data["x"]),
        "series": data,
        "latest": last,
        "latest_drift": latest_drift,
        "drifted_columns": ever_drifted,
        "thresholds": [{"metric": m, "op": op, "value": v} for m, op, v in thresholds],
        "alerts": alert_rows,
        "swaps": swaps,
        "distributions_url": f"{PREFIX}/monitoring/{urllib.parse.quote(endpoint, safe='')}/distributions",
    }


def distributions(view: View) -> dict[str, Any]:
    """Reference vs window histograms of the columns that drifted in one window (default:
    the latest window in which any did)."""
    endpoint = view.path["endpoint"]
    store = view.state.store
    drifted = [p for p in store.monitoring.points(endpoint, "column_drifted") if p.value == 1.0]
    if not drifted:
        return {"endpoint": endpoint, "window": None, "columns": []}
    wanted = view.param("window_end")
    if wanted:
        if not wanted.isdigit():
            raise ValidationError("query parameter 'window_end' must be a time in milliseconds")
        chosen = [p for p in drifted if p.window_end == int(wanted)]
        if not chosen:
            raise NotFoundError("no column drifted in that window")
    else:
        end = max(p.window_end for p in drifted)
        chosen = [p for p in drifted if p.window_end == end]
    start, end = chosen[0].window_start, chosen[0].window_end
    monitor = Monitor(endpoint, tracking_uri=store.url, columns=sorted({p.column for p in chosen}))
    result = monitor.run(start=_dt.datetime.fromtimestamp(start / 1000, _dt.UTC),
                         end=_dt.datetime.fromtimestamp(end / 1000, _dt.UTC), store=False)
    columns = []
    for c in result.drift.columns if result.drift is not None else []:
        d = c.to_dict(with_bins=True)
        columns.append({"column": c.column, "kind": c.kind, "test": c.test, "statistic": c.statistic,
                        "p_value": c.p_value, "drifted": c.drifted, "bins": d.get("bins"),
                        "reference": d.get("reference_share"), "current": d.get("current_share")})
    return {"endpoint": endpoint, "window": {"start": start, "end": end}, "reference": result.reference_source,
            "columns": columns}
