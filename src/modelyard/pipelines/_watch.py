"""Monitoring on a schedule: a ``MonitorSchedule`` in a pipelines file becomes a one-step
pipeline (``monitor:<endpoint>``) that the scheduler fires like any other — exactly once per
firing, taken over if its runner dies — and whose alert rules may trigger the file's pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.pipelines._pipeline import Pipeline, Step


@dataclass(frozen=True)
class MonitorSchedule:
    """Run a monitoring pass over ``endpoint``'s last ``window`` whenever ``cron`` fires, and
    check ``alerts`` (dicts as in an alerts file; ``{trigger: NAME}`` runs a pipeline of the file)."""

    name: str
    endpoint: str
    cron: str
    window: str = "1d"
    alerts: list[dict[str, Any]] = field(default_factory=list)
    reference: str | None = None


def monitor_pipeline(schedule: MonitorSchedule, pipelines: dict[str, Pipeline]) -> Pipeline:
    """The pipeline the scheduler runs for ``schedule``."""

    def watch(endpoint: str, window: str, reference: str | None, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        import os

        from modelyard.monitoring import Monitor, evaluate, parse_rule
        from modelyard.pipelines._scheduler import pipeline_trigger

        tracking_uri = os.environ.get("MODELYARD_TRACKING_URI") or None
        triggers = {name: pipeline_trigger(p, tracking_uri=tracking_uri) for name, p in pipelines.items()}
        rules = [parse_rule(spec, triggers) for spec in alerts]
        monitor = Monitor(endpoint, reference=reference, tracking_uri=tracking_uri)
        result = monitor.run(window)
        fired = evaluate(rules, result, monitor.client.store.monitoring)
        return {"rows": result.rows, "overall": result.overall, "alerts": [f.rule for f in fired]}

    step = Step(watch, name=f"monitor-{schedule.endpoint}", cache=False)

    def flow(endpoint: str = schedule.endpoint, window: str = schedule.window) -> Any:
        return step(endpoint, window, schedule.reference, list(schedule.alerts))

    return Pipeline(flow, name=f"monitor:{schedule.endpoint}")
