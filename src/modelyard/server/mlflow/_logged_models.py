"""MLflow 3's logged models (what ``mlflow.<flavor>.log_model`` creates before it uploads the
model folder), kept on modelyard's own records: each is a small JSON record in a hidden tag
of its experiment, and its files are the source run's artifacts under the model's name (or
``models/<model_id>`` when that name is taken in the run), so ``runs:/<run>/<name>`` works
for MLflow and modelyard's client alike.

A model id is ``m-<experiment>-<32 hex>``, so it names where its record is. A logged model
needs a source run (its files are run artifacts)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.ids import now_ms
from modelyard.server.mlflow import _convert as convert
from modelyard.server.mlflow import _wire as w
from modelyard.server.mlflow._endpoint import Answer, MlflowCall, MlflowOp
from modelyard.server.mlflow._experiments import experiment_id

PREFIX = convert.HIDDEN_TAG_PREFIX + "model."
_MODEL_ID = re.compile(r"^m-(\d+)-([0-9a-f]{32})$")
_STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")


def _experiment_of(model_id: str) -> str:
    match = _MODEL_ID.match(model_id)
    if match is None:
        raise NotFoundError(f"logged model {model_id[:80]!r} does not exist")
    return match.group(1)


def load(call: MlflowCall, model_id: str, level: str = "read") -> dict[str, Any]:
    eid = _experiment_of(model_id)
    call.require("read" if level == "read" else "edit", "experiment", eid)
    try:
        raw = call.state.store.get_experiment(eid).tags.get(PREFIX + model_id)
    except NotFoundError:
        raw = None
    if raw is None:
        raise NotFoundError(f"logged model {model_id[:80]!r} does not exist")
    record: dict[str, Any] = json.loads(raw)
    return record


def _save(call: MlflowCall, model_id: str, record: dict[str, Any]) -> None:
    record["updated"] = now_ms()
    call.state.client.set_experiment_tag(
        _experiment_of(model_id), PREFIX + model_id, json.dumps(record, separators=(",", ":"))
    )


def artifact_location(model_id: str, record: dict[str, Any]) -> str:
    return (
        f"{convert.run_artifact_uri(_experiment_of(model_id), record['run_id'])}/{record['path']}"
    )


def as_json(call: MlflowCall, model_id: str, record: dict[str, Any]) -> dict[str, Any]:
    try:
        params = call.state.store.get_run(record["run_id"]).data.params
    except NotFoundError:
        params = {}
    return {
        "info": {
            "model_id": model_id,
            "experiment_id": _experiment_of(model_id),
            "name": record["name"],
            "creation_timestamp_ms": record["created"],
            "last_updated_timestamp_ms": record["updated"],
            "artifact_uri": artifact_location(model_id, record),
            "status": record["status"],
            "model_type": record.get("model_type", ""),
            "source_run_id": record["run_id"],
            "tags": convert.kv(record.get("tags", {})),
        },
        "data": {"params": convert.kv(params), "metrics": []},
    }


def create_logged_model(call: MlflowCall) -> Answer:
    body: w.CreateLoggedModel = call.body
    if not body.source_run_id:
        raise ValidationError(
            "source_run_id is missing: on modelyard server a logged model's files are kept with "
            "its run; call log_model inside mlflow.start_run()"
        )
    call.require("edit", "run", body.source_run_id)
    run = call.state.store.get_run(body.source_run_id)
    eid = experiment_id(call, body.experiment_id)
    if eid != run.info.experiment_id:
        raise ValidationError("experiment_id must be the experiment of source_run_id")
    model_id = f"m-{eid}-{uuid.uuid4().hex}"
    taken = {
        json.loads(v).get("path")
        for k, v in call.state.store.get_experiment(eid).tags.items()
        if k.startswith(PREFIX) and f'"run_id":"{run.info.run_id}"' in v
    }
    name = body.name or "model"
    path = name if name not in taken and "/" not in name else f"models/{model_id}"
    now = now_ms()
    record = {
        "run_id": run.info.run_id,
        "name": name,
        "path": path,
        "status": "LOGGED_MODEL_PENDING",
        "model_type": body.model_type,
        "creator": call.actor,
        "created": now,
        "tags": {t.key: t.value for t in body.tags},
    }
    _save(call, model_id, record)
    return {"model": as_json(call, model_id, record)}


def get_logged_model(call: MlflowCall) -> Answer:
    model_id = call.path["model_id"]
    return {"model": as_json(call, model_id, load(call, model_id))}


def finalize_logged_model(call: MlflowCall) -> Answer:
    model_id = call.path["model_id"]
    body: w.FinalizeLoggedModel = call.body
    status = body.status if body.status in _STATUSES else None
    if status is None:
        raise ValidationError(f"status must be one of {list(_STATUSES)}")
    record = load(call, model_id, "edit")
    record["status"] = status
    _save(call, model_id, record)
    return {"model": as_json(call, model_id, record)}


def set_logged_model_tags(call: MlflowCall) -> Answer:
    model_id = call.path["model_id"]
    body: w.LoggedModelTags = call.body
    record = load(call, model_id, "edit")
    record.setdefault("tags", {}).update({t.key: t.value for t in body.tags})
    _save(call, model_id, record)
    return None


def delete_logged_model_tag(call: MlflowCall) -> Answer:
    model_id, key = call.path["model_id"], call.path["tag_key"]
    record = load(call, model_id, "edit")
    record.setdefault("tags", {}).pop(key, None)
    _save(call, model_id, record)
    return None


_FIELDS = {"name": "name", "source_run_id": "run_id"}
_CLAUSE = re.compile(r"^\s*(name|source_run_id)\s*=\s*'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def _filter(text: str) -> dict[str, str]:
    """``name = 'x' AND source_run_id = 'y'``: the only filters logged models take here."""
    wanted: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValidationError(
                "filter: logged models are searched by \"name = '...'\" and "
                "\"source_run_id = '...'\" (joined with AND) on modelyard server"
            )
        wanted[match.group(1).lower()] = match.group(2).replace("''", "'")
    return wanted


def log_model(call: MlflowCall) -> Answer:
    """MLflow 2's record of a logged model on its run: accepted (the files are the record)."""
    body: w.RunRef = call.body
    if not body.run:
        raise ValidationError("run_id is missing: name the run")
    call.require("edit", "run", body.run)
    return None


