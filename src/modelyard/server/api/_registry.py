"""Native REST: registered models, versions, aliases, states, approvals, cards and the audit.

Every change is written with the registry's own audit entry in the same transaction, under
the authenticated user's name (the client's ``actor`` only counts with ``--auth none``)."""

from __future__ import annotations

from typing import Any

from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.models import check_alias, check_model_name
from modelyard.core.search_filter import quote
from modelyard.core.wire import (
    AliasTarget,
    AuditLog,
    Created,
    CreateVersion,
    DeleteAlias,
    EnsureModel,
    Located,
    ModelList,
    ModelOut,
    ModelPage,
    PreviousVersion,
    SearchModels,
    SearchVersions,
    SetAlias,
    SetState,
    TagChange,
    UpdateModel,
    UpdateVersion,
    VersionList,
    VersionOut,
    VersionPage,
)
from modelyard.registry import RegistryEvents, parse_gate
from modelyard.server._operations import Access, Call, Operation

API = "/api/v1"
_READ_MODEL = Access("read", "model", "name")
_EDIT_MODEL = Access("edit", "model", "name")
_MAX_AUDIT = 10_000


def _actor(call: Call, claimed: str) -> str:
    return call.actor if call.principal.authenticated else (claimed or call.actor)


def _version(call: Call) -> int:
    raw = call.path["version"]
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError("the version in the path must be a positive whole number")
    return int(raw)


def _changes(body: Any, *, skip: tuple[str, ...]) -> dict[str, Any]:
    """The fields the client set (those it left out stay as they are)."""
    return {k: getattr(body, k) for k in body.model_fields_set if k not in skip}


def ensure_model(call: Call) -> Created:
    body: EnsureModel = call.body
    created = call.state.store.registry.ensure_model(
        check_model_name(body.name),
        description=body.description,
        owner=body.owner or call.actor,
        risk_category=body.risk_category,
        tags=body.tags,
        actor=_actor(call, body.actor),
    )
    return Created(created=created)


def search_models(call: Call) -> ModelList:
    found = call.state.store.registry.search_models(call.query.get("name_like") or None)
    auth, who = call.state.auth, call.principal
    return ModelList(models=[m for m in found if auth.can(who, "read", "model", m.name)])


def get_model(call: Call) -> ModelOut:
    return ModelOut(model=call.state.store.registry.get_model(call.path["name"]))


def update_model(call: Call) -> None:
    body: UpdateModel = call.body
    values = _changes(body, skip=("actor",))
    if "gate" in values and values["gate"] is not None:
        values["gate"] = parse_gate(values["gate"]).model_dump(exclude_defaults=False)
    call.state.store.registry.update_model(call.path["name"], _actor(call, body.actor), **values)


def create_version(call: Call) -> VersionOut:
    body: CreateVersion = call.body
    name = check_model_name(call.path["name"])
    blobs = call.state.blobs
    for path, (digest, _) in body.files.items():
        if not blobs.exists(digest):
            raise NotFoundError(
                f"file {path[:200]!r} of the bundle points at blob {digest[:12]}, which was never "
                "uploaded; upload it first"
            )
    manifest_digest, manifest = call.state.client._manifest_of(body.files)
    if manifest_digest != body.manifest_digest or manifest.flavor != body.flavor:
        raise ValidationError(
            "manifest_digest and flavor must be those of the bundle's modelyard.yaml in 'files'"
        )
    fields = body.model_dump(exclude={"actor"})
    fields["files"] = body.files
    actor = _actor(call, body.actor)
    version = call.state.store.registry.create_version(name, actor=actor, **fields)
    RegistryEvents(call.state.store).version_created(version, actor)
    return VersionOut(version=version)


def get_version(call: Call) -> VersionOut:
    return VersionOut(
        version=call.state.store.registry.get_version(call.path["name"], _version(call))
    )


def locate(call: Call) -> Located:
    raw = call.query.get("version")
    alias = call.query.get("alias") or None
    version = int(raw) if raw and raw.isdigit() else None
    return Located(
        found=call.state.store.registry.locate(call.path["name"], version=version, alias=alias)
    )


def resolve_alias(call: Call) -> AliasTarget:
    return AliasTarget(
        version=call.state.store.registry.resolve_alias(call.path["name"], call.path["alias"])
    )


