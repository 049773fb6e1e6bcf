"""The scheduler: runs pipelines when their cron expressions fire, safe to restart and to run
twice. Each firing becomes one pipeline run with a unique firing key (two schedulers racing
for it: one insert wins); the winner holds a lease it renews while the run goes on; a
scheduler that finds a scheduled run abandoned (its holder was killed mid-run and its lease
expired) takes the run over and runs it again — finished steps come from the step cache, so
it resumes rather than repeats. Missed firings (the scheduler was down) are run on start, at
most ``catch_up`` per schedule.

Time comes from ``clock``, a callable returning an aware UTC datetime (the wall clock by
default): firings, leases and their expiry are all read from it, so tests can step through
minutes and lease expiries without waiting.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from modelyard.core.errors import ConflictError, MissingDependencyError, ValidationError
from modelyard.pipelines._pipeline import Clock, Pipeline, clock_ms, utc_now
from modelyard.registry import Client

log = logging.getLogger("modelyard.scheduler")


def check_cron(expression: str) -> str:
    """A cron expression, checked; a mistake names the field that is wrong."""
    try:
        from croniter import croniter
    except ImportError as error:
        raise MissingDependencyError("croniter", "schedule", "Cron schedules") from error
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationError(
            f"cron {expression!r} has {len(fields)} field(s); give 5: minute hour day-of-month month day-of-week"
        )
    names = ["minute", "hour", "day-of-month", "month", "day-of-week"]
    for i, name in enumerate(names):
        probe = ["*"] * 5
        probe[i] = fields[i]
        if not croniter.is_valid(" ".join(probe)):
            raise ValidationError(f"cron {expression!r}: {fields[i]!r} is not a valid {name} field")
    return expression


def firings(cron: str, after: _dt.datetime, until: _dt.datetime) -> list[_dt.datetime]:
    from croniter import croniter

    out: list[_dt.datetime] = []
    it = croniter(cron, after)
    while True:
        nxt = it.get_next(_dt.datetime)
        if nxt > until:
            return out
        out.append(nxt)


class Scheduler:
    def __init__(
        self,
        pipelines: dict[str, Pipeline],
        *,
        tracking_uri: str | None = None,
        engine: str = "inprocess",
        ray_address: str | None = None,
        lease_seconds: float = 30.0,
        catch_up: int = 1,
        owner: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.pipelines = pipelines
        self.tracking_uri = tracking_uri
        self.client = Client(tracking_uri)
        self.store = self.client.store.pipelines
        self.engine = engine
        self.ray_address = ray_address
        self.lease_seconds = lease_seconds
        self.catch_up = catch_up
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock: Clock = clock or utc_now

    def schedule(self, name: str, pipeline: str, cron: str, params: dict[str, Any] | None = None) -> None:
        if pipeline not in self.pipelines:
            raise ValidationError(f"schedule {name!r}: pipeline {pipeline!r} is unknown; known: {sorted(self.pipelines)}")
        self.store.set_schedule(name, pipeline, check_cron(cron), params or {}, now=clock_ms(self.clock)())

    def _run(self, pipeline: str, params: dict[str, Any], *, run_id: str | None, trigger: str, firing_key: str | None) -> str | None:
        found = self.pipelines.get(pipeline)
        if found is None:
            log.error("pipeline %r is not loaded in this scheduler; skipped", pipeline)
            return None
        try:
            result = found.run(
                engine=self.engine, ray_address=self.ray_address, tracking_uri=self.tracking_uri, trigger=trigger, run_id=run_id,
                firing_key=firing_key, owner=self.owner, lease_seconds=self.lease_seconds, clock=self.clock, **params,
            )
        except ConflictError:
            return None  # another scheduler won this firing
        except Exception:
            log.exception("pipeline %s failed", pipeline)
            return run_id
        return result.run_id

    def tick(self, now: _dt.datetime | None = None) -> list[str]:
        """One pass: take over scheduled runs whose holder died, then start every due firing.
        Returns the pipeline runs this scheduler executed. ``now`` defaults to the clock."""
        now = now or self.clock()
        now_ms = int(now.timestamp() * 1000)
        ran: list[str] = []
        lease_ms = int(self.lease_seconds * 1000)
        for row in self.store.abandoned(now=now_ms):
            if row.pipeline not in self.pipelines:
                continue  # another scheduler's (or file's) pipeline: left for it
            if self.store.take_over(row.run_id, self.owner, lease_ms, now=now_ms):
                log.warning("taking over pipeline run %s (%s): its runner stopped renewing the lease", row.run_id, row.pipeline)
                got = self._run(row.pipeline, row.params, run_id=row.run_id, trigger=row.trigger, firing_key=None)
                if got:
                    ran.append(got)
        for sched in self.store.schedules():
            created = _dt.datetime.fromtimestamp(sched.created_time / 1000, _dt.UTC)
            due = firings(sched.cron, created, now)[-self.catch_up :] if self.catch_up > 0 else []
            prefix = f"schedule:{sched.name}:"
            taken = self.store.firing_keys(prefix)
            for moment in due:
                key = f"{prefix}{moment.strftime('%Y-%m-%dT%H:%M')}"
                if key in taken:
                    continue
                got = self._run(sched.pipeline, sched.params, run_id=uuid.uuid4().hex, trigger=f"schedule:{sched.name}", firing_key=key)
                if got:
                    ran.append(got)
        return ran

    def run_forever(self, stop: threading.Event | None = None, poll_seconds: float = 5.0) -> None:
        stop = stop or threading.Event()
        log.warning("scheduler %s started (%d pipelines, poll every %ss)", self.owner, len(self.pipelines), poll_seconds)
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed; going on")
            stop.wait(poll_seconds)


def pipeline_trigger(
    pipeline: Pipeline, *, tracking_uri: str | None = None, engine: str = "inprocess", **params: Any
) -> Callable[[dict[str, Any]], str]:
    """An alert action that runs ``pipeline`` (with ``params``) and returns its run id."""

    def fire(payload: dict[str, Any]) -> str:
        result = pipeline.run(
            engine=engine, tracking_uri=tracking_uri, trigger=f"alert:{payload.get('rule', '?')}"[:500], **params
        )
        return result.run_id

    fire.__name__ = f"run_{pipeline.name}"
    return fire

