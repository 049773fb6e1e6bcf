"""The feature catalog: per project, entities, feature views (schema, owner, TTL, source,
expectations) and services, the online store's freshness per view, and which registered
model versions consume each service."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from modelyard.server.ui._web import View


def catalog(view: View) -> dict[str, Any]:
    store = view.state.store
    users: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in store.registry.search_versions():
        service = (v.lineage or {}).get("feature_service")
        if service and view.can("read", "model", v.name):
            users[service].append({"name": v.name, "version": v.version, "aliases": sorted(v.aliases)})
    projects = []
    for project in store.features.projects():
        specs = store.features.definitions(project)
        fresh = store.features.last_materializations(project)
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (kind, _name), spec in sorted(specs.items()):
            by_kind[kind].append(spec)
        views = []
        for spec in by_kind.get("FeatureView", []):
            views.append({**spec, "freshness": [f for f in fresh if f["view"] == spec["name"]]})
        services = []
        for spec in by_kind.get("FeatureService", []):
            services.append({**spec, "models": users.get(spec["name"], [])})
        projects.append({
            "project": project,
            "entities": by_kind.get("Entity", []),
            "feature_views": views,
            "on_demand_views": by_kind.get("OnDemandFeatureView", []),
            "feature_services": services,
        })
    return {"projects": projects}
