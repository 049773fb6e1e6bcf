"""MLflow's run endpoints over modelyard's runs: create, get, update, delete, restore, search,
metrics (single, batch, history), params, tags, dataset inputs and model outputs."""

from __future__ import annotations

import json
from typing import Any

from modelyard.core.entities import (
    DatasetVersion,
    LifecycleStage,
    Metric,
    Param,
    RunStatus,
    RunTag,
)
from modelyard.core.errors import ValidationError
from modelyard.core.ids import new_run_id, now_ms
from modelyard.server.mlflow import _convert as convert
from modelyard.server.mlflow import _wire as w
from modelyard.server.mlflow._endpoint import Answer, MlflowCall, MlflowOp
from modelyard.server.mlflow._experiments import experiment_id, view_type

_MAX_SEARCH = 50_000


def _run_id(body: w.RunRef) -> str:
    if not body.run:
        raise ValidationError("run_id is missing: name the run")
    return body.run


def _user(call: MlflowCall, claimed: str) -> str:
    """A run's user: the token's user, or (without auth) the one the client names."""
    if call.principal.authenticated:
        return call.actor
    return claimed or call.actor


def create_run(call: MlflowCall) -> Answer:
    body: w.CreateRun = call.body
    eid = experiment_id(call, body.experiment_id)
    call.require("edit", "experiment", eid)
    tags = {t.key: t.value for t in body.tags}
    parent = tags.get("mlflow.parentRunId") or None
    run_id = new_run_id()
    name = body.run_name or tags.get("mlflow.runName") or f"run-{run_id[:8]}"
    tags.setdefault("mlflow.runName", name)
    run = call.state.client.store.create_run(
        run_id=run_id,
        experiment_id=eid,
        run_name=name,
        start_time=body.start_time if body.start_time is not None else now_ms(),
        user=_user(call, body.user_id or tags.get("mlflow.user", "")),
        parent_run_id=parent,
        tags_=tags,
        context={},
    )
    return {"run": convert.run(run)}


def get_run(call: MlflowCall) -> Answer:
    run_id = _run_id(call.body)
    call.require("read", "run", run_id)
    return {"run": convert.run(call.state.store.get_run(run_id))}


def update_run(call: MlflowCall) -> Answer:
    body: w.UpdateRun = call.body
    run_id = _run_id(body)
    call.require("edit", "run", run_id)
    store = call.state.store
    if body.run_name:
        store.rename_run(run_id, body.run_name)
    if body.status:
        try:
            status = RunStatus(body.status.upper())
        except ValueError:
            raise ValidationError(f"status must be one of {[s.value for s in RunStatus]}") from None
        end = body.end_time if body.end_time is not None else now_ms()
        store.set_run_status(run_id, status, end if status.is_terminated else None)
    return {"run_info": convert.run_info(store.get_run(run_id))}


def delete_run(call: MlflowCall) -> Answer:
    run_id = _run_id(call.body)
    call.require("edit", "run", run_id)
    call.state.store.set_run_lifecycle(run_id, LifecycleStage.DELETED)
    return None


def restore_run(call: MlflowCall) -> Answer:
    run_id = _run_id(call.body)
    call.require("edit", "run", run_id)
    call.state.store.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)
    return None


def log_metric(call: MlflowCall) -> Answer:
    body: w.LogMetric = call.body
    run_id = _run_id(body)
    call.require("edit", "run", run_id)
    call.state.client.log_metric(run_id, body.key, body.value, body.timestamp, body.step)
    return None


def log_param(call: MlflowCall) -> Answer:
    body: w.LogParam = call.body
    run_id = _run_id(body)
    call.require("edit", "run", run_id)
    call.state.client.log_param(run_id, body.key, body.value)
    return None


def set_tag(call: MlflowCall) -> Answer:
    body: w.SetTag = call.body
    run_id = _run_id(body)
    call.require("edit", "run", run_id)
    if body.key == "mlflow.runName":
        call.state.store.rename_run(run_id, body.value)
    call.state.client.set_tag(run_id, body.key, body.value)
    return None


def delete_tag(call: MlflowCall) -> Answer:
    body: w.DeleteTag = call.body
    run_id = _run_id(body)
    call.require("edit", "run", run_id)
    call.state.client.delete_tag(run_id, body.key)
    return None


