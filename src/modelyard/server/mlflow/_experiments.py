"""MLflow's experiment endpoints over modelyard's experiments (ids are ours; MLflow's default
experiment ``0`` is our experiment called ``Default``)."""

from __future__ import annotations

import re

from modelyard.core.entities import ViewType
from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.server.mlflow import _convert as convert
from modelyard.server.mlflow import _wire as w
from modelyard.server.mlflow._endpoint import Answer, MlflowCall, MlflowOp

DEFAULT_EXPERIMENT = "Default"
_VIEW = {
    "ACTIVE_ONLY": ViewType.ACTIVE_ONLY,
    "DELETED_ONLY": ViewType.DELETED_ONLY,
    "ALL": ViewType.ALL,
}
_NAME_FILTER = re.compile(
    r"^\s*(?:attributes\.|attribute\.)?name\s*(=|like|ilike)\s*'((?:[^']|'')*)'\s*$", re.IGNORECASE
)


def view_type(raw: str | int, field: str = "view_type") -> ViewType:
    key = {"1": "ACTIVE_ONLY", "2": "DELETED_ONLY", "3": "ALL"}.get(str(raw), str(raw).upper())
    if key not in _VIEW:
        raise ValidationError(f"{field} must be one of {sorted(_VIEW)}")
    return _VIEW[key]


def experiment_id(call: MlflowCall, raw: str) -> str:
    """Our experiment id for MLflow's: ``0`` (MLflow's default) is our ``Default``."""
    if raw in ("0", ""):
        return call.state.client.get_or_create_experiment(DEFAULT_EXPERIMENT).experiment_id
    return raw


def create_experiment(call: MlflowCall) -> Answer:
    body: w.CreateExperiment = call.body
    if body.artifact_location:
        raise ValidationError(
            "artifact_location is chosen by modelyard server (its --artifacts-destination); "
            "leave it out"
        )
    new_id = call.state.client.create_experiment(body.name, {t.key: t.value for t in body.tags})
    return {"experiment_id": new_id}


def get_experiment(call: MlflowCall) -> Answer:
    body: w.ExperimentRef = call.body
    eid = experiment_id(call, body.experiment_id)
    call.require("read", "experiment", eid)
    return {"experiment": convert.experiment(call.state.store.get_experiment(eid))}


def get_experiment_by_name(call: MlflowCall) -> Answer:
    body: w.ExperimentByName = call.body
    found = call.state.store.get_experiment_by_name(body.experiment_name)
    if found is None or not call.state.auth.can(
        call.principal, "read", "experiment", found.experiment_id
    ):
        raise NotFoundError(f"could not find experiment with name {body.experiment_name[:200]!r}")
    return {"experiment": convert.experiment(found)}


def search_experiments(call: MlflowCall) -> Answer:
    body: w.SearchExperiments = call.body
    name_like = None
    if body.filter.strip():
        match = _NAME_FILTER.match(body.filter)
        if match is None:
            raise ValidationError(
                "filter: modelyard server filters experiments by name only "
                "(\"name = 'x'\" or \"name LIKE 'x%'\")"
            )
        op, value = match.group(1).lower(), match.group(2).replace("''", "'")
        name_like = value if op != "=" else None
        exact = value if op == "=" else None
    else:
        exact = None
    found = call.state.client.search_experiments(view_type(body.view_type), name_like)
    if exact is not None:
        found = [e for e in found if e.name == exact]
    auth, who = call.state.auth, call.principal
    visible = [e for e in found if auth.can(who, "read", "experiment", e.experiment_id)]
    return {"experiments": [convert.experiment(e) for e in visible[: max(body.max_results, 1)]]}


def update_experiment(call: MlflowCall) -> Answer:
    body: w.UpdateExperiment = call.body
    call.require("edit", "experiment", body.experiment_id)
    if body.new_name:
        call.state.client.rename_experiment(body.experiment_id, body.new_name)
    return None


def delete_experiment(call: MlflowCall) -> Answer:
    body: w.ExperimentRef = call.body
    call.require("edit", "experiment", body.experiment_id)
    call.state.client.delete_experiment(body.experiment_id)
    return None


def restore_experiment(call: MlflowCall) -> Answer:
    body: w.ExperimentRef = call.body
    call.require("edit", "experiment", body.experiment_id)
    call.state.client.restore_experiment(body.experiment_id)
    return None


def set_experiment_tag(call: MlflowCall) -> Answer:
    body: w.SetExperimentTag = call.body
    eid = experiment_id(call, body.experiment_id)
    call.require("edit", "experiment", eid)
    call.state.client.set_experiment_tag(eid, body.key, body.value)
    return None


OPERATIONS = [
    MlflowOp(
        "createExperiment",
        ("POST",),
        "/experiments/create",
        create_experiment,
        w.CreateExperiment,
        "edit",
    ),
    MlflowOp("getExperiment", ("GET",), "/experiments/get", get_experiment, w.ExperimentRef),
    MlflowOp(
        "getExperimentByName",
        ("GET",),
        "/experiments/get-by-name",
        get_experiment_by_name,
        w.ExperimentByName,
    ),
    MlflowOp(
        "searchExperiments",
        ("POST", "GET"),
        "/experiments/search",
        search_experiments,
        w.SearchExperiments,
    ),
    MlflowOp(
        "updateExperiment",
        ("POST",),
        "/experiments/update",
        update_experiment,
        w.UpdateExperiment,
        "edit",
    ),
    MlflowOp(
        "deleteExperiment",
        ("POST",),
        "/experiments/delete",
        delete_experiment,
        w.ExperimentRef,
        "edit",
    ),
    MlflowOp(
        "restoreExperiment",
        ("POST",),
        "/experiments/restore",
        restore_experiment,
        w.ExperimentRef,
        "edit",
    ),
    MlflowOp(
        "setExperimentTag",
        ("POST",),
        "/experiments/set-experiment-tag",
        set_experiment_tag,
        w.SetExperimentTag,
        "edit",
    ),
]
