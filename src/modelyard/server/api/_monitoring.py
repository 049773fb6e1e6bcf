"""Native REST: monitoring results per window and fired alerts (``MonitorStore`` over HTTP).
Reads need ``viewer``, writes ``editor``; writes are audited like every other."""

from __future__ import annotations

from dataclasses import asdict

from modelyard.core.wire_monitoring import (
    Alert,
    AlertOut,
    Alerts,
    Endpoints,
    MaybeAlert,
    PointOut,
    Points,
    RecordWindow,
    Rows,
)
from modelyard.server._operations import Access, Call, Operation
from modelyard.server.api._query import optional_int, required
from modelyard.store._monitor_store import AlertEvent, MetricPoint

API = "/api/v1/monitors"
_EDIT = Access("edit")
_MAX_ALERTS = 10_000


def endpoints(call: Call) -> Endpoints:
    return Endpoints(endpoints=call.state.store.monitoring.endpoints())


def record(call: Call) -> None:
    body: RecordWindow = call.body
    endpoint = call.path["endpoint"]
    start, end = body.window_start, body.window_end
    points = [MetricPoint(endpoint, start, end, **p.model_dump()) for p in body.points]
    call.state.store.monitoring.record(endpoint, start, end, points)


def points(call: Call) -> Points:
    found = call.state.store.monitoring.points(
        call.path["endpoint"],
        call.query.get("name") or None,
        since=optional_int(call, "since"),
        until=optional_int(call, "until"),
    )
    return Points(points=[PointOut(**asdict(p)) for p in found])


def rows(call: Call) -> Rows:
    return Rows(rows=call.state.store.monitoring.rows(call.path["endpoint"]))


def record_alert(call: Call) -> None:
    body: Alert = call.body
    call.state.store.monitoring.record_alert(
        AlertEvent(endpoint=call.path["endpoint"], **body.model_dump())
    )


def last_alert(call: Call) -> MaybeAlert:
    found = call.state.store.monitoring.last_alert(call.path["endpoint"], required(call, "rule"))
    return MaybeAlert(alert=None if found is None else AlertOut(**asdict(found)))


def alerts(call: Call) -> Alerts:
    limit = optional_int(call, "limit", low=1, high=_MAX_ALERTS)
    found = call.state.store.monitoring.alerts(
        call.query.get("endpoint") or None, 200 if limit is None else limit
    )
    return Alerts(alerts=[AlertOut(**asdict(a)) for a in found])


_ENDPOINT = f"{API}/{{endpoint}}"

# fmt: off
OPERATIONS = [
    Operation("list_monitored_endpoints", "GET", API, "Endpoints with monitoring results",
              endpoints, None, Endpoints, tag="monitoring"),
    Operation("record_monitor_window", "PUT", f"{_ENDPOINT}/windows",
              "Store a window's results, replacing an earlier computation of the same window",
              record, RecordWindow, access=_EDIT, tag="monitoring"),
    Operation("get_monitor_points", "GET", f"{_ENDPOINT}/points",
              "An endpoint's results (?name=, ?since=, ?until= on the window end, in ms)",
              points, None, Points, tag="monitoring"),
    Operation("get_monitor_rows", "GET", f"{_ENDPOINT}/rows",
              "Every result of an endpoint as compact rows, oldest window first",
              rows, None, Rows, tag="monitoring"),
    Operation("record_alert", "POST", f"{_ENDPOINT}/alerts", "Record a fired alert rule",
              record_alert, Alert, access=_EDIT, tag="monitoring"),
    Operation("get_last_alert", "GET", f"{_ENDPOINT}/alerts/last",
              "The last time ?rule= fired on this endpoint (null: never)",
              last_alert, None, MaybeAlert, tag="monitoring"),
    Operation("list_alerts", "GET", "/api/v1/alerts", "Fired alerts, newest first (?endpoint=, ?limit=)",
              alerts, None, Alerts, tag="monitoring"),
]
# fmt: on
