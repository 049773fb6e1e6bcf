"""The team server as an ASGI app: the native REST API over the same services the library uses,
the OpenAPI document generated from its pydantic models, health, and (when configured) CORS.

``create_app(config)`` builds one app; ``modelyard server`` runs it in uvicorn workers. The app
keeps nothing between requests that another replica would need, so several run behind a load
balancer on one PostgreSQL and one bucket."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelyard.core.errors import ConfigurationError
from modelyard.http import json_response
from modelyard.registry import Client
from modelyard.server._audit import WriteAudit
from modelyard.server._config import ServerConfig
from modelyard.server._openapi import openapi_document
from modelyard.server._operations import Operation, endpoint
from modelyard.server._state import ServerState
from modelyard.server.api import OPERATIONS
from modelyard.server.auth import Authorizer
from modelyard.server.mlflow import mlflow_routes
from modelyard.server.ui import ui_routes


def build_state(config: ServerConfig) -> ServerState:
    client = Client(config.backend_store_uri, artifact_uri=config.artifacts_destination)
    if client.remote:  # e.g. $MODELYARD_TRACKING_URI=http://... left in the server's shell
        raise ConfigurationError(
            f"the team server cannot keep its data on another server ({client.tracking_uri[:200]}); "
            "give it the database: --backend-store-uri postgresql://... or sqlite:///path.db"
        )
    users = client.store.users
    return ServerState(
        config=config,
        client=client,
        auth=Authorizer(
            users, enabled=config.auth == "token", cache_seconds=config.token_cache_seconds
        ),
        audit=WriteAudit(
            users,
            flush_seconds=config.audit_flush_seconds,
            keep_requests_ms=int(config.request_log_hours * 3600 * 1000),
        ),
    )


def routes_for(operations: Sequence[Operation], state: ServerState) -> list[BaseRoute]:
    return [
        Route(op.path, endpoint(op, state), methods=[op.method], name=op.name) for op in operations
    ]


def create_app(config: ServerConfig | None = None, *, state: ServerState | None = None) -> Starlette:
    """The team server for ``config`` (or an already built ``state``)."""
    state = state or build_state(config or ServerConfig())
    operations = list(OPERATIONS)
    document = openapi_document(operations)
    audit = state.audit

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def not_found(request: Request, exc: Exception) -> Response:
        return json_response(
            {
                "error": {
                    "type": "NotFound",
                    "message": f"no route {request.method} {request.url.path[:200]}; see /openapi.json",
                }
            },
            404,
        )

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return json_response(
            {
                "error": {
                    "type": "MethodNotAllowed",
                    "message": f"{request.method} is not allowed on {request.url.path[:200]}; see /openapi.json",
                }
            },
            405,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if isinstance(audit, WriteAudit):
            audit.start()
        try:
            yield
        finally:
            if isinstance(audit, WriteAudit):
                audit.close()

    middleware = []
    if state.config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(state.config.cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["authorization", "content-type", "x-request-id"],
            )
        )
    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *routes_for(operations, state),
            *mlflow_routes(state),  # MLflow's REST API for stock MLflow clients
            *ui_routes(state),  # the web UI under /ui (and / redirects there)
        ],
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_allowed},
        lifespan=lifespan,
    )
    app.state.modelyard = state
    return app
