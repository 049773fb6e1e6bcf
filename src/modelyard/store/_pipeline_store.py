"""Pipeline runs, step runs, the step cache and schedules, in the metadata database.

Exactly-once scheduling rests on two things here: a schedule firing is a pipeline run with a
unique ``firing_key`` (a second scheduler's insert for the same firing fails), and a run is
held by a lease (owner + expiry) that its runner renews; a run whose lease expired (its
runner died) is taken over by whoever claims it first, with one conditional UPDATE.

A run's status goes ``claimed`` → ``running`` → ``succeeded`` | ``failed``. A run whose lease
expired is marked ``abandoned`` by the next read of the runs or the next scheduler tick, so it
never shows as running forever; a scheduler takes over the abandoned runs of its schedules,
and a runner that was only late (not dead) takes its run back with its next renewal.

Every method that compares against the time takes ``now`` (milliseconds since the epoch;
the wall clock when omitted), so that schedulers and tests can bring their own clock.

Through the team server each write runs in its request's scope (``store._requests``): a retried
lease write answers what its first attempt answered, and a retried step is recorded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Executable, and_, delete, desc, insert, or_, select, update
from sqlalchemy import exc as sa_exc

from modelyard.core.ids import now_ms
from modelyard.store._engine import Engines
from modelyard.store._errors import translated
from modelyard.store._requests import claim, settle
from modelyard.store._schema import pipeline_runs, schedules, step_cache, step_runs

RUNNING = ("claimed", "running")
ABANDONED = "abandoned"
SCHEDULED = "schedule:"  # the trigger prefix of runs a scheduler is responsible for


@dataclass(frozen=True)
class PipelineRunRow:
    run_id: str
    pipeline: str
    status: str
    trigger: str
    firing_key: str | None
    params: dict[str, Any]
    engine: str
    created_time: int
    started_time: int | None
    ended_time: int | None
    lease_owner: str | None
    lease_expires: int | None
    attempts: int
    error: str | None


@dataclass(frozen=True)
class StepRunRow:
    run_id: str
    step: str
    cache_key: str
    status: str
    output_digest: str | None
    started_time: int
    ended_time: int | None
    links: dict[str, Any]


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    pipeline: str
    cron: str
    params: dict[str, Any]
    created_time: int


def _run(row: Any) -> PipelineRunRow:
    return PipelineRunRow(
        row.run_id, row.pipeline, row.status, row.trigger, row.firing_key, orjson.loads(row.params), row.engine,
        row.created_time, row.started_time, row.ended_time, row.lease_owner, row.lease_expires, row.attempts, row.error,
    )


class PipelineStore:
    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.where = engines.where

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
        now = now_ms() if now is None else now
        try:
            with translated(self.where), self._engines.write.begin() as conn:
                if not claim(conn, self._engines.dialect).fresh:
                    return True  # a retry: the first attempt inserted the run (its claim committed with it)
                conn.execute(
                    insert(pipeline_runs).values(
                        run_id=run_id, pipeline=pipeline, status="claimed", trigger=trigger, firing_key=firing_key,
                        params=orjson.dumps(params, default=str).decode(), engine=engine, created_time=now,
                        started_time=now, lease_owner=owner, lease_expires=now + lease_ms, attempts=1,
                    )
                )
        except sa_exc.IntegrityError:
            return False
        return True

    def renew(self, run_id: str, owner: str, lease_ms: int, status: str = "running", now: int | None = None) -> bool:
        """Extend the lease; False if someone else holds the run now. A run marked abandoned
        while its runner was only late is taken back."""
        now = now_ms() if now is None else now
        return self._compare_and_set(
            update(pipeline_runs)
            .where(
                pipeline_runs.c.run_id == run_id,
                pipeline_runs.c.lease_owner == owner,
                pipeline_runs.c.status.in_((*RUNNING, ABANDONED)),
            )
            .values(lease_expires=now + lease_ms, status=status, ended_time=None, error=None)
        )

    def finish(self, run_id: str, owner: str, status: str, error: str | None = None, now: int | None = None) -> bool:
        now = now_ms() if now is None else now
        return self._compare_and_set(
            update(pipeline_runs)
            .where(pipeline_runs.c.run_id == run_id, pipeline_runs.c.lease_owner == owner)
            .values(status=status, ended_time=now, lease_expires=None, error=error)
        )

    def mark_abandoned(self, now: int | None = None) -> list[str]:
        """Mark the runs whose lease expired (their runner was killed or crashed) abandoned;
        return their ids. Costs one indexed read when there are none."""
        now = now_ms() if now is None else now
        expired = and_(pipeline_runs.c.status.in_(RUNNING), pipeline_runs.c.lease_expires < now)
        with translated(self.where), self._engines.read.connect() as conn:
            if conn.execute(select(pipeline_runs.c.run_id).where(expired).limit(1)).first() is None:
                return []
        with translated(self.where), self._engines.write.begin() as conn:
            ids = [r[0] for r in conn.execute(select(pipeline_runs.c.run_id).where(expired))]
            conn.execute(
                update(pipeline_runs)
                .where(pipeline_runs.c.run_id.in_(ids), expired)
                .values(
                    status=ABANDONED,
                    ended_time=pipeline_runs.c.lease_expires,
                    error="its runner stopped renewing the lease (killed or crashed)",
                )
            )
        return ids

    def abandoned(self, now: int | None = None) -> list[PipelineRunRow]:
        """Scheduled runs whose runner died (marking them abandoned first): a scheduler's to
        take over. Manual and alert-triggered runs stay abandoned; they are re-run by hand."""
        self.mark_abandoned(now)
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(
                select(pipeline_runs)
                .where(pipeline_runs.c.status == ABANDONED, pipeline_runs.c.trigger.startswith(SCHEDULED, autoescape=True))
                .order_by(pipeline_runs.c.created_time, pipeline_runs.c.run_id)
            )
            return [_run(r) for r in rows]

    def take_over(self, run_id: str, owner: str, lease_ms: int, now: int | None = None) -> bool:
        """Claim an abandoned scheduled run, or one whose lease expired (one winner among many
        schedulers)."""
        now = now_ms() if now is None else now
        return self._compare_and_set(
            update(pipeline_runs)
            .where(
                pipeline_runs.c.run_id == run_id,
                pipeline_runs.c.trigger.startswith(SCHEDULED, autoescape=True),
                or_(
                    pipeline_runs.c.status == ABANDONED,
                    and_(pipeline_runs.c.status.in_(RUNNING), pipeline_runs.c.lease_expires < now),
                ),
            )
            .values(
                lease_owner=owner, lease_expires=now + lease_ms, status="claimed", ended_time=None, error=None,
                attempts=pipeline_runs.c.attempts + 1,
            )
        )

    def _compare_and_set(self, statement: Executable) -> bool:
        """One conditional UPDATE: True when it changed the run. A retry of the same request
        answers what the first attempt answered, without running the statement again."""
        with translated(self.where), self._engines.write.begin() as conn:
            claimed = claim(conn, self._engines.dialect)
            if not claimed.fresh:
                return claimed.result == "1"
            changed = conn.execute(statement).rowcount == 1
            settle(conn, "1" if changed else "0")
            return bool(changed)

    def get_run(self, run_id: str, now: int | None = None) -> PipelineRunRow | None:
        """One run (expired leases are marked abandoned first)."""
        self.mark_abandoned(now)
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(select(pipeline_runs).where(pipeline_runs.c.run_id == run_id)).first()
        return None if row is None else _run(row)

    def runs(self, pipeline: str | None = None, limit: int = 100, now: int | None = None) -> list[PipelineRunRow]:
        """The newest runs (expired leases are marked abandoned first)."""
        self.mark_abandoned(now)
        query = select(pipeline_runs).order_by(desc(pipeline_runs.c.created_time), desc(pipeline_runs.c.run_id)).limit(limit)
        if pipeline is not None:
            query = query.where(pipeline_runs.c.pipeline == pipeline)
        with translated(self.where), self._engines.read.connect() as conn:
            return [_run(r) for r in conn.execute(query)]

    def firing_keys(self, prefix: str) -> set[str]:
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(select(pipeline_runs.c.firing_key).where(pipeline_runs.c.firing_key.startswith(prefix, autoescape=True)))
            return {r[0] for r in rows}

    # -- steps and the cache -------------------------------------------------------------

    def record_step(self, row: StepRunRow) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            if not claim(conn, self._engines.dialect).fresh:
                return  # a retry of a step already recorded
            conn.execute(
                insert(step_runs).values(
                    run_id=row.run_id, step=row.step, cache_key=row.cache_key, status=row.status,
                    output_digest=row.output_digest, started_time=row.started_time, ended_time=row.ended_time,
                    links=orjson.dumps(row.links, default=str).decode(),
                )
            )

    def steps(self, run_id: str) -> list[StepRunRow]:
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(select(step_runs).where(step_runs.c.run_id == run_id).order_by(step_runs.c.id))
            return [
                StepRunRow(r.run_id, r.step, r.cache_key, r.status, r.output_digest, r.started_time, r.ended_time, orjson.loads(r.links))
                for r in rows
            ]

    def steps_linking(self, key: str, value: str) -> list[StepRunRow]:
        """Step runs whose links mention ``value`` under ``key`` (e.g. a tracking run id)."""
        needle = f'"{value}"'
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(select(step_runs).where(step_runs.c.links.like(f"%{needle}%")))
            out = []
            for r in rows:
                links = orjson.loads(r.links)
                found = links.get(key)
                if found == value or (isinstance(found, list) and value in found):
                    out.append(StepRunRow(r.run_id, r.step, r.cache_key, r.status, r.output_digest, r.started_time, r.ended_time, links))
            return out

    def cached(self, cache_key: str) -> str | None:
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(select(step_cache.c.output_digest).where(step_cache.c.cache_key == cache_key)).first()
        return None if row is None else str(row[0])

    def cache(self, cache_key: str, step: str, digest: str) -> None:
        try:
            with translated(self.where), self._engines.write.begin() as conn:
                conn.execute(insert(step_cache).values(cache_key=cache_key, step=step, output_digest=digest, created_time=now_ms()))
        except sa_exc.IntegrityError:
            pass  # the same key computed twice holds the same output

    # -- schedules -----------------------------------------------------------------------

    def set_schedule(self, name: str, pipeline: str, cron: str, params: dict[str, Any], now: int | None = None) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            existing = conn.execute(select(schedules.c.created_time).where(schedules.c.name == name)).first()
            conn.execute(delete(schedules).where(schedules.c.name == name))
            conn.execute(
                insert(schedules).values(
                    name=name, pipeline=pipeline, cron=cron, params=orjson.dumps(params, default=str).decode(),
                    created_time=existing[0] if existing else (now_ms() if now is None else now),
                )
            )

    def schedules(self) -> list[ScheduleRow]:
        with translated(self.where), self._engines.read.connect() as conn:
            return [
                ScheduleRow(r.name, r.pipeline, r.cron, orjson.loads(r.params), r.created_time)
                for r in conn.execute(select(schedules).order_by(schedules.c.name))
            ]

    def delete_schedule(self, name: str) -> bool:
        with translated(self.where), self._engines.write.begin() as conn:
            return bool(conn.execute(delete(schedules).where(schedules.c.name == name)).rowcount)