def set_alias(call: Call) -> PreviousVersion:
    body: SetAlias = call.body
    name, alias, actor = call.path["name"], check_alias(call.path["alias"]), _actor(call, body.actor)
    previous = call.state.store.registry.set_alias(
        name, alias, body.version, actor, body.reason, action=body.action, details=body.details
    )
    # a promotion's gate_result was sent when the client checked the gate (send_gate_result)
    RegistryEvents(call.state.store).alias_moved(
        name, alias, previous, body.version, actor, body.reason, body.action
    )
    return PreviousVersion(previous=previous)


def delete_alias(call: Call) -> PreviousVersion:
    body = DeleteAlias(reason=call.query.get("reason", ""), actor=call.query.get("actor", ""))
    name, alias, actor = call.path["name"], call.path["alias"], _actor(call, body.actor)
    previous = call.state.store.registry.delete_alias(name, alias, actor, body.reason)
    RegistryEvents(call.state.store).alias_moved(name, alias, previous, None, actor, body.reason, "delete_alias")
    return PreviousVersion(previous=previous)


def update_version(call: Call) -> VersionOut:
    body: UpdateVersion = call.body
    values = _changes(body, skip=("actor", "reason"))
    name, number, actor = call.path["name"], _version(call), _actor(call, body.actor)
    registry = call.state.store.registry
    before = len(registry.get_version(name, number).approvals) if body.approvals is not None else 0
    version = registry.update_version(name, number, actor, body.reason, **values)
    events = RegistryEvents(call.state.store)
    for added in version.approvals[before:] if body.approvals is not None else []:
        events.approval(name, number, str(added.get("approver", "")), str(added.get("note", "")), actor)
    return VersionOut(version=version)


def set_state(call: Call) -> None:
    body: SetState = call.body
    call.state.store.registry.set_state(
        call.path["name"], _version(call), body.state, _actor(call, body.actor), body.reason
    )


def search_versions(call: Call) -> VersionList:
    q = call.query
    clauses = [q["filter"]] if q.get("filter") else []
    clauses += [f"name = {quote(q['name'])}"] if q.get("name") else []
    clauses += [f"name LIKE {quote(q['name_like'])}"] if q.get("name_like") else []
    clauses += [f"run_id = {quote(q['run_id'])}"] if q.get("run_id") else []
    found = call.state.store.registry.search_versions(
        " and ".join(f"({c})" for c in clauses) or None,
        include_deleted=q.get("include_deleted", "false").lower() == "true",
    )
    auth, who = call.state.auth, call.principal
    return VersionList(versions=[v for v in found if auth.can(who, "read", "model", v.name)])


def search_models_page(call: Call) -> ModelPage:
    body: SearchModels = call.body
    page = call.state.store.registry.search_models(
        body.filter or None, body.order_by, body.max_results, body.page_token
    )
    auth, who = call.state.auth, call.principal
    return ModelPage(
        models=[m for m in page if auth.can(who, "read", "model", m.name)],
        next_page_token=page.token,
    )


def search_versions_page(call: Call) -> VersionPage:
    body: SearchVersions = call.body
    page = call.state.store.registry.search_versions(
        body.filter or None,
        body.order_by,
        body.max_results,
        body.page_token,
        include_deleted=body.include_deleted,
    )
    auth, who = call.state.auth, call.principal
    return VersionPage(
        versions=[v for v in page if auth.can(who, "read", "model", v.name)],
        next_page_token=page.token,
    )


def _tag_version(call: Call) -> int | None:
    return _version(call) if "version" in call.path else None


def set_tag(call: Call) -> None:
    body: TagChange = call.body
    call.state.store.registry.set_tag(
        call.path["name"], _tag_version(call), call.path["key"], body.value,
        _actor(call, body.actor), body.reason,
    )


def delete_tag(call: Call) -> None:
    call.state.store.registry.delete_tag(
        call.path["name"], _tag_version(call), call.path["key"],
        _actor(call, call.query.get("actor", "")), call.query.get("reason", ""),
    )


def audit_log(call: Call) -> AuditLog:
    name = call.query.get("name") or None
    raw = call.query.get("limit", "1000")
    if not raw.isdigit() or not 0 < int(raw) <= _MAX_AUDIT:
        raise ValidationError(f"query parameter limit must be a whole number from 1 to {_MAX_AUDIT}")
    if name is not None:
        call.state.auth.require(call.principal, "read", "model", name)
    entries = call.state.store.registry.audit_log(name, int(raw))
    auth, who = call.state.auth, call.principal
    return AuditLog(entries=[e for e in entries if auth.can(who, "read", "model", e.name)])


