"""MLflow's model registry endpoints over modelyard's registry: registered models, versions,
aliases and tags (every change audited under the caller's name).

A version registered through MLflow keeps the MLflow model folder as it was logged (flavor
``mlflow``; its manifest digest is the ``MLmodel`` file's sha256): its files are pinned by
hash when it is created, and ``get-download-uri`` points at them
(``mlflow-artifacts:/models/<name>/<version>``), so a later upload to the run cannot change
what ``models:/<name>@<alias>`` loads."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from modelyard.core.errors import ConflictError, NotFoundError, ValidationError
from modelyard.core.models import ModelVersion, VersionState, check_alias, check_model_name
from modelyard.core.search_filter import quote
from modelyard.registry import RegistryEvents
from modelyard.server.mlflow import _convert as convert
from modelyard.server.mlflow import _logged_models as logged
from modelyard.server.mlflow import _wire as w
from modelyard.server.mlflow._artifacts import parse_location
from modelyard.server.mlflow._endpoint import Answer, MlflowCall, MlflowOp

MLMODEL = "MLmodel"
# MLflow 3 clients add this clause to hide prompts; modelyard keeps no prompts, so it is
# dropped (``!= 'true'``) or matches nothing (``= 'true'``).
_PROMPT = re.compile(
    r"(?:^|\s+and\s+)tags?\.`mlflow\.prompt\.is_prompt`\s*(!=|=)\s*'true'", re.IGNORECASE
)


def _without_prompts(filter_string: str) -> tuple[str | None, bool]:
    """The filter without MLflow's prompt clause, and whether anything can match."""
    match = _PROMPT.search(filter_string)
    if match is None:
        return filter_string or None, True
    rest = (filter_string[: match.start()] + filter_string[match.end() :]).strip()
    rest = re.sub(r"^and\s+", "", rest, flags=re.IGNORECASE)
    return rest or None, match.group(1) == "!="


_MAX_RESULTS = 10_000


