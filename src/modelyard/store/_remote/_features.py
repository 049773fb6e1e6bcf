"""``HttpFeatureRegistryStore``: the feature registry store's methods over a team server's
REST API — applied definitions and materialization watermarks, same answers as the SQL one."""

from __future__ import annotations

from typing import Any

from modelyard.core.wire import Empty
from modelyard.core.wire_features import (
    ApplyDefinitions,
    Definitions,
    Materializations,
    Projects,
    RecordMaterialization,
    Watermark,
)
from modelyard.store._remote._paths import q
from modelyard.store._remote._transport import Transport, wire


class HttpFeatureRegistryStore:
    """Feature definitions per project and the watermarks of materializations, on a team server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.where = transport.base_url

    @staticmethod
    def _project(project: str) -> str:
        return f"/features/projects/{q(project)}"

    def definitions(self, project: str) -> dict[tuple[str, str], dict[str, Any]]:
        found = self.transport.call("GET", f"{self._project(project)}/definitions", Definitions)
        return {(d.kind, d.name): d.spec for d in found.definitions}

    def apply(
        self,
        project: str,
        upserts: dict[tuple[str, str], dict[str, Any]],
        deletes: list[tuple[str, str]],
    ) -> None:
        """Replace the changed definitions and drop the removed ones, in one transaction."""
        body = wire(
            ApplyDefinitions,
            upserts=[{"kind": k, "name": n, "spec": spec} for (k, n), spec in upserts.items()],
            deletes=[{"kind": k, "name": n} for k, n in deletes],
        )
        self.transport.call("POST", f"{self._project(project)}/definitions", Empty, body=body)

    def record_materialization(
        self, project: str, view: str, online_store: str, start: int, end: int, rows: int
    ) -> None:
        body = wire(
            RecordMaterialization,
            view=view, online_store=online_store, start=start, end=end, rows=rows,
        )  # fmt: skip
        self.transport.call("POST", f"{self._project(project)}/materializations", Empty, body=body)

    def watermark(self, project: str, view: str, online_store: str) -> int | None:
        """The end of the last completed materialization of ``view`` into ``online_store``."""
        params = {"view": view, "online_store": online_store}
        return self.transport.call(
            "GET", f"{self._project(project)}/watermark", Watermark, params=params
        ).end

    def projects(self) -> list[str]:
        return self.transport.call("GET", "/features/projects", Projects).projects

    def last_materializations(self, project: str) -> list[dict[str, Any]]:
        found = self.transport.call(
            "GET", f"{self._project(project)}/materializations", Materializations
        )
        return [m.model_dump() for m in found.materializations]
