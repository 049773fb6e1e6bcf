"""``HttpRegistryStore``: the registry store's methods over a team server's REST API.

The ``actor`` a method is given travels with the write, but the server records the user of
the token instead whenever it authenticates (the client cannot speak for someone else)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from modelyard.core.entities import PagedList
from modelyard.core.models import (
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    RiskCategory,
    VersionState,
)
from modelyard.core.wire import (
    AliasTarget,
    AuditLog,
    Created,
    CreateVersion,
    Empty,
    EnsureModel,
    Located,
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
    VersionOut,
    VersionPage,
)
from modelyard.store._registry_store import checked_tags
from modelyard.store._remote._transport import Transport, wire


def _q(part: str | int) -> str:
    return quote(str(part), safe="")


class HttpRegistryStore:
    """Registered models, versions, aliases, tags and the audit log on a team server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    # -- registered models -------------------------------------------------------------

    def ensure_model(
        self,
        name: str,
        *,
        description: str = "",
        owner: str = "",
        risk_category: RiskCategory = RiskCategory.MINIMAL,
        tags: dict[str, str] | None = None,
        actor: str = "",
    ) -> bool:
        body = wire(
            EnsureModel,
            name=name,
            description=description,
            owner=owner,
            risk_category=risk_category,
            tags=checked_tags(tags),
            actor=actor,
        )
        return self.transport.call("POST", "/models", Created, body=body).created

    def get_model(self, name: str) -> RegisteredModel:
        return self.transport.call("GET", f"/models/{_q(name)}", ModelOut).model

    def search_models(
        self,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList:
        body = wire(
            SearchModels,
            filter=filter_string or "",
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )
        page = self.transport.call("POST", "/models/search", ModelPage, body=body)
        return PagedList(page.models, page.next_page_token)

    def update_model(self, name: str, actor: str, **values: Any) -> None:
        if "tags" in values and values["tags"] is not None:
            values["tags"] = checked_tags(values["tags"])
        body = wire(UpdateModel, actor=actor, **values)
        self.transport.call("PATCH", f"/models/{_q(name)}", Empty, body=body)

    # -- versions ----------------------------------------------------------------------

    def create_version(self, name: str, *, actor: str, **fields: Any) -> ModelVersion:
        if "tags" in fields and fields["tags"] is not None:
            fields["tags"] = checked_tags(fields["tags"])
        body = wire(CreateVersion, actor=actor, **fields)
        return self.transport.call(
            "POST", f"/models/{_q(name)}/versions", VersionOut, body=body
        ).version

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self.transport.call(
            "GET", f"/models/{_q(name)}/versions/{int(version)}", VersionOut
        ).version

    def locate(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> tuple[int, str, str, str] | None:
        params = {"version": version, "alias": alias}
        return self.transport.call(
            "GET", f"/models/{_q(name)}/locate", Located, params=params
        ).found

    def resolve_alias(self, name: str, alias: str) -> int:
        return self.transport.call(
            "GET", f"/models/{_q(name)}/aliases/{_q(alias)}", AliasTarget
        ).version

    def search_versions(
        self,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 10_000,
        page_token: str | None = None,
        *,
        include_deleted: bool = False,
    ) -> PagedList:
        body = wire(
            SearchVersions,
            filter=filter_string or "",
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            include_deleted=include_deleted,
        )
        page = self.transport.call("POST", "/model-versions/search", VersionPage, body=body)
        return PagedList(page.versions, page.next_page_token)

    def update_version(
        self, name: str, version: int, actor: str, reason: str = "", **values: Any
    ) -> ModelVersion:
        if "tags" in values and values["tags"] is not None:
            values["tags"] = checked_tags(values["tags"])
        body = wire(UpdateVersion, actor=actor, reason=reason, **values)
        return self.transport.call(
            "PATCH", f"/models/{_q(name)}/versions/{int(version)}", VersionOut, body=body
        ).version

    def set_state(
        self, name: str, version: int, state: VersionState, actor: str, reason: str
    ) -> None:
        body = wire(SetState, state=state, actor=actor, reason=reason)
        self.transport.call(
            "PUT", f"/models/{_q(name)}/versions/{int(version)}/state", Empty, body=body
        )

    # -- tags --------------------------------------------------------------------------

    def _tag_path(self, name: str, version: int | None, key: str) -> str:
        middle = "" if version is None else f"/versions/{int(version)}"
        return f"/models/{_q(name)}{middle}/tags/{_q(key)}"

    def set_tag(
        self,
        name: str,
        version: int | None,
        key: str,
        value: object,
        actor: str,
        reason: str = "",
    ) -> None:
        body = wire(TagChange, value=str(value), actor=actor, reason=reason)
        self.transport.call("PUT", self._tag_path(name, version, key), Empty, body=body)

    def delete_tag(
        self, name: str, version: int | None, key: str, actor: str, reason: str = ""
    ) -> None:
        self.transport.request(
            "DELETE",
            self._tag_path(name, version, key),
            params={"reason": reason or None, "actor": actor or None},
        )

    # -- aliases -----------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        actor: str,
        reason: str,
        action: str = "set_alias",
        details: dict[str, Any] | None = None,
    ) -> int | None:
        body = wire(
            SetAlias, version=version, reason=reason, action=action, details=details, actor=actor
        )
        return self.transport.call(
            "PUT", f"/models/{_q(name)}/aliases/{_q(alias)}", PreviousVersion, body=body
        ).previous

    def delete_alias(self, name: str, alias: str, actor: str, reason: str) -> int:
        found = self.transport.call(
            "DELETE",
            f"/models/{_q(name)}/aliases/{_q(alias)}",
            PreviousVersion,
            params={"reason": reason or None, "actor": actor or None},
        )
        return int(found.previous or 0)

    # -- audit -------------------------------------------------------------------------

    def audit_log(self, name: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        params = {"name": name, "limit": limit}
        return self.transport.call("GET", "/registry-audit", AuditLog, params=params).entries
