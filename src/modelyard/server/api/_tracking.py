"""Native REST: experiments, runs, metrics, params, tags, inputs, search and datasets.

Each handler checks its input with the same rules as the in-process client (the server is a
trust boundary: a body is never believed because a modelyard client sent it), then calls the
store that the library itself uses."""

from __future__ import annotations

from modelyard.core import validation as v
from modelyard.core.entities import LifecycleStage, ViewType
from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.wire import (
    ArtifactFile,
    ArtifactFiles,
    CreateExperiment,
    CreateRun,
    DatasetEntry,
    DatasetOut,
    DatasetVersions,
    ExperimentId,
    ExperimentList,
    ExperimentOut,
    LogBatch,
    LogInput,
    LogMetric,
    MaybeExperiment,
    MetricHistory,
    MetricKeys,
    RunCounts,
    RunIdOut,
    RunOut,
    RunPage,
    SearchRuns,
    TagValue,
    UpdateExperiment,
    UpdateRun,
)
from modelyard.server._operations import Access, Call, Operation

API = "/api/v1"
_READ_EXPERIMENT = Access("read", "experiment", "experiment_id")
_EDIT_EXPERIMENT = Access("edit", "experiment", "experiment_id")
_READ_RUN = Access("read", "run", "run_id")
_EDIT_RUN = Access("edit", "run", "run_id")


def _view_type(call: Call) -> ViewType:
    raw = call.query.get("view_type", ViewType.ACTIVE_ONLY.value)
    try:
        return ViewType(raw)
    except ValueError:
        raise ValidationError(
            f"query parameter view_type must be one of {[m.value for m in ViewType]}"
        ) from None


def _user(call: Call, claimed: str) -> str:
    """The name a write is recorded under: the token's user, or (without auth) the client's."""
    return call.actor if call.principal.authenticated else (claimed or call.actor)


# -- experiments ----------------------------------------------------------------------------


def create_experiment(call: Call) -> ExperimentId:
    body: CreateExperiment = call.body
    return ExperimentId(experiment_id=call.state.client.create_experiment(body.name, body.tags))


def get_experiment(call: Call) -> ExperimentOut:
    return ExperimentOut(experiment=call.state.store.get_experiment(call.path["experiment_id"]))


def get_experiment_by_name(call: Call) -> MaybeExperiment:
    found = call.state.store.get_experiment_by_name(call.query.get("name", ""))
    if found is not None and not call.state.auth.can(
        call.principal, "read", "experiment", found.experiment_id
    ):
        found = None
    return MaybeExperiment(experiment=found)


def search_experiments(call: Call) -> ExperimentList:
    found = call.state.client.search_experiments(
        _view_type(call), call.query.get("name_like") or None
    )
    auth, who = call.state.auth, call.principal
    return ExperimentList(
        experiments=[e for e in found if auth.can(who, "read", "experiment", e.experiment_id)]
    )


def update_experiment(call: Call) -> None:
    body: UpdateExperiment = call.body
    experiment_id = call.path["experiment_id"]
    client = call.state.client
    if body.name is not None:
        client.rename_experiment(experiment_id, body.name)
    if body.lifecycle_stage is LifecycleStage.DELETED:
        client.delete_experiment(experiment_id)
    elif body.lifecycle_stage is LifecycleStage.ACTIVE:
        client.restore_experiment(experiment_id)


def set_experiment_tag(call: Call) -> None:
    body: TagValue = call.body
    call.state.client.set_experiment_tag(call.path["experiment_id"], call.path["key"], body.value)


def count_runs(call: Call) -> RunCounts:
    ids = [i for item in call.query_lists.get("experiment_id", []) for i in item.split(",") if i]
    for experiment_id in ids:
        call.state.auth.require(call.principal, "read", "experiment", experiment_id)
    return RunCounts(counts=call.state.store.count_runs(ids, _view_type(call)))


# -- runs -----------------------------------------------------------------------------------