def search_logged_models(call: MlflowCall) -> Answer:
    body: w.SearchLoggedModels = call.body
    wanted = _filter(body.filter)
    found = []
    for raw_id in body.experiment_ids:
        eid = experiment_id(call, raw_id)
        call.require("read", "experiment", eid)
        for key, value in call.state.store.get_experiment(eid).tags.items():
            if key.startswith(PREFIX):
                record = json.loads(value)
                if all(record.get(_FIELDS[k]) == v for k, v in wanted.items()):
                    found.append(as_json(call, key[len(PREFIX) :], record))
    found.sort(key=lambda m: -int(m["info"]["creation_timestamp_ms"]))
    return {"models": found[: max(body.max_results, 1)]}


OPERATIONS = [
    MlflowOp(
        "createLoggedModel",
        ("POST",),
        "/logged-models",
        create_logged_model,
        w.CreateLoggedModel,
        "edit",
    ),
    MlflowOp(
        "searchLoggedModels",
        ("POST",),
        "/logged-models/search",
        search_logged_models,
        w.SearchLoggedModels,
    ),
    MlflowOp("getLoggedModel", ("GET",), "/logged-models/{model_id}", get_logged_model, w.Body),
    MlflowOp(
        "finalizeLoggedModel",
        ("PATCH",),
        "/logged-models/{model_id}",
        finalize_logged_model,
        w.FinalizeLoggedModel,
        "edit",
    ),
    MlflowOp(
        "setLoggedModelTags",
        ("PATCH",),
        "/logged-models/{model_id}/tags",
        set_logged_model_tags,
        w.LoggedModelTags,
        "edit",
    ),
    MlflowOp(
        "deleteLoggedModelTag",
        ("DELETE",),
        "/logged-models/{model_id}/tags/{tag_key:path}",
        delete_logged_model_tag,
        w.Body,
        "edit",
    ),
    MlflowOp("logModel", ("POST",), "/runs/log-model", log_model, w.RunRef, "edit"),
]
