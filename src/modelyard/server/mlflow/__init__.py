"""MLflow's REST API as a façade over modelyard's services, so stock MLflow clients
(``MLFLOW_TRACKING_URI=http://host:5000``) work against ``modelyard server`` unchanged.

    /api/2.0/mlflow/...            experiments, runs, metrics, logged models, registry
    /ajax-api/2.0/mlflow/...       the same (MLflow's UI prefix)
    /api/2.0/mlflow-artifacts/...  proxied artifacts (upload, download, list)

Every other MLflow endpoint answers 501 ``NOT_IMPLEMENTED`` naming it. Errors have MLflow's
shape (``{"error_code", "message"}``) and status codes; tokens and roles are the native API's.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelyard import __version__
from modelyard.http import json_response
from modelyard.server._state import ServerState
from modelyard.server.mlflow import _experiments, _logged_models, _registry, _runs
from modelyard.server.mlflow._artifacts import artifact_routes_endpoint
from modelyard.server.mlflow._endpoint import MlflowOp, endpoint
from modelyard.server.mlflow._errors import not_implemented
from modelyard.server.mlflow._openapi import add_mlflow_paths

OPERATIONS: list[MlflowOp] = [
    *_experiments.OPERATIONS,
    *_runs.OPERATIONS,
    *_logged_models.OPERATIONS,
    *_registry.OPERATIONS,
]
PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _document_endpoint() -> Any:
    document = openapi()

    async def serve_document(request: Request) -> Response:
        return json_response(document)

    return serve_document


async def _unsupported(request: Request) -> Response:
    return not_implemented(request.method, request.url.path)


def mlflow_routes(state: ServerState) -> list[BaseRoute]:
    """The MLflow façade's routes (mounted before the UI's)."""
    routes: list[BaseRoute] = [
        Route(f"{PREFIXES[0]}/openapi.json", _document_endpoint(), methods=["GET"])
    ]
    for prefix in PREFIXES:
        for op in OPERATIONS:
            routes.append(
                Route(
                    f"{prefix}{op.path}",
                    endpoint(op, state),
                    methods=list(op.methods),
                    name=f"mlflow_{op.name}_{prefix}",
                )
            )
    artifacts = artifact_routes_endpoint(state)
    for prefix in ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"):
        routes.append(Route(f"{prefix}/artifacts", artifacts, methods=["GET"]))
        routes.append(
            Route(f"{prefix}/artifacts/{{path:path}}", artifacts, methods=["GET", "PUT", "DELETE"])
        )
        routes.append(Route(f"{prefix}/{{rest:path}}", _unsupported, methods=_ANY))
    for prefix in (*PREFIXES, "/api/3.0/mlflow", "/ajax-api/3.0/mlflow"):
        routes.append(Route(f"{prefix}/{{rest:path}}", _unsupported, methods=_ANY))
    return routes


def openapi() -> dict[str, Any]:
    """The MLflow façade's own OpenAPI document (served at ``/api/2.0/mlflow/openapi.json``)."""
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "modelyard server: MLflow REST API", "version": __version__},
        "paths": {},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    add_mlflow_paths(document, OPERATIONS, PREFIXES[0])
    return document


__all__ = ["OPERATIONS", "mlflow_routes", "openapi"]