def create_run(call: Call) -> RunOut:
    body: CreateRun = call.body
    tags = {v.check_key(k, "tag key"): v.tag_value(k, val) for k, val in body.tags.items()}
    run = call.state.store.create_run(
        run_id=body.run_id,
        experiment_id=call.path["experiment_id"],
        run_name=v.check_name(body.run_name, "run name"),
        start_time=v.check_timestamp("start_time", body.start_time),
        user=_user(call, body.user),
        parent_run_id=body.parent_run_id,
        tags_=tags,
        context=body.context,
    )
    return RunOut(run=run)


def get_run(call: Call) -> RunOut:
    return RunOut(run=call.state.store.get_run(call.path["run_id"]))


def resolve_run_id(call: Call) -> RunIdOut:
    run_id = call.state.store.resolve_run_id(call.path["ref"])
    call.state.auth.require(call.principal, "read", "run", run_id)
    return RunIdOut(run_id=run_id)


def update_run(call: Call) -> None:
    body: UpdateRun = call.body
    run_id = call.path["run_id"]
    store = call.state.store
    if body.run_name is not None:
        store.rename_run(run_id, v.check_name(body.run_name, "run name"))
    if body.status is not None:
        if body.end_time is not None:
            v.check_timestamp("end_time", body.end_time)
        store.set_run_status(run_id, body.status, body.end_time)
    if body.lifecycle_stage is not None:
        store.set_run_lifecycle(run_id, body.lifecycle_stage)


def delete_tag(call: Call) -> None:
    call.state.store.delete_tag(call.path["run_id"], call.path["key"])


def log_metric(call: Call) -> None:
    body: LogMetric = call.body
    call.state.client.log_metric(
        call.path["run_id"], body.key, body.value, timestamp=body.timestamp, step=body.step
    )


def log_batch(call: Call) -> None:
    body: LogBatch = call.body
    call.state.client.log_batch(
        call.path["run_id"],
        metrics=body.metrics,  # already Metric, Param and RunTag objects (the wire's types)
        params=body.params,
        tags=body.tags,
    )


def metric_history(call: Call) -> MetricHistory:
    key = call.query.get("key")
    if not key:
        raise ValidationError("query parameter 'key' is missing: name the metric, e.g. ?key=loss")
    return MetricHistory(metrics=call.state.store.get_metric_history(call.path["run_id"], key))


def metric_keys(call: Call) -> MetricKeys:
    return MetricKeys(keys=call.state.store.metric_keys(call.path["run_id"]))


def log_input(call: Call) -> None:
    body: LogInput = call.body
    call.state.client.log_input(call.path["run_id"], body.dataset, body.context)


def search_runs(call: Call) -> RunPage:
    body: SearchRuns = call.body
    for experiment_id in body.experiment_ids:
        call.state.auth.require(call.principal, "read", "experiment", experiment_id)
    page = call.state.client.search_runs(
        body.experiment_ids,
        body.filter,
        body.view_type,
        body.max_results,
        body.order_by,
        body.page_token,
    )
    return RunPage(runs=list(page), next_page_token=page.token)


# -- artifact records (the bytes go through /blobs) -----------------------------------------


def record_artifacts(call: Call) -> None:
    body: ArtifactFiles = call.body
    blobs = call.state.blobs
    files = []
    for f in body.files:
        path = v.check_artifact_path(f.path)
        if not path:
            raise ValidationError("files[].path is empty; name the artifact file")
        if not blobs.exists(f.digest):
            raise NotFoundError(
                f"artifact {path[:200]!r} points at blob {f.digest[:12]}, which was never uploaded; "
                "upload it first (PUT /api/v1/blobs/{sha256})"
            )
        files.append((path, f.digest, f.size))
    call.state.store.record_artifacts(call.path["run_id"], files)


def artifact_rows(call: Call) -> ArtifactFiles:
    prefix = v.check_artifact_path(call.query.get("prefix", ""))
    rows = call.state.store.artifact_rows(call.path["run_id"], prefix)
    return ArtifactFiles(files=[ArtifactFile(path=p, digest=d, size=s) for p, d, s in rows])


# -- datasets -------------------------------------------------------------------------------


def list_datasets(call: Call) -> DatasetVersions:
    rows = call.state.store.list_dataset_versions(call.query.get("name") or None)
    return DatasetVersions(versions=[DatasetEntry(dataset=d, created_time=t) for d, t in rows])


