"""The native REST API's bodies for pipelines (runs, leases, steps, the step cache, schedules)
and registry webhooks: parsed by the team server, sent by the remote store, and the source of
the OpenAPI document for them (the rest of the API is in ``core.wire``).

Every field that compares against the time is ``now`` (milliseconds since the epoch). Left
out, the server's clock is used, so that the leases of clients with skewed clocks still
compare against one clock; a scheduler or a test that brings its own clock sends it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from modelyard.core.wire import Wire

NAME = Field(min_length=1, max_length=256)
Now = int | None
LEASE_MS = Field(ge=1, le=7 * 24 * 3600 * 1000, description="how long the lease holds, in ms")
NOW = Field(default=None, ge=0, description="ms since the epoch; the server's clock when left out")
LIVE_STATUS = Literal["claimed", "running"]
END_STATUS = Literal["succeeded", "failed"]


# -- pipeline runs and leases -------------------------------------------------------------


class PipelineRunOut(Wire):
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


class CreatePipelineRun(Wire):
    run_id: str = NAME
    pipeline: str = NAME
    trigger: str = NAME
    params: dict[str, Any] = Field(default_factory=dict)
    engine: str = NAME
    owner: str = NAME
    lease_ms: int = LEASE_MS
    firing_key: str | None = Field(default=None, min_length=1, max_length=512)
    now: Now = NOW


class Renew(Wire):
    owner: str = NAME
    lease_ms: int = LEASE_MS
    status: LIVE_STATUS = "running"
    now: Now = NOW


class TakeOver(Wire):
    owner: str = NAME
    lease_ms: int = LEASE_MS
    now: Now = NOW


class FinishRun(Wire):
    owner: str = NAME
    status: END_STATUS
    error: str | None = Field(default=None, max_length=10_000)
    now: Now = NOW


class AtTime(Wire):
    now: Now = NOW


class Held(Wire):
    """Whether a compare-and-set on a run's lease took effect (False: someone else holds it,
    or the firing already had its run)."""

    ok: bool


class PipelineRunIds(Wire):
    run_ids: list[str]


class PipelineRunList(Wire):
    runs: list[PipelineRunOut]


class MaybePipelineRun(Wire):
    run: PipelineRunOut | None


class FiringKeys(Wire):
    keys: list[str]


# -- steps and the step cache -----------------------------------------------------------


class StepRunOut(Wire):
    run_id: str
    step: str
    cache_key: str
    status: str
    output_digest: str | None
    started_time: int
    ended_time: int | None
    links: dict[str, Any]


class RecordStep(Wire):
    step: str = NAME
    cache_key: str = Field(min_length=1, max_length=128)
    status: str = Field(min_length=1, max_length=32)
    output_digest: str | None = Field(default=None, max_length=128)
    started_time: int = Field(ge=0)
    ended_time: int | None = Field(default=None, ge=0)
    links: dict[str, Any] = Field(default_factory=dict)


class StepRunList(Wire):
    steps: list[StepRunOut]


class CachedOutput(Wire):
    digest: str | None


class CacheOutput(Wire):
    step: str = NAME
    digest: str = Field(min_length=1, max_length=128)


# -- schedules ------------------------------------------------------------------------------


class ScheduleOut(Wire):
    name: str
    pipeline: str
    cron: str
    params: dict[str, Any]
    created_time: int


class SetSchedule(Wire):
    pipeline: str = NAME
    cron: str = Field(min_length=1, max_length=128)
    params: dict[str, Any] = Field(default_factory=dict)
    now: Now = NOW


class ScheduleList(Wire):
    schedules: list[ScheduleOut]


class Deleted(Wire):
    deleted: bool


# -- registry webhooks ------------------------------------------------------------------------


class CreateWebhook(Wire):
    webhook_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    url: str = Field(min_length=1, max_length=2048)
    events: list[str] = Field(min_length=1, max_length=16)
    secret: str | None = Field(
        default=None, min_length=1, max_length=512, description="left out: the server makes one"
    )


class WebhookOut(Wire):
    webhook_id: str
    url: str
    events: list[str]
    created_time: int
    actor: str


class CreatedWebhook(WebhookOut):
    secret: str = Field(description="the signing key, shown in this answer only")


class WebhookList(Wire):
    webhooks: list[WebhookOut]


class DeliveryOut(Wire):
    delivery_id: str
    webhook_id: str
    event: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    at: int


class DeliveryList(Wire):
    deliveries: list[DeliveryOut]


class FlushWebhooks(Wire):
    timeout: float = Field(default=30.0, gt=0, le=60)


class Flushed(Wire):
    flushed: bool


class GateResult(Wire):
    """The checks of a gate a client evaluated without promoting (sent on as ``gate_result``)."""

    alias: str = Field(min_length=1, max_length=256)
    checks: list[dict[str, Any]] = Field(max_length=1000)