def _version(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError("version must be a positive whole number")
    return int(raw)


def _latest(call: MlflowCall, name: str) -> ModelVersion | None:
    found = call.state.store.registry.search_versions(f"name = {quote(name)}", None, 1)
    return found[0] if found else None


# -- registered models ------------------------------------------------------------------------


def create_registered_model(call: MlflowCall) -> Answer:
    body: w.CreateRegisteredModel = call.body
    registry = call.state.store.registry
    created = registry.ensure_model(
        check_model_name(body.name),
        description=body.description,
        owner=call.actor,
        tags={t.key: t.value for t in body.tags},
        actor=call.actor,
    )
    if not created:
        raise ConflictError(f"registered model (name={body.name!r}) already exists")
    return {"registered_model": convert.registered_model(registry.get_model(body.name))}


def get_registered_model(call: MlflowCall) -> Answer:
    body: w.ModelName = call.body
    call.require("read", "model", body.name)
    model = call.state.store.registry.get_model(body.name)
    return {"registered_model": convert.registered_model(model, _latest(call, body.name))}


def update_registered_model(call: MlflowCall) -> Answer:
    body: w.UpdateRegisteredModel = call.body
    call.require("edit", "model", body.name)
    registry = call.state.store.registry
    if body.description is not None:
        registry.update_model(body.name, call.actor, description=body.description)
    return {"registered_model": convert.registered_model(registry.get_model(body.name))}


def _search(
    call: MlflowCall, search: Callable[..., Any], key: str, to_wire: Callable[[Any], Any]
) -> Answer:
    """One page of registered models or versions, as MLflow's search answers: only what the
    caller may read, and the next page's token."""
    body: w.SearchModels = call.body
    if not 0 < body.max_results <= _MAX_RESULTS:
        raise ValidationError(f"max_results must be from 1 to {_MAX_RESULTS}")
    filter_string, possible = _without_prompts(body.filter)
    if not possible:
        return {}
    page = search(filter_string, body.order_by or None, body.max_results, body.page_token or None)
    auth, who = call.state.auth, call.principal
    out: dict[str, Any] = {
        key: [to_wire(found) for found in page if auth.can(who, "read", "model", found.name)]
    }
    if page.token:
        out["next_page_token"] = page.token
    return out


def search_registered_models(call: MlflowCall) -> Answer:
    registry = call.state.store.registry
    return _search(call, registry.search_models, "registered_models", convert.registered_model)


def get_latest_versions(call: MlflowCall) -> Answer:
    body: w.GetLatestVersions = call.body
    call.require("read", "model", body.name)
    call.state.store.registry.get_model(body.name)
    latest = _latest(call, body.name)
    wanted = {s.lower() for s in body.stages}
    if latest is None or (wanted and "none" not in wanted):
        return {"model_versions": []}
    return {"model_versions": [convert.model_version(latest)]}


def set_model_tag(call: MlflowCall) -> Answer:
    body: w.ModelTag = call.body
    call.require("edit", "model", body.name)
    call.state.store.registry.set_tag(body.name, None, body.key, body.value, call.actor)
    return None


def delete_model_tag(call: MlflowCall) -> Answer:
    body: w.ModelTagRef = call.body
    call.require("edit", "model", body.name)
    call.state.store.registry.delete_tag(body.name, None, body.key, call.actor)
    return None


# -- versions ---------------------------------------------------------------------------------


def _source_files(call: MlflowCall, source: str, model_id: str) -> tuple[str, str, str]:
    """(run id, path inside its artifacts, logged model id) of a version's ``source``."""
    if model_id or source.startswith("models:/m-"):
        found = model_id or source[len("models:/") :]
        record = logged.load(call, found)
        return record["run_id"], record["path"], found
    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/") :].partition("/")
        return run_id, path, ""
    if source.startswith("mlflow-artifacts:/"):
        loc = parse_location(source[len("mlflow-artifacts:/") :].lstrip("/"))
        if loc.kind == "run":
            return loc.owner, loc.path, ""
    raise ValidationError(
        "source must be 'models:/<model_id>', 'runs:/<run_id>/<path>' or an "
        "'mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>' URI of this server"
    )


def create_model_version(call: MlflowCall) -> Answer:
    body: w.CreateModelVersion = call.body
    call.require("edit", "model", body.name)
    registry = call.state.store.registry
    model = registry.get_model(body.name)
    run_id, path, model_id = _source_files(call, body.source, body.model_id)
    call.require("read", "run", run_id)
    run = call.state.store.get_run(run_id)
    base = path + "/" if path else ""
    files = {p[len(base) :]: (d, s) for p, d, s in call.state.store.artifact_rows(run_id, path)}
    if MLMODEL not in files:
        raise ValidationError(
            f"source {body.source[:200]!r} holds no MLmodel file: upload the model folder first "
            "(mlflow.<flavor>.log_model)"
        )
    lineage = {"run_id": run_id, "experiment_id": run.info.experiment_id, "source": body.source}
    if model_id:
        lineage["mlflow_model_id"] = model_id
    version = registry.create_version(
        body.name,
        actor=call.actor,
        source=body.source,
        run_id=run_id,
        flavor="mlflow",
        manifest_digest=files[MLMODEL][0],
        files=files,
        signature=None,
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        tags={t.key: t.value for t in body.tags},
        description=body.description,
        owner=call.actor,
        lineage=lineage,
        risk_category=model.risk_category,
        card={},
    )
    RegistryEvents(call.state.store).version_created(version, call.actor)
    return {"model_version": convert.model_version(version)}


def get_model_version(call: MlflowCall) -> Answer:
    body: w.VersionRef = call.body
    call.require("read", "model", body.name)
    version = call.state.store.registry.get_version(body.name, _version(body.version))
    return {"model_version": convert.model_version(version)}


def update_model_version(call: MlflowCall) -> Answer:
    body: w.UpdateModelVersion = call.body
    call.require("edit", "model", body.name)
    registry = call.state.store.registry
    number = _version(body.version)
    if body.description is not None:
        registry.update_version(body.name, number, call.actor, "", description=body.description)
    return {"model_version": convert.model_version(registry.get_version(body.name, number))}


def delete_model_version(call: MlflowCall) -> Answer:
    body: w.VersionRef = call.body
    call.require("edit", "model", body.name)
    call.state.store.registry.set_state(
        body.name,
        _version(body.version),
        VersionState.DELETED,
        call.actor,
        "deleted with MLflow's API",
    )
    return None


def search_model_versions(call: MlflowCall) -> Answer:
    registry = call.state.store.registry
    return _search(call, registry.search_versions, "model_versions", convert.model_version)


def download_uri(call: MlflowCall) -> Answer:
    body: w.VersionRef = call.body
    call.require("read", "model", body.name)
    version = call.state.store.registry.get_version(body.name, _version(body.version))
    if version.flavor != "mlflow":
        raise ValidationError(
            f"version {version.version} of {body.name!r} is a modelyard bundle, not an MLflow "
            "model folder; load it with modelyard.pyfunc.load_model"
        )
    return {"artifact_uri": f"mlflow-artifacts:/models/{version.name}/{version.version}"}


def set_version_tag(call: MlflowCall) -> Answer:
    body: w.VersionTag = call.body
    call.require("edit", "model", body.name)
    call.state.store.registry.set_tag(
        body.name, _version(body.version), body.key, body.value, call.actor
    )
    return None


def delete_version_tag(call: MlflowCall) -> Answer:
    body: w.VersionTagRef = call.body
    call.require("edit", "model", body.name)
    call.state.store.registry.delete_tag(body.name, _version(body.version), body.key, call.actor)
    return None


# -- aliases ----------------------------------------------------------------------------------


def set_alias(call: MlflowCall) -> Answer:
    body: w.SetAlias = call.body
    call.require("edit", "model", body.name)
    number = _version(body.version)
    previous = call.state.store.registry.set_alias(
        body.name, check_alias(body.alias), number, call.actor, ""
    )
    RegistryEvents(call.state.store).alias_moved(
        body.name, body.alias, previous, number, call.actor, "", "set_alias"
    )
    return None


def delete_alias(call: MlflowCall) -> Answer:
    body: w.AliasRef = call.body
    call.require("edit", "model", body.name)
    previous = call.state.store.registry.delete_alias(body.name, body.alias, call.actor, "")
    RegistryEvents(call.state.store).alias_moved(
        body.name, body.alias, previous, None, call.actor, "", "delete_alias"
    )
    return None


def get_by_alias(call: MlflowCall) -> Answer:
    body: w.AliasRef = call.body
    call.require("read", "model", body.name)
    registry = call.state.store.registry
    try:
        number = registry.resolve_alias(body.name, body.alias)
    except NotFoundError:
        raise NotFoundError(
            f"registered model alias {body.alias[:80]!r} not found for model {body.name[:80]!r}"
        ) from None
    return {"model_version": convert.model_version(registry.get_version(body.name, number))}


R = "/registered-models"
V = "/model-versions"
OPERATIONS = [
    MlflowOp(
        "createRegisteredModel",
        ("POST",),
        f"{R}/create",
        create_registered_model,
        w.CreateRegisteredModel,
        "edit",
    ),
    MlflowOp("getRegisteredModel", ("GET",), f"{R}/get", get_registered_model, w.ModelName),
    MlflowOp(
        "updateRegisteredModel",
        ("PATCH",),
        f"{R}/update",
        update_registered_model,
        w.UpdateRegisteredModel,
        "edit",
    ),
    MlflowOp(
        "searchRegisteredModels", ("GET",), f"{R}/search", search_registered_models, w.SearchModels
    ),
    MlflowOp(
        "getLatestVersions",
        ("POST", "GET"),
        f"{R}/get-latest-versions",
        get_latest_versions,
        w.GetLatestVersions,
    ),
    MlflowOp("setRegisteredModelTag", ("POST",), f"{R}/set-tag", set_model_tag, w.ModelTag, "edit"),
    MlflowOp(
        "deleteRegisteredModelTag",
        ("DELETE",),
        f"{R}/delete-tag",
        delete_model_tag,
        w.ModelTagRef,
        "edit",
    ),
    MlflowOp("setRegisteredModelAlias", ("POST",), f"{R}/alias", set_alias, w.SetAlias, "edit"),
    MlflowOp(
        "deleteRegisteredModelAlias", ("DELETE",), f"{R}/alias", delete_alias, w.AliasRef, "edit"
    ),
    MlflowOp("getModelVersionByAlias", ("GET",), f"{R}/alias", get_by_alias, w.AliasRef),
    MlflowOp(
        "createModelVersion",
        ("POST",),
        f"{V}/create",
        create_model_version,
        w.CreateModelVersion,
        "edit",
    ),
    MlflowOp("getModelVersion", ("GET",), f"{V}/get", get_model_version, w.VersionRef),
    MlflowOp(
        "updateModelVersion",
        ("PATCH",),
        f"{V}/update",
        update_model_version,
        w.UpdateModelVersion,
        "edit",
    ),
    MlflowOp(
        "deleteModelVersion", ("DELETE",), f"{V}/delete", delete_model_version, w.VersionRef, "edit"
    ),
    MlflowOp("searchModelVersions", ("GET",), f"{V}/search", search_model_versions, w.SearchModels),
    MlflowOp(
        "getModelVersionDownloadUri", ("GET",), f"{V}/get-download-uri", download_uri, w.VersionRef
    ),
    MlflowOp(
        "setModelVersionTag", ("POST",), f"{V}/set-tag", set_version_tag, w.VersionTag, "edit"
    ),
    MlflowOp(
        "deleteModelVersionTag",
        ("DELETE",),
        f"{V}/delete-tag",
        delete_version_tag,
        w.VersionTagRef,
        "edit",
    ),
]
