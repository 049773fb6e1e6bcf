"""``HttpMonitorStore``: monitoring results and fired alerts over a team server's REST API,
answered as the SQL store answers (``MetricPoint``, ``AlertEvent``, plain tuples)."""

from __future__ import annotations

from modelyard.core.wire import Empty
from modelyard.core.wire_monitoring import Alert as AlertIn
from modelyard.core.wire_monitoring import (
    Alerts,
    Endpoints,
    MaybeAlert,
    Points,
    RecordWindow,
    Rows,
)
from modelyard.store._monitor_store import AlertEvent, MetricPoint
from modelyard.store._remote._paths import q
from modelyard.store._remote._transport import Transport, wire


class HttpMonitorStore:
    """Window results per endpoint and the alerts they fired, on a team server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.where = transport.base_url

    def record(
        self, endpoint: str, window_start: int, window_end: int, points: list[MetricPoint]
    ) -> None:
        """Store a window's results, replacing an earlier computation of the same window."""
        body = wire(
            RecordWindow,
            window_start=window_start,
            window_end=window_end,
            points=[
                {
                    "name": p.name,
                    "column": p.column,
                    "version": p.version,
                    "route": p.route,
                    "value": p.value,
                }
                for p in points
            ],
        )
        self.transport.call("PUT", f"/monitors/{q(endpoint)}/windows", Empty, body=body)

    def points(
        self,
        endpoint: str,
        name: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
    ) -> list[MetricPoint]:
        params = {"name": name, "since": since, "until": until}
        found = self.transport.call("GET", f"/monitors/{q(endpoint)}/points", Points, params=params)
        return [MetricPoint(**p.model_dump()) for p in found.points]

    def rows(self, endpoint: str) -> list[tuple[int, int, str, str, str, str, float | None]]:
        return self.transport.call("GET", f"/monitors/{q(endpoint)}/rows", Rows).rows

    def endpoints(self) -> list[str]:
        return self.transport.call("GET", "/monitors", Endpoints).endpoints

    def record_alert(self, event: AlertEvent) -> None:
        body = wire(
            AlertIn,
            rule=event.rule, window_end=event.window_end, fired_time=event.fired_time,
            value=event.value, action=event.action, status=event.status, detail=event.detail,
        )  # fmt: skip
        self.transport.call("POST", f"/monitors/{q(event.endpoint)}/alerts", Empty, body=body)

    def last_alert(self, endpoint: str, rule: str) -> AlertEvent | None:
        found = self.transport.call(
            "GET", f"/monitors/{q(endpoint)}/alerts/last", MaybeAlert, params={"rule": rule}
        ).alert
        return None if found is None else AlertEvent(**found.model_dump())

    def alerts(self, endpoint: str | None = None, limit: int = 200) -> list[AlertEvent]:
        params = {"endpoint": endpoint, "limit": limit}
        found = self.transport.call("GET", "/alerts", Alerts, params=params)
        return [AlertEvent(**a.model_dump()) for a in found.alerts]
