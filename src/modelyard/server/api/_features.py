"""Native REST: the feature registry — applied definitions per project and the watermarks
of materializations (``FeatureRegistryStore`` over HTTP; online lookups stay on the feature
server). Reads need ``viewer``, writes ``editor``; writes are audited like every other."""

from __future__ import annotations

from modelyard.core.wire_features import (
    ApplyDefinitions,
    Definition,
    Definitions,
    Freshness,
    Materializations,
    Projects,
    RecordMaterialization,
    Watermark,
)
from modelyard.server._operations import Access, Call, Operation
from modelyard.server.api._query import required

API = "/api/v1/features"
_EDIT = Access("edit")


def projects(call: Call) -> Projects:
    return Projects(projects=call.state.store.features.projects())


def definitions(call: Call) -> Definitions:
    found = call.state.store.features.definitions(call.path["project"])
    return Definitions(
        definitions=[Definition(kind=k, name=n, spec=spec) for (k, n), spec in found.items()]
    )


def apply(call: Call) -> None:
    body: ApplyDefinitions = call.body
    call.state.store.features.apply(
        call.path["project"],
        {(d.kind, d.name): d.spec for d in body.upserts},
        [(d.kind, d.name) for d in body.deletes],
    )


def record_materialization(call: Call) -> None:
    body: RecordMaterialization = call.body
    call.state.store.features.record_materialization(
        call.path["project"], body.view, body.online_store, body.start, body.end, body.rows
    )


def watermark(call: Call) -> Watermark:
    end = call.state.store.features.watermark(
        call.path["project"], required(call, "view"), required(call, "online_store")
    )
    return Watermark(end=end)


def last_materializations(call: Call) -> Materializations:
    found = call.state.store.features.last_materializations(call.path["project"])
    return Materializations(materializations=[Freshness(**row) for row in found])


_PROJECT = f"{API}/projects/{{project}}"

# fmt: off
OPERATIONS = [
    Operation("list_feature_projects", "GET", f"{API}/projects", "Projects with applied definitions",
              projects, None, Projects, tag="features"),
    Operation("get_feature_definitions", "GET", f"{_PROJECT}/definitions",
              "A project's applied definitions (entities, sources, views, services)",
              definitions, None, Definitions, tag="features"),
    Operation("apply_feature_definitions", "POST", f"{_PROJECT}/definitions",
              "Replace changed definitions and drop removed ones, in one transaction",
              apply, ApplyDefinitions, access=_EDIT, tag="features"),
    Operation("record_materialization", "POST", f"{_PROJECT}/materializations",
              "Record a completed materialization of a view into an online store",
              record_materialization, RecordMaterialization, access=_EDIT, tag="features"),
    Operation("list_materializations", "GET", f"{_PROJECT}/materializations",
              "Per view and online store: the last watermark, its time, runs and rows",
              last_materializations, None, Materializations, tag="features"),
    Operation("get_materialization_watermark", "GET", f"{_PROJECT}/watermark",
              "The end of the last materialization of ?view= into ?online_store=",
              watermark, None, Watermark, tag="features"),
]
# fmt: on
