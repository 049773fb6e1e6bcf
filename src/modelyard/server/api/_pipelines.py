"""Native REST: pipeline runs and their leases, step runs, the step cache and schedules — every
method of the pipeline store, so that pipelines and schedulers run against a team server.

The lease operations are the store's own compare-and-set statements, run here on the server:
of two clients (or two replicas) racing to take over a run, exactly one is answered
``{"ok": true}``. A body or query that leaves ``now`` out is dated by the server's clock (one
clock for every client, whatever their own say); reads need ``viewer``, writes ``editor``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.core.wire import Empty, Wire
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
    ScheduleOut,
    SetSchedule,
    StepRunList,
    StepRunOut,
    TakeOver,
)
from modelyard.server._operations import Access, Call, Handler, Operation
from modelyard.store._pipeline_store import PipelineRunRow, PipelineStore, StepRunRow

API = "/api/v1"
RUNS = f"{API}/pipeline-runs"
_EDIT = Access("edit")
_MAX_RUNS = 10_000


def _store(call: Call) -> PipelineStore:
    return call.state.store.pipelines


def query_int(call: Call, name: str, *, default: int | None, low: int, high: int) -> int | None:
    """A whole-number query parameter within [low, high], or a 400 naming it."""
    raw = call.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError(f"query parameter {name} must be a whole number from {low} to {high}")
    return int(raw)


def _now(call: Call) -> int | None:
    return query_int(call, "now", default=None, low=0, high=2**62)


def _run_out(row: PipelineRunRow) -> PipelineRunOut:
    return PipelineRunOut(**asdict(row))


def _step_out(row: StepRunRow) -> StepRunOut:
    return StepRunOut(**asdict(row))


# -- runs and leases -----------------------------------------------------------------------


def create_run(call: Call) -> Held:
    body: CreatePipelineRun = call.body
    fields: dict[str, Any] = body.model_dump(exclude={"run_id", "pipeline"})
    return Held(ok=_store(call).create_run(body.run_id, body.pipeline, **fields))


def renew(call: Call) -> Held:
    body: Renew = call.body
    return Held(
        ok=_store(call).renew(call.path["run_id"], body.owner, body.lease_ms, body.status, body.now)
    )


def finish(call: Call) -> Held:
    body: FinishRun = call.body
    return Held(
        ok=_store(call).finish(call.path["run_id"], body.owner, body.status, body.error, body.now)
    )


def take_over(call: Call) -> Held:
    body: TakeOver = call.body
    return Held(ok=_store(call).take_over(call.path["run_id"], body.owner, body.lease_ms, body.now))


def mark_abandoned(call: Call) -> PipelineRunIds:
    body: AtTime = call.body
    return PipelineRunIds(run_ids=_store(call).mark_abandoned(body.now))


def abandoned(call: Call) -> PipelineRunList:
    return PipelineRunList(runs=[_run_out(r) for r in _store(call).abandoned(_now(call))])


def get_run(call: Call) -> MaybePipelineRun:
    row = _store(call).get_run(call.path["run_id"], _now(call))
    return MaybePipelineRun(run=None if row is None else _run_out(row))


def runs(call: Call) -> PipelineRunList:
    limit = query_int(call, "limit", default=100, low=1, high=_MAX_RUNS) or 100
    found = _store(call).runs(call.query.get("pipeline") or None, limit, _now(call))
    return PipelineRunList(runs=[_run_out(r) for r in found])


def firing_keys(call: Call) -> FiringKeys:
    return FiringKeys(keys=sorted(_store(call).firing_keys(call.query.get("prefix", ""))))


# -- steps and the cache -----------------------------------------------------------------------


def steps(call: Call) -> StepRunList:
    return StepRunList(steps=[_step_out(r) for r in _store(call).steps(call.path["run_id"])])


def record_step(call: Call) -> None:
    body: RecordStep = call.body
    _store(call).record_step(StepRunRow(run_id=call.path["run_id"], **body.model_dump()))


def steps_linking(call: Call) -> StepRunList:
    key, value = call.query.get("key", ""), call.query.get("value", "")
    if not key or not value:
        raise ValidationError(
            "query parameters key and value are both needed (e.g. key=runs&value=<run id>)"
        )
    return StepRunList(steps=[_step_out(r) for r in _store(call).steps_linking(key, value)])


def cached(call: Call) -> CachedOutput:
    return CachedOutput(digest=_store(call).cached(call.path["cache_key"]))


def cache(call: Call) -> None:
    body: CacheOutput = call.body
    _store(call).cache(call.path["cache_key"], body.step, body.digest)


# -- schedules ---------------------------------------------------------------------------------


def schedules(call: Call) -> ScheduleList:
    return ScheduleList(schedules=[ScheduleOut(**asdict(s)) for s in _store(call).schedules()])


def set_schedule(call: Call) -> None:
    body: SetSchedule = call.body
    _store(call).set_schedule(call.path["name"], body.pipeline, body.cron, body.params, body.now)


def delete_schedule(call: Call) -> Deleted:
    return Deleted(deleted=_store(call).delete_schedule(call.path["name"]))


def _op(
    name: str,
    method: str,
    path: str,
    summary: str,
    handler: Handler,
    body: type[Wire] | None = None,
    answer: type[Wire] = Empty,
) -> Operation:
    """Reads need ``viewer``, writes ``editor``."""
    access = Access() if method == "GET" else _EDIT
    return Operation(name, method, path, summary, handler, body, answer, access, tag="pipelines")


# fmt: off
OPERATIONS = [
    _op("create_pipeline_run", "POST", RUNS, "Insert a run held by its owner (ok false: the firing key was taken)",
        create_run, CreatePipelineRun, Held),
    _op("list_pipeline_runs", "GET", RUNS, "The newest runs (?pipeline=, ?limit=, ?now=); expired leases marked abandoned",
        runs, None, PipelineRunList),
    _op("get_pipeline_run", "GET", f"{RUNS}/{{run_id}}", "One run, or null (?now=)", get_run, None, MaybePipelineRun),
    _op("renew_pipeline_run", "POST", f"{RUNS}/{{run_id}}/renew",
        "Extend the owner's lease (ok false: someone else holds the run)", renew, Renew, Held),
    _op("finish_pipeline_run", "POST", f"{RUNS}/{{run_id}}/finish", "End the owner's run", finish, FinishRun, Held),
    _op("take_over_pipeline_run", "POST", f"{RUNS}/{{run_id}}/take-over",
        "Claim an abandoned scheduled run or one whose lease expired (one winner)", take_over, TakeOver, Held),
    _op("mark_abandoned_pipeline_runs", "POST", f"{API}/abandoned-pipeline-runs",
        "Mark the runs whose lease expired abandoned; their ids", mark_abandoned, AtTime, PipelineRunIds),
    _op("abandoned_pipeline_runs", "GET", f"{API}/abandoned-pipeline-runs",
        "Scheduled runs whose runner died, for a scheduler to take over (?now=)", abandoned, None, PipelineRunList),
    _op("pipeline_firing_keys", "GET", f"{API}/pipeline-firing-keys", "The firing keys taken (?prefix=)",
        firing_keys, None, FiringKeys),
    _op("list_pipeline_steps", "GET", f"{RUNS}/{{run_id}}/steps", "A run's step runs, in order", steps, None, StepRunList),
    _op("record_pipeline_step", "POST", f"{RUNS}/{{run_id}}/steps", "Record a step run (once per request id)",
        record_step, RecordStep),
    _op("pipeline_steps_linking", "GET", f"{API}/pipeline-steps", "Step runs whose links hold ?value= under ?key=",
        steps_linking, None, StepRunList),
    _op("get_pipeline_step_cache", "GET", f"{API}/pipeline-step-cache/{{cache_key}}",
        "The output digest cached under a key, or null", cached, None, CachedOutput),
    _op("put_pipeline_step_cache", "PUT", f"{API}/pipeline-step-cache/{{cache_key}}",
        "Cache a step's output digest (the first one stays)", cache, CacheOutput),
    _op("list_pipeline_schedules", "GET", f"{API}/pipeline-schedules", "Schedules, by name", schedules, None, ScheduleList),
    _op("set_pipeline_schedule", "PUT", f"{API}/pipeline-schedules/{{name}}", "Create or replace a schedule",
        set_schedule, SetSchedule),
    _op("delete_pipeline_schedule", "DELETE", f"{API}/pipeline-schedules/{{name}}", "Delete a schedule",
        delete_schedule, None, Deleted),
]
# fmt: on
