"""Monitoring results (one row per metric, column, version and route of a window) and fired
alerts, in the metadata database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, desc, insert, select

from modelyard.core.ids import now_ms
from modelyard.store._engine import Engines
from modelyard.store._errors import translated
from modelyard.store._requests import claim
from modelyard.store._schema import alert_events, monitor_metrics


@dataclass(frozen=True)
class MetricPoint:
    endpoint: str
    window_start: int
    window_end: int
    name: str
    column: str
    version: str
    route: str
    value: float | None


@dataclass(frozen=True)
class AlertEvent:
    rule: str
    endpoint: str
    window_end: int
    fired_time: int
    value: float | None
    action: str
    status: str
    detail: str


class MonitorStore:
    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.where = engines.where

    def record(self, endpoint: str, window_start: int, window_end: int, points: list[MetricPoint]) -> None:
        """Store a window's results, replacing an earlier computation of the same window."""
        now = now_ms()
        with translated(self.where), self._engines.write.begin() as conn:
            conn.execute(
                delete(monitor_metrics).where(
                    monitor_metrics.c.endpoint == endpoint,
                    monitor_metrics.c.window_start == window_start,
                    monitor_metrics.c.window_end == window_end,
                )
            )
            if points:
                conn.execute(
                    insert(monitor_metrics),
                    [
                        {
                            "endpoint": endpoint,
                            "window_start": window_start,
                            "window_end": window_end,
                            "name": p.name,
                            "column_name": p.column,
                            "version": p.version,
                            "route": p.route,
                            "value": p.value,
                            "computed_time": now,
                        }
                        for p in points
                    ],
                )

    def points(
        self,
        endpoint: str,
        name: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
    ) -> list[MetricPoint]:
        query = select(monitor_metrics).where(monitor_metrics.c.endpoint == endpoint)
        if name is not None:
            query = query.where(monitor_metrics.c.name == name)
        if since is not None:
            query = query.where(monitor_metrics.c.window_end > since)
        if until is not None:
            query = query.where(monitor_metrics.c.window_end <= until)
        query = query.order_by(monitor_metrics.c.window_end, monitor_metrics.c.id)
        with translated(self.where), self._engines.read.connect() as conn:
            return [
                MetricPoint(r.endpoint, r.window_start, r.window_end, r.name, r.column_name, r.version, r.route, r.value)
                for r in conn.execute(query)
            ]

    def rows(self, endpoint: str) -> list[tuple[int, int, str, str, str, str, float | None]]:
        """Every result of the endpoint as plain tuples (window start, window end, name, column,
        version, route, value), oldest window first: what charts of months of windows read,
        at a fraction of the cost of ``points``."""
        m = monitor_metrics
        query = (
            select(m.c.window_start, m.c.window_end, m.c.name, m.c.column_name, m.c.version, m.c.route, m.c.value)
            .where(m.c.endpoint == endpoint)
            .order_by(m.c.window_end, m.c.id)
        )
        with translated(self.where), self._engines.read.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]

    def endpoints(self) -> list[str]:
        with translated(self.where), self._engines.read.connect() as conn:
            return [r[0] for r in conn.execute(select(monitor_metrics.c.endpoint).distinct().order_by(monitor_metrics.c.endpoint))]

    def record_alert(self, event: AlertEvent) -> None:
        """One firing (a retry of the same request over HTTP is recorded once)."""
        with translated(self.where), self._engines.write.begin() as conn:
            if not claim(conn, self._engines.dialect).fresh:
                return
            conn.execute(
                insert(alert_events).values(
                    rule=event.rule,
                    endpoint=event.endpoint,
                    window_end=event.window_end,
                    fired_time=event.fired_time,
                    value=event.value,
                    action=event.action,
                    status=event.status,
                    detail=event.detail,
                )
            )

    def last_alert(self, endpoint: str, rule: str) -> AlertEvent | None:
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(
                select(alert_events)
                .where(and_(alert_events.c.endpoint == endpoint, alert_events.c.rule == rule))
                .order_by(desc(alert_events.c.fired_time), desc(alert_events.c.id))
                .limit(1)
            ).first()
        return None if row is None else AlertEvent(row.rule, row.endpoint, row.window_end, row.fired_time, row.value, row.action, row.status, row.detail)

    def alerts(self, endpoint: str | None = None, limit: int = 200) -> list[AlertEvent]:
        query = select(alert_events).order_by(desc(alert_events.c.fired_time), desc(alert_events.c.id)).limit(limit)
        if endpoint is not None:
            query = query.where(alert_events.c.endpoint == endpoint)
        with translated(self.where), self._engines.read.connect() as conn:
            return [AlertEvent(r.rule, r.endpoint, r.window_end, r.fired_time, r.value, r.action, r.status, r.detail) for r in conn.execute(query)]
