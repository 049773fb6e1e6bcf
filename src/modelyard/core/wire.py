"""The native REST API's bodies: pydantic models shared by the team server (which parses
requests with them and generates its OpenAPI document from them) and the remote store (which
sends them). One source of truth for the wire format.

Values are the domain's own dataclasses (``Run``, ``ModelVersion`` ...) wherever one exists;
non-finite floats travel as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelyard.core.entities import (
    DatasetVersion,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from modelyard.core.models import (
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    RiskCategory,
    VersionState,
)

RUN_ID_PATTERN = r"^[0-9a-f]{32}$"
DIGEST_PATTERN = r"^[0-9a-f]{64}$"


class Wire(BaseModel):
    """A request or response body: unknown fields are refused, NaN travels as a string."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


class Empty(Wire):
    """No content."""


# -- experiments --------------------------------------------------------------------------


class CreateExperiment(Wire):
    name: str = Field(min_length=1, max_length=256)
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentId(Wire):
    experiment_id: str


class ExperimentOut(Wire):
    experiment: Experiment


class MaybeExperiment(Wire):
    experiment: Experiment | None


class ExperimentList(Wire):
    experiments: list[Experiment]


class UpdateExperiment(Wire):
    """Rename, delete (``lifecycle_stage: deleted``) or restore (``active``)."""

    name: str | None = Field(default=None, min_length=1, max_length=256)
    lifecycle_stage: LifecycleStage | None = None


class TagValue(Wire):
    value: str


class RunCounts(Wire):
    counts: dict[str, int]


# -- runs ---------------------------------------------------------------------------------


class CreateRun(Wire):
    run_id: str = Field(
        pattern=RUN_ID_PATTERN, description="chosen by the client: retries are safe"
    )
    run_name: str = Field(min_length=1, max_length=256)
    start_time: int
    user: str = Field(
        default="", max_length=256, description="ignored when the server authenticates"
    )
    parent_run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN)
    tags: dict[str, str] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)


class RunOut(Wire):
    run: Run


class UpdateRun(Wire):
    """Any of: a new status (with its ``end_time``, null while running), a new name, a
    lifecycle stage (delete / restore)."""

    status: RunStatus | None = None
    end_time: int | None = None
    run_name: str | None = Field(default=None, min_length=1, max_length=256)
    lifecycle_stage: LifecycleStage | None = None


class LogMetric(Wire):
    key: str = Field(min_length=1, max_length=250)
    value: float
    timestamp: int
    step: int = 0


class LogBatch(Wire):
    metrics: list[Metric] = Field(default_factory=list)
    params: list[Param] = Field(default_factory=list)
    tags: list[RunTag] = Field(default_factory=list)


class MetricHistory(Wire):
    metrics: list[Metric]


class MetricKeys(Wire):
    keys: list[str]


class ArtifactFile(Wire):
    path: str = Field(min_length=1, max_length=1024)
    digest: str = Field(pattern=DIGEST_PATTERN)
    size: int = Field(ge=0)


class BlobStored(Wire):
    digest: str
    size: int | None = Field(default=None, description="null when the blob was already stored")


class ArtifactFiles(Wire):
    files: list[ArtifactFile]


class LogInput(Wire):
    dataset: DatasetVersion
    context: str = Field(min_length=1, max_length=250)


class SearchRuns(Wire):
    experiment_ids: list[str] = Field(max_length=1000)
    filter: str = Field(default="", max_length=10_000)
    view_type: ViewType = ViewType.ACTIVE_ONLY
    max_results: int = 1000
    order_by: list[str] | None = None
    page_token: str | None = Field(default=None, max_length=1000)


class RunPage(Wire):
    runs: list[Run]
    next_page_token: str | None = None


class RunIdOut(Wire):
    """The full id of the run a unique prefix names."""

    run_id: str


# -- datasets -----------------------------------------------------------------------------


class DatasetEntry(Wire):
    dataset: DatasetVersion
    created_time: int


class DatasetVersions(Wire):
    versions: list[DatasetEntry]


class DatasetOut(Wire):
    dataset: DatasetVersion


# -- registry -----------------------------------------------------------------------------


