"""Registered models: the list; a model with its versions, aliases, gate, the last gate
results, approvals and the audit trail; a version with its card, evaluation and lineage
graph; and the form that moves an alias (through the gate, as the signed-in user)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.responses import Response

from modelyard.core.errors import GateFailedError, NotFoundError, ValidationError
from modelyard.core.models import AuditEntry, ModelVersion, check_alias
from modelyard.core.search_filter import quote
from modelyard.pipelines._lineage import lineage_of
from modelyard.server.ui._graph import Graph, Node, layout
from modelyard.server.ui._web import PREFIX, View, page_response

_ALIAS_ACTIONS = ("set_alias", "promote", "promote_forced", "delete_alias")


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _audit(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "action": e.action, "version": e.version, "alias": e.alias,
            "from_version": e.from_version, "to_version": e.to_version, "actor": e.actor,
            "reason": e.reason, "checks": (e.details or {}).get("checks")}


def _version(v: ModelVersion) -> dict[str, Any]:
    return {"version": v.version, "state": v.state.value, "aliases": sorted(v.aliases),
            "risk_category": v.risk_category.value, "run_id": v.run_id, "flavor": v.flavor,
            "metrics": v.metrics, "description": v.description, "owner": v.owner,
            "approvals": v.approvals, "creation_time": v.creation_time,
            "feature_service": (v.lineage or {}).get("feature_service")}


def models(view: View) -> dict[str, Any]:
    found = [m for m in view.state.store.registry.search_models() if view.can("read", "model", m.name)]
    return {"models": [
        {"name": m.name, "description": m.description, "owner": m.owner,
         "risk_category": m.risk_category.value, "aliases": m.aliases,
         "latest_version": m.latest_version, "last_updated_time": m.last_updated_time}
        for m in found
    ]}


def model_page(view: View) -> dict[str, Any]:
    name = view.path["name"]
    view.require("read", "model", name)
    registry = view.state.store.registry
    model = registry.get_model(name)
    versions = registry.search_versions(f"name = {quote(name)}", include_deleted=True)
    audit = registry.audit_log(name, 500)
    gate_results = next((_audit(e) for e in audit if e.action in ("promote", "promote_forced", "promote_refused") and (e.details or {}).get("checks")), None)
    metric_keys = sorted({k for v in versions for k in v.metrics})[:8]
    return {
        "model": {"name": model.name, "description": model.description, "owner": model.owner,
                  "risk_category": model.risk_category.value, "aliases": model.aliases,
                  "tags": model.tags, "gate": model.gate, "latest_version": model.latest_version},
        "versions": [_version(v) for v in versions],
        "metric_keys": metric_keys,
        "last_gate": gate_results,
        "alias_moves": [_audit(e) for e in audit if e.action in _ALIAS_ACTIONS],
        "audit": [_audit(e) for e in audit[:100]],
        "can_edit": view.can("edit", "model", name),
    }


def _lineage_graph(info: dict[str, Any], name: str, version: int) -> dict[str, Any]:
    graph = Graph()
    model_id = f"v:{version}"
    graph.add(Node(model_id, f"{name} v{version}", "version", ", ".join(info.get("aliases") or []), layer=4))
    run = info.get("run")
    for d in info.get("datasets") or []:
        node = graph.add(Node(f"d:{d['name']}:{d['digest']}", d["name"], "data",
                              f"{d.get('rows') or '?'} rows · {d.get('context', '')}", layer=0))
        target = f"f:{info['feature_service']}" if info.get("feature_service") else (f"r:{run['run_id']}" if run else model_id)
        graph.link(node.id, target)
    if info.get("feature_service"):
        fs = graph.add(Node(f"f:{info['feature_service']}", info["feature_service"], "features", "feature service",
                            f"{PREFIX}/features", layer=1))
        graph.link(fs.id, f"r:{run['run_id']}" if run else model_id)
    if run:
        r = graph.add(Node(f"r:{run['run_id']}", run.get("name") or run["run_id"][:8], "run", run.get("status", ""),
                           f"{PREFIX}/runs/{run['run_id']}", layer=2))
        pipeline = info.get("pipeline_run")
        if pipeline:
            p = graph.add(Node(f"p:{pipeline['run_id']}", pipeline["pipeline"], "pipeline", pipeline.get("trigger", "")[:30],
                               f"{PREFIX}/pipelines/{pipeline['run_id']}", pipeline.get("status", ""), layer=3))
            graph.link(r.id, p.id)
            graph.link(p.id, model_id)
        else:
            graph.link(r.id, model_id)
    for e in info.get("endpoints") or []:
        node = graph.add(Node(f"e:{e['endpoint']}", e["endpoint"], "endpoint", f"{e['rows']:,} requests",
                              f"{PREFIX}/monitoring/{_q(e['endpoint'])}", layer=5))
        graph.link(model_id, node.id)
    return layout(graph)


def version_page(view: View) -> dict[str, Any]:
    name, raw = view.path["name"], view.path["version"]
    view.require("read", "model", name)
    if not raw.isdigit():
        raise ValidationError("the version in the path must be a positive whole number")
    store = view.state.store
    v = store.registry.get_version(name, int(raw))
    try:
        info = lineage_of(v.uri, tracking_uri=store.url)
    except NotFoundError:
        info = {}
    audit = [e for e in store.registry.audit_log(name, 500) if v.version in (e.version, e.to_version, e.from_version)]
    return {
        "model": {"name": name},
        "version": _version(v),
        "card_fields": v.card,
        "evaluation": {k: val for k, val in v.evaluation.items() if k != "plots"},
        "plots": sorted((v.evaluation.get("plots") or {}).keys()),
        "signature": v.signature,
        "lineage": info,
        "graph": _lineage_graph(info, name, v.version) if info else None,
        "audit": [_audit(e) for e in audit],
        "gate_checks": next((_audit(e)["checks"] for e in audit if (e.details or {}).get("checks")), None),
        "can_edit": view.can("edit", "model", name),
        "card_url": f"{PREFIX}/models/{_q(name)}/versions/{v.version}/card",
    }


def card(view: View) -> Response:
    """The rendered model card (its own HTML document), sandboxed like every embedded page."""
    name, raw = view.path["name"], view.path["version"]
    view.require("read", "model", name)
    if not raw.isdigit():
        raise ValidationError("the version in the path must be a positive whole number")
    html = view.state.client.model_card(name, int(raw)).html
    return Response(html, media_type="text/html; charset=utf-8", headers={
        "content-security-policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
        "x-content-type-options": "nosniff",
    })


def move_alias(view: View) -> str | Response:
    """Point an alias at a version through the model's gate (``force`` with a reason
    overrides a failing gate, and the audit says so). Needs the editor role on the model."""
    name = view.path["name"]
    view.require("edit", "model", name)
    alias = check_alias(view.field("alias", limit=64))
    raw = view.field("version", limit=12)
    if not raw.isdigit():
        raise ValidationError("form field 'version' must be a positive whole number")
    reason = view.field("reason", required=False)
    force = view.form.get("force") == "on"
    where = f"{PREFIX}/models/{_q(name)}"
    try:
        view.state.client.promote(name, int(raw), alias, force=force, reason=reason, actor=view.principal.name)
    except GateFailedError as refused:  # the page again, with the failing checks
        data = model_page(view)
        data["refused"] = {"version": int(raw), "alias": alias,
                           "checks": [c.to_dict() for c in refused.checks if hasattr(c, "to_dict")]}
        return page_response(view, "model.html", data, "models", 409)
    return f"{where}?moved={_q(alias)}#aliases"
