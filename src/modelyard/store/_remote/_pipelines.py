"""``HttpPipelineStore``: the pipeline store's methods (runs and their leases, step runs, the
step cache, schedules) over a team server's REST API, with the same answers.

Each lease operation is one compare-and-set statement run on the server, so runners and
schedulers on any machine (and behind any replica) race fairly: of two take-overs of one run,
one is answered True. ``now`` left out (None) is the server's clock, not this machine's, so
that runners whose clocks disagree still see one expiry; a caller that brings its own clock
(a scheduler, a test) passes ``now``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from modelyard.core.wire_pipelines import (
    AtTime,
    CachedOutput,
    CacheOutput,
    CreatePipelineRun,
    Deleted,
    FinishRun,
    FiringKeys,
    Held,
    MaybePipelineRun,
    PipelineRunIds,
    PipelineRunList,
    PipelineRunOut,
    RecordStep,
    Renew,
    ScheduleList,
    SetSchedule,
    StepRunList,
    StepRunOut,
    TakeOver,
)
from modelyard.store._pipeline_store import PipelineRunRow, ScheduleRow, StepRunRow
from modelyard.store._remote._transport import Transport, wire


def _q(part: str) -> str:
    return quote(part, safe="")


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """JSON values, as the database store keeps them (what JSON lacks becomes its ``str``)."""
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(values, default=str))
    return loaded


def _run(out: PipelineRunOut) -> PipelineRunRow:
    return PipelineRunRow(**out.model_dump())


def _step(out: StepRunOut) -> StepRunRow:
    return StepRunRow(**out.model_dump())


class HttpPipelineStore:
    """Pipeline runs, steps, the step cache and schedules on a team server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.where = transport.base_url

    def _held(self, path: str, body: Any) -> bool:
        return self.transport.call("POST", path, Held, body=body).ok

    # -- runs and leases ---------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        pipeline: str,
        *,
        trigger: str,
        params: dict[str, Any],
        engine: str,
        owner: str,
        lease_ms: int,
        firing_key: str | None = None,
        now: int | None = None,
    ) -> bool:
        """Insert a run held by ``owner``; False when ``firing_key`` was already taken."""
        body = wire(
            CreatePipelineRun, run_id=run_id, pipeline=pipeline, trigger=trigger, params=_plain(params),
            engine=engine, owner=owner, lease_ms=lease_ms, firing_key=firing_key, now=now,
        )  # fmt: skip
        return self._held("/pipeline-runs", body)

    def renew(
        self,
        run_id: str,
        owner: str,
        lease_ms: int,
        status: str = "running",
        now: int | None = None,
    ) -> bool:
        body = wire(Renew, owner=owner, lease_ms=lease_ms, status=status, now=now)
        return self._held(f"/pipeline-runs/{_q(run_id)}/renew", body)

    def finish(
        self, run_id: str, owner: str, status: str, error: str | None = None, now: int | None = None
    ) -> bool:
        body = wire(FinishRun, owner=owner, status=status, error=error, now=now)
        return self._held(f"/pipeline-runs/{_q(run_id)}/finish", body)

    def take_over(self, run_id: str, owner: str, lease_ms: int, now: int | None = None) -> bool:
        body = wire(TakeOver, owner=owner, lease_ms=lease_ms, now=now)
        return self._held(f"/pipeline-runs/{_q(run_id)}/take-over", body)

    def mark_abandoned(self, now: int | None = None) -> list[str]:
        body = wire(AtTime, now=now)
        return self.transport.call(
            "POST", "/abandoned-pipeline-runs", PipelineRunIds, body=body
        ).run_ids

    def abandoned(self, now: int | None = None) -> list[PipelineRunRow]:
        found = self.transport.call(
            "GET", "/abandoned-pipeline-runs", PipelineRunList, params={"now": now}
        )
        return [_run(r) for r in found.runs]

    def get_run(self, run_id: str, now: int | None = None) -> PipelineRunRow | None:
        found = self.transport.call(
            "GET", f"/pipeline-runs/{_q(run_id)}", MaybePipelineRun, params={"now": now}
        )
        return None if found.run is None else _run(found.run)

    def runs(
        self, pipeline: str | None = None, limit: int = 100, now: int | None = None
    ) -> list[PipelineRunRow]:
        params = {"pipeline": pipeline, "limit": limit, "now": now}
        return [
            _run(r)
            for r in self.transport.call(
                "GET", "/pipeline-runs", PipelineRunList, params=params
            ).runs
        ]

    def firing_keys(self, prefix: str) -> set[str]:
        found = self.transport.call(
            "GET", "/pipeline-firing-keys", FiringKeys, params={"prefix": prefix}
        )
        return set(found.keys)

    # -- steps and the cache -----------------------------------------------------------

    def record_step(self, row: StepRunRow) -> None:
        body = wire(
            RecordStep, step=row.step, cache_key=row.cache_key, status=row.status,
            output_digest=row.output_digest, started_time=row.started_time, ended_time=row.ended_time,
            links=_plain(row.links),
        )  # fmt: skip
        self.transport.request("POST", f"/pipeline-runs/{_q(row.run_id)}/steps", body=body)

    def steps(self, run_id: str) -> list[StepRunRow]:
        found = self.transport.call("GET", f"/pipeline-runs/{_q(run_id)}/steps", StepRunList)
        return [_step(s) for s in found.steps]

    def steps_linking(self, key: str, value: str) -> list[StepRunRow]:
        """Step runs whose links mention ``value`` under ``key`` (e.g. a tracking run id)."""
        params = {"key": key, "value": value}
        return [
            _step(s)
            for s in self.transport.call("GET", "/pipeline-steps", StepRunList, params=params).steps
        ]

    def cached(self, cache_key: str) -> str | None:
        return self.transport.call(
            "GET", f"/pipeline-step-cache/{_q(cache_key)}", CachedOutput
        ).digest

    def cache(self, cache_key: str, step: str, digest: str) -> None:
        body = wire(CacheOutput, step=step, digest=digest)
        self.transport.request("PUT", f"/pipeline-step-cache/{_q(cache_key)}", body=body)

    # -- schedules ---------------------------------------------------------------------

    def set_schedule(
        self, name: str, pipeline: str, cron: str, params: dict[str, Any], now: int | None = None
    ) -> None:
        body = wire(SetSchedule, pipeline=pipeline, cron=cron, params=_plain(params), now=now)
        self.transport.request("PUT", f"/pipeline-schedules/{_q(name)}", body=body)

    def schedules(self) -> list[ScheduleRow]:
        found = self.transport.call("GET", "/pipeline-schedules", ScheduleList).schedules
        return [ScheduleRow(**s.model_dump()) for s in found]

    def delete_schedule(self, name: str) -> bool:
        return self.transport.call("DELETE", f"/pipeline-schedules/{_q(name)}", Deleted).deleted