OPERATIONS = [
    Operation("create_registered_model", "POST", f"{API}/models", "Create a registered model unless it exists",
              ensure_model, EnsureModel, Created, Access("edit", "somewhere"), tag="registry"),
    Operation("search_registered_models", "GET", f"{API}/models", "Registered models (?name_like=)",
              search_models, None, ModelList, tag="registry"),
    Operation("get_registered_model", "GET", f"{API}/models/{{name}}", "A registered model",
              get_model, None, ModelOut, _READ_MODEL, tag="registry"),
    Operation("update_registered_model", "PATCH", f"{API}/models/{{name}}", "Description, owner, risk, tags, gate",
              update_model, UpdateModel, access=_EDIT_MODEL, tag="registry"),
    Operation("create_model_version", "POST", f"{API}/models/{{name}}/versions",
              "Register the next version from uploaded bundle files",
              create_version, CreateVersion, VersionOut, _EDIT_MODEL, tag="registry"),
    Operation("locate_model_version", "GET", f"{API}/models/{{name}}/locate",
              "(version, state, manifest digest, files) for ?version= or ?alias= or the latest",
              locate, None, Located, _READ_MODEL, tag="registry"),
    Operation("get_model_version", "GET", f"{API}/models/{{name}}/versions/{{version}}", "A model version",
              get_version, None, VersionOut, _READ_MODEL, tag="registry"),
    Operation("update_model_version", "PATCH", f"{API}/models/{{name}}/versions/{{version}}",
              "Description, card, risk, tags, metrics, approvals, evaluation",
              update_version, UpdateVersion, VersionOut, _EDIT_MODEL, tag="registry"),
    Operation("set_model_version_state", "PUT", f"{API}/models/{{name}}/versions/{{version}}/state",
              "Archive, delete or restore a version", set_state, SetState, access=_EDIT_MODEL, tag="registry"),
    Operation("get_model_alias", "GET", f"{API}/models/{{name}}/aliases/{{alias}}", "The version an alias points at",
              resolve_alias, None, AliasTarget, _READ_MODEL, tag="registry"),
    Operation("set_model_alias", "PUT", f"{API}/models/{{name}}/aliases/{{alias}}", "Move an alias (audited)",
              set_alias, SetAlias, PreviousVersion, _EDIT_MODEL, tag="registry"),
    Operation("delete_model_alias", "DELETE", f"{API}/models/{{name}}/aliases/{{alias}}", "Delete an alias (?reason=)",
              delete_alias, None, PreviousVersion, _EDIT_MODEL, tag="registry"),
    Operation("search_model_versions", "GET", f"{API}/model-versions",
              "Versions, newest first (?name=, ?name_like=, ?run_id=, ?include_deleted=)",
              search_versions, None, VersionList, tag="registry"),
    Operation("search_registered_models_page", "POST", f"{API}/models/search",
              "Registered models by filter string, order and page token",
              search_models_page, SearchModels, ModelPage, tag="registry"),
    Operation("search_model_versions_page", "POST", f"{API}/model-versions/search",
              "Model versions by filter string, order and page token",
              search_versions_page, SearchVersions, VersionPage, tag="registry"),
    Operation("set_registered_model_tag", "PUT", f"{API}/models/{{name}}/tags/{{key:path}}",
              "Set a tag of a registered model (audited)", set_tag, TagChange, access=_EDIT_MODEL,
              tag="registry"),
    Operation("delete_registered_model_tag", "DELETE", f"{API}/models/{{name}}/tags/{{key:path}}",
              "Delete a tag of a registered model (?reason=)", delete_tag, access=_EDIT_MODEL,
              tag="registry"),
    Operation("set_model_version_tag", "PUT", f"{API}/models/{{name}}/versions/{{version}}/tags/{{key:path}}",
              "Set a tag of a model version (audited)", set_tag, TagChange, access=_EDIT_MODEL,
              tag="registry"),
    Operation("delete_model_version_tag", "DELETE",
              f"{API}/models/{{name}}/versions/{{version}}/tags/{{key:path}}",
              "Delete a tag of a model version (?reason=)", delete_tag, access=_EDIT_MODEL,
              tag="registry"),
    Operation("registry_audit", "GET", f"{API}/registry-audit", "The registry's audit log (?name=, ?limit=)",
              audit_log, None, AuditLog, tag="registry"),
]