def log_batch(call: MlflowCall) -> Answer:
    body: w.LogBatch = call.body
    run_id = _run_id(body)
    call.require("edit", "run", run_id)
    now = now_ms()
    call.state.client.log_batch(
        run_id,
        metrics=[
            Metric(m.key, m.value, now if m.timestamp is None else m.timestamp, m.step or 0)
            for m in body.metrics
        ],
        params=[Param(p.key, p.value) for p in body.params],
        tags=[RunTag(t.key, t.value) for t in body.tags],
    )
    return None


def metric_history(call: MlflowCall) -> Answer:
    body: w.MetricHistory = call.body
    run_id = _run_id(body)
    call.require("read", "run", run_id)
    points = call.state.store.get_metric_history(run_id, body.metric_key)
    return {"metrics": [convert.metric(m) for m in points]}


def _schema(raw: str) -> dict[str, str]:
    """MLflow's dataset schema (``{"mlflow_colspec": [{"name", "type"}]}``) as ours."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ValidationError("datasets[].dataset.schema is not valid JSON") from None
    cols = parsed.get("mlflow_colspec") if isinstance(parsed, dict) else None
    if not isinstance(cols, list):
        return {}
    return {
        str(c.get("name", f"col{i}")): str(c.get("type", ""))
        for i, c in enumerate(cols)
        if isinstance(c, dict)
    }


def _profile(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ValidationError("datasets[].dataset.profile is not valid JSON") from None
    return parsed if isinstance(parsed, dict) else {}


def log_inputs(call: MlflowCall) -> Answer:
    body: w.LogInputs = call.body
    run_id = _run_id(body)
    call.require("edit", "run", run_id)
    for item in body.datasets:
        d = item.dataset
        profile = _profile(d.profile)
        rows = profile.get("num_rows")
        context = next(
            (t.value for t in item.tags if t.key == "mlflow.data.context" and t.value), "training"
        )
        call.state.client.log_input(
            run_id,
            DatasetVersion(
                name=d.name,
                digest=d.digest,
                source_type=d.source_type or "mlflow",
                source=d.source,
                num_rows=rows if isinstance(rows, int) else None,
                schema=_schema(d.schema_),
                profile=profile,
            ),
            context,
        )
    return None


def log_outputs(call: MlflowCall) -> Answer:
    """Accepted: the run-to-model link is kept in the logged model itself."""
    run_id = _run_id(call.body)
    call.require("edit", "run", run_id)
    return None


def search_runs(call: MlflowCall) -> Answer:
    body: w.SearchRuns = call.body
    ids = [experiment_id(call, e) for e in body.experiment_ids]
    for eid in ids:
        call.require("read", "experiment", eid)
    if not 0 < body.max_results <= _MAX_SEARCH:
        raise ValidationError(f"max_results must be from 1 to {_MAX_SEARCH}")
    page = call.state.client.search_runs(
        ids,
        body.filter,
        view_type(body.run_view_type, "run_view_type"),
        body.max_results,
        body.order_by or None,
        body.page_token or None,
    )
    out: dict[str, Any] = {"runs": [convert.run(r) for r in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


OPERATIONS = [
    MlflowOp("createRun", ("POST",), "/runs/create", create_run, w.CreateRun, "edit"),
    MlflowOp("getRun", ("GET",), "/runs/get", get_run, w.RunRef),
    MlflowOp("updateRun", ("POST",), "/runs/update", update_run, w.UpdateRun, "edit"),
    MlflowOp("deleteRun", ("POST",), "/runs/delete", delete_run, w.RunRef, "edit"),
    MlflowOp("restoreRun", ("POST",), "/runs/restore", restore_run, w.RunRef, "edit"),
    MlflowOp("logMetric", ("POST",), "/runs/log-metric", log_metric, w.LogMetric, "edit"),
    MlflowOp("logParam", ("POST",), "/runs/log-parameter", log_param, w.LogParam, "edit"),
    MlflowOp("setTag", ("POST",), "/runs/set-tag", set_tag, w.SetTag, "edit"),
    MlflowOp("deleteTag", ("POST",), "/runs/delete-tag", delete_tag, w.DeleteTag, "edit"),
    MlflowOp("logBatch", ("POST",), "/runs/log-batch", log_batch, w.LogBatch, "edit"),
    MlflowOp("logInputs", ("POST",), "/runs/log-inputs", log_inputs, w.LogInputs, "edit"),
    MlflowOp("logOutputs", ("POST",), "/runs/outputs", log_outputs, w.LogOutputs, "edit"),
    MlflowOp("searchRuns", ("POST",), "/runs/search", search_runs, w.SearchRuns),
    MlflowOp("getMetricHistory", ("GET",), "/metrics/get-history", metric_history, w.MetricHistory),
]