class EnsureModel(Wire):
    name: str = Field(min_length=1, max_length=256)
    description: str = ""
    owner: str = ""
    risk_category: RiskCategory = RiskCategory.MINIMAL
    tags: dict[str, str] = Field(default_factory=dict)
    actor: str = Field(default="", description="ignored when the server authenticates")


class Created(Wire):
    created: bool


class ModelOut(Wire):
    model: RegisteredModel


class ModelList(Wire):
    models: list[RegisteredModel]


class SearchModels(Wire):
    """Registered models by filter (``name LIKE 'fraud%' and tags.team = 'risk'``), order
    and page, as ``Client.search_registered_models``."""

    filter: str = Field(default="", max_length=10_000)
    order_by: list[str] | None = None
    max_results: int = 1000
    page_token: str | None = Field(default=None, max_length=1000)


class ModelPage(Wire):
    models: list[RegisteredModel]
    next_page_token: str | None = None


class TagChange(Wire):
    """Set a tag of a registered model or version (audited with ``reason``)."""

    value: str = Field(max_length=8000)
    reason: str = ""
    actor: str = ""


class UpdateModel(Wire):
    """The fields to change; those left out stay as they are (``gate: null`` removes a gate)."""

    description: str | None = None
    owner: str | None = None
    risk_category: RiskCategory | None = None
    tags: dict[str, str] | None = None
    gate: dict[str, Any] | None = None
    actor: str = ""


class CreateVersion(Wire):
    source: str = Field(max_length=2048)
    run_id: str | None = Field(default=None, pattern=RUN_ID_PATTERN)
    flavor: str = Field(max_length=64)
    manifest_digest: str = Field(pattern=DIGEST_PATTERN)
    files: dict[str, tuple[str, int]]
    signature: dict[str, Any] | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    owner: str = ""
    lineage: dict[str, Any] = Field(default_factory=dict)
    risk_category: RiskCategory = RiskCategory.MINIMAL
    card: dict[str, str] = Field(default_factory=dict)
    actor: str = ""


class VersionOut(Wire):
    version: ModelVersion


class VersionList(Wire):
    versions: list[ModelVersion]


class SearchVersions(Wire):
    """Model versions by filter (``name = 'fraud' and metrics.auc > 0.9``), order and page,
    as ``Client.search_model_versions``."""

    filter: str = Field(default="", max_length=10_000)
    order_by: list[str] | None = None
    max_results: int = 10_000
    page_token: str | None = Field(default=None, max_length=1000)
    include_deleted: bool = False


class VersionPage(Wire):
    versions: list[ModelVersion]
    next_page_token: str | None = None


class Located(Wire):
    """What a ``models:/`` reference names right now, in one cheap read (null: nothing)."""

    found: tuple[int, str, str, str] | None


class AliasTarget(Wire):
    version: int


class UpdateVersion(Wire):
    """The fields to change; those left out stay as they are."""

    description: str | None = None
    card: dict[str, str] | None = None
    risk_category: RiskCategory | None = None
    tags: dict[str, str] | None = None
    metrics: dict[str, float] | None = None
    approvals: list[dict[str, Any]] | None = None
    evaluation: dict[str, Any] | None = None
    reason: str = ""
    actor: str = ""


class SetState(Wire):
    state: VersionState
    reason: str = ""
    actor: str = ""


class SetAlias(Wire):
    version: int = Field(ge=1)
    reason: str = ""
    action: str = Field(default="set_alias", pattern=r"^(set_alias|promote|promote_forced)$")
    details: dict[str, Any] | None = None
    actor: str = ""


class DeleteAlias(Wire):
    reason: str = ""
    actor: str = ""


class PreviousVersion(Wire):
    previous: int | None


class AuditLog(Wire):
    entries: list[AuditEntry]


# -- users --------------------------------------------------------------------------------


class CreateUser(Wire):
    name: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: str = Field(pattern=r"^(viewer|editor|admin)$")


class Token(Wire):
    user: str
    role: str
    token: str = Field(description="shown once; only its SHA-256 is stored")


class Permission(Wire):
    role: str = Field(pattern=r"^(none|viewer|editor|admin)$")


class UserOut(Wire):
    name: str
    role: str
    permissions: dict[str, str] = Field(
        default_factory=dict, description="'experiment:<id>' or 'model:<name>' -> role"
    )


class UserList(Wire):
    users: list[UserOut]


class Whoami(Wire):
    name: str
    role: str
