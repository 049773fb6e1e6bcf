"""MLflow's REST API as a façade over modelyard's services, so stock MLflow clients
(``MLFLOW_TRACKING_URI=http://host:5000``) work against ``modelyard server`` unchanged.

    /api/2.0/mlflow/...            experiments, runs, metrics, logged models, registry
    /ajax-api/2.0/mlflow/...       the same (MLflow's UI prefix)
    /api/2.0/mlflow-artifacts/...  proxied artifacts (upload, download, list)

Every other MLflow endpoint answers 501 ``NOT_IMPLEMENTED`` naming it. Errors have MLflow's
shape (``{"error_code", "message"}``) and status codes; tokens and roles are the native API's.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelyard.server._state import ServerState
from modelyard.server.mlflow import _experiments, _logged_models, _registry, _runs
from modelyard.server.mlflow._artifacts import artifact_routes_endpoint
from modelyard.server.mlflow._endpoint import MlflowOp, endpoint
from modelyard.server.mlflow._errors import not_implemented

OPERATIONS: list[MlflowOp] = [
    *_experiments.OPERATIONS,
    *_runs.OPERATIONS,
    *_logged_models.OPERATIONS,
    *_registry.OPERATIONS,
]
PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def _unsupported(request: Request) -> Response:
    return not_implemented(request.method, request.url.path)


def mlflow_routes(state: ServerState) -> list[BaseRoute]:
    """The MLflow façade's routes (mounted before the UI's)."""
    routes: list[BaseRoute] = []
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


__all__ = ["OPERATIONS", "mlflow_routes"]