def get_dataset(call: Call) -> DatasetOut:
    return DatasetOut(
        dataset=call.state.store.get_dataset_version(call.path["name"], call.path["digest"])
    )


OPERATIONS = [
    Operation("create_experiment", "POST", f"{API}/experiments", "Create an experiment",
              create_experiment, CreateExperiment, ExperimentId, Access("edit", "somewhere")),
    Operation("search_experiments", "GET", f"{API}/experiments", "Experiments (?view_type=&name_like=)",
              search_experiments, None, ExperimentList),
    Operation("get_experiment_by_name", "GET", f"{API}/experiments/by-name", "The experiment called ?name=",
              get_experiment_by_name, None, MaybeExperiment),
    Operation("count_runs", "GET", f"{API}/experiments/run-counts", "Runs per experiment (?experiment_id=1,2)",
              count_runs, None, RunCounts),
    Operation("get_experiment", "GET", f"{API}/experiments/{{experiment_id}}", "An experiment",
              get_experiment, None, ExperimentOut, _READ_EXPERIMENT),
    Operation("update_experiment", "PATCH", f"{API}/experiments/{{experiment_id}}", "Rename, delete or restore",
              update_experiment, UpdateExperiment, access=_EDIT_EXPERIMENT),
    Operation("set_experiment_tag", "PUT", f"{API}/experiments/{{experiment_id}}/tags/{{key:path}}", "Set a tag",
              set_experiment_tag, TagValue, access=_EDIT_EXPERIMENT),
    Operation("create_run", "POST", f"{API}/experiments/{{experiment_id}}/runs", "Start a run (the client picks its id)",
              create_run, CreateRun, RunOut, _EDIT_EXPERIMENT),
    Operation("search_runs", "POST", f"{API}/runs/search", "Search runs with a filter, order and page token",
              search_runs, SearchRuns, RunPage),
    Operation("get_run", "GET", f"{API}/runs/{{run_id}}", "A run with its latest metrics, params, tags, inputs",
              get_run, None, RunOut, _READ_RUN),
    Operation("resolve_run_id", "GET", f"{API}/run-ids/{{ref}}",
              "The full id of the run whose id starts with {ref} (at least 4 characters)",
              resolve_run_id, None, RunIdOut),
    Operation("update_run", "PATCH", f"{API}/runs/{{run_id}}", "End, resume, rename, delete or restore a run",
              update_run, UpdateRun, access=_EDIT_RUN),
    Operation("log_metric", "POST", f"{API}/runs/{{run_id}}/metrics", "Append one metric point",
              log_metric, LogMetric, access=_EDIT_RUN),
    Operation("metric_history", "GET", f"{API}/runs/{{run_id}}/metrics", "Every point of ?key=",
              metric_history, None, MetricHistory, _READ_RUN),
    Operation("metric_keys", "GET", f"{API}/runs/{{run_id}}/metric-keys", "The run's metric names",
              metric_keys, None, MetricKeys, _READ_RUN),
    Operation("log_batch", "POST", f"{API}/runs/{{run_id}}/batch", "Metrics, params and tags in one transaction",
              log_batch, LogBatch, access=_EDIT_RUN),
    Operation("delete_tag", "DELETE", f"{API}/runs/{{run_id}}/tags/{{key:path}}", "Delete a run tag",
              delete_tag, access=_EDIT_RUN),
    Operation("log_input", "POST", f"{API}/runs/{{run_id}}/inputs", "Record a dataset version the run used",
              log_input, LogInput, access=_EDIT_RUN),
    Operation("record_artifacts", "POST", f"{API}/runs/{{run_id}}/artifacts", "Point artifact paths at uploaded blobs",
              record_artifacts, ArtifactFiles, access=_EDIT_RUN),
    Operation("artifact_rows", "GET", f"{API}/runs/{{run_id}}/artifacts", "Artifact files under ?prefix=",
              artifact_rows, None, ArtifactFiles, _READ_RUN),
    Operation("list_datasets", "GET", f"{API}/datasets", "Dataset versions, newest first (?name=)",
              list_datasets, None, DatasetVersions),
    Operation("get_dataset", "GET", f"{API}/datasets/{{name}}/versions/{{digest}}", "One dataset version",
              get_dataset, None, DatasetOut),
]
