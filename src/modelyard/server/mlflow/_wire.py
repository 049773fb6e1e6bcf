"""The request bodies of MLflow's REST API (field names from MLflow's ``service.proto`` and
``model_registry.proto``), parsed with pydantic at the trust boundary. Unknown fields are
ignored, as MLflow's own server ignores them; a field of the wrong type is a 400 naming it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class KeyValue(Body):
    key: str
    value: str = ""


class RunRef(Body):
    run_id: str = ""
    run_uuid: str = ""

    @property
    def run(self) -> str:
        return self.run_id or self.run_uuid


# -- experiments ------------------------------------------------------------------------------


class CreateExperiment(Body):
    name: str
    artifact_location: str = ""
    tags: list[KeyValue] = []


class ExperimentRef(Body):
    experiment_id: str


class ExperimentByName(Body):
    experiment_name: str


class SearchExperiments(Body):
    max_results: int = 1000
    page_token: str = ""
    filter: str = ""
    order_by: list[str] = []
    view_type: str = "ACTIVE_ONLY"


class UpdateExperiment(Body):
    experiment_id: str
    new_name: str = ""


class SetExperimentTag(Body):
    experiment_id: str
    key: str
    value: str = ""


class DeleteExperimentTag(Body):
    experiment_id: str
    key: str


# -- runs -------------------------------------------------------------------------------------


class CreateRun(Body):
    experiment_id: str = "0"
    user_id: str = ""
    run_name: str = ""
    start_time: int | None = None
    tags: list[KeyValue] = []


class UpdateRun(RunRef):
    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class MetricIn(Body):
    key: str
    value: float
    timestamp: int | None = None
    step: int | None = None


class LogMetric(RunRef):
    key: str
    value: float
    timestamp: int | None = None
    step: int | None = None


class LogParam(RunRef):
    key: str
    value: str = ""


class SetTag(RunRef):
    key: str
    value: str = ""


class DeleteTag(RunRef):
    key: str


class LogBatch(RunRef):
    metrics: list[MetricIn] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class DatasetIn(Body):
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema_: str = Field("", alias="schema")
    profile: str = ""


class DatasetInputIn(Body):
    tags: list[KeyValue] = []
    dataset: DatasetIn


class LogInputs(RunRef):
    datasets: list[DatasetInputIn] = []


class ModelOutputIn(Body):
    model_id: str
    step: int = 0


class LogOutputs(RunRef):
    models: list[ModelOutputIn] = []


class SearchRuns(Body):
    experiment_ids: list[str] = []
    filter: str = ""
    run_view_type: str = "ACTIVE_ONLY"
    max_results: int = 1000
    order_by: list[str] = []
    page_token: str | None = None


class MetricHistory(RunRef):
    metric_key: str
    page_token: str = ""
    max_results: int | None = None


class ListArtifacts(RunRef):
    path: str = ""
    page_token: str = ""


# -- logged models (MLflow 3) -----------------------------------------------------------------


class CreateLoggedModel(Body):
    experiment_id: str = "0"
    name: str = "model"
    model_type: str = ""
    source_run_id: str = ""
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class FinalizeLoggedModel(Body):
    status: str = "LOGGED_MODEL_READY"


class LoggedModelTags(Body):
    tags: list[KeyValue] = []


class SearchLoggedModels(Body):
    experiment_ids: list[str] = []
    filter: str = ""
    max_results: int = 100
    page_token: str = ""


# -- registry ---------------------------------------------------------------------------------


class ModelName(Body):
    name: str


class CreateRegisteredModel(Body):
    name: str
    tags: list[KeyValue] = []
    description: str = ""


class UpdateRegisteredModel(Body):
    name: str
    description: str | None = None


class SearchModels(Body):
    filter: str = ""
    max_results: int = 100
    order_by: list[str] = []
    page_token: str = ""


class GetLatestVersions(Body):
    name: str
    stages: list[str] = []


class CreateModelVersion(Body):
    name: str
    source: str
    run_id: str = ""
    tags: list[KeyValue] = []
    run_link: str = ""
    description: str = ""
    model_id: str = ""


class VersionRef(Body):
    name: str
    version: str


class UpdateModelVersion(Body):
    name: str
    version: str
    description: str | None = None


class ModelTag(Body):
    name: str
    key: str
    value: str = ""


class ModelTagRef(Body):
    name: str
    key: str


class VersionTag(Body):
    name: str
    version: str
    key: str
    value: str = ""


class VersionTagRef(Body):
    name: str
    version: str
    key: str


class SetAlias(Body):
    name: str
    alias: str
    version: str


class AliasRef(Body):
    name: str
    alias: str
