"""The feature server: online features over HTTP, in Feast's request and response shapes.

POST /get-online-features
{"features": ["finances:income"] | "feature_service": "credit_v1",
 "entities": {"applicant_id": [1, 2]}, "full_feature_names": false}

Entity values are checked against their entity's type (an ``Int64`` key takes integers, never
``"1"``, ``1.0``, ``true`` or null), and a key that is not a join key of the requested
features (or a request value of an on-demand view among them) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard import __version__
from modelyard.core.errors import ValidationError
from modelyard.features import FeatureStore, OnlineResponse, SqliteOnlineStore
from modelyard.http import error_response, json_response, parse_json, read_body

MAX_BODY = 1 << 20  # 1 MiB
MAX_ENTITIES = 10_000
DIRECT_BYTES = 4096  # a body up to this (a few hundred keys) may be answered on the event loop

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "modelyard feature server", "version": __version__},
    "paths": {
        "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
        "/get-online-features": {
            "post": {
                "summary": "Latest feature values for entities",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["entities"],
                                "properties": {
                                    "features": {
                                        "type": "array",
                                        "items": {"type": "string", "pattern": "^[^:]+:[^:]+$"},
                                    },
                                    "feature_service": {"type": "string"},
                                    "entities": {
                                        "type": "object",
                                        "additionalProperties": {"type": "array"},
                                    },
                                    "full_feature_names": {"type": "boolean", "default": False},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "values and statuses (PRESENT, NOT_FOUND, OUTSIDE_TTL) per feature"
                    },
                    "400": {
                        "description": "malformed request, an entity value of the wrong type, or a key "
                        "that is not a join key; the message names the field"
                    },
                    "404": {"description": "unknown feature, view or service"},
                    "413": {"description": "body over 1 MiB"},
                    "415": {"description": "the body is not sent as application/json"},
                    "500": {"description": "the server failed; the answer carries a request id"},
                },
            }
        },
    },
}


_SAFE = re.compile(r"[A-Za-z0-9_-]{1,40}")
ROUTES = "POST /get-online-features, GET /health and GET /openapi.json"


def _field(name: str) -> str:
    """``entities.<name>`` for an error when the name is short and plain; else it is not quoted."""
    return f"entities.{name}" if _SAFE.fullmatch(name) else "an entry of 'entities'"


def _json_type(content_type: str) -> bool:
    """A JSON content type (``application/json`` or ``+json``): a browser form cannot send
    one without a CORS preflight, so a cross-site page cannot post here."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _is_json(request: Request) -> bool:
    return _json_type(request.headers.get("content-type", ""))


async def _body(request: Request) -> dict[str, Any]:
    return _object(parse_json(await read_body(request, MAX_BODY)))


def _object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError(
            "request body must be a JSON object with 'entities' and 'features' or 'feature_service'"
        )
    return data


def _entities(entities: object) -> dict[str, list[Any]]:
    """The shape of 'entities' (join key -> equally long, non-empty lists); the values are
    checked against the join keys' types by the store."""
    if not isinstance(entities, dict) or not entities:
        raise ValidationError(
            "'entities' must be an object of join key -> list of values, e.g. {\"applicant_id\": [1, 2]}"
        )
    lengths = set()
    for key, values in entities.items():
        if not isinstance(values, list):
            raise ValidationError(f"{_field(key)} must be a list of values")
        if not values:
            raise ValidationError(f"{_field(key)} is empty; give at least one entity")
        lengths.add(len(values))
    if len(lengths) != 1:
        raise ValidationError("every list in 'entities' must have the same length")
    count = lengths.pop()
    if count > MAX_ENTITIES:
        raise ValidationError(
            f"'entities' lists {count} rows; the limit is {MAX_ENTITIES} per request"
        )
    return entities


def _features(store: FeatureStore, body: dict[str, Any]) -> Any:
    if "feature_service" in body:
        if not isinstance(body["feature_service"], str):
            raise ValidationError("'feature_service' must be a name")
        return store.get_feature_service(body["feature_service"])
    features = body.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise ValidationError(
            "give 'features' (a list of 'view:feature' strings) or 'feature_service'"
        )
    return features


def _answer(entities: dict[str, list[Any]], response: OnlineResponse) -> Response:
    keys = list(entities)
    rows = response.rows
    names = [c for c in rows[0] if c not in entities] if rows else []
    results = [{"values": list(entities[k]), "statuses": ["PRESENT"] * len(rows)} for k in keys]
    results += [
        {"values": [r[n] for r in rows], "statuses": [s[n] for s in response.statuses]}
        for n in names
    ]
    return json_response({"metadata": {"feature_names": keys + names}, "results": results})


def _lookup(store: FeatureStore, body: dict[str, Any]) -> tuple[Any, dict[str, list[Any]], bool]:
    """What a request asks for: its features, entities and whether names are full."""
    entities = _entities(body.get("entities"))
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise ValidationError("'full_feature_names' must be true or false")
    return _features(store, body), entities, full


class _Direct:
    """The feature server's direct answers (``http/_direct.py``): a small JSON ``POST
    /get-online-features`` looked up on the event loop, with no request cycle and no hop to
    the thread pool. Only for an online store in this process (SQLite, tens of µs a lookup);
    a Redis lookup waits on the network and stays in the pool. Anything that does not go
    through (not JSON, a malformed body, an unknown feature, any error) returns ``None``:
    the app answers it again the usual way, with its error. A lookup only reads, so nothing
    was done."""

    max_bytes = DIRECT_BYTES

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    def accepts(self, path: str) -> bool:
        return path == "/get-online-features"

    def __call__(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Response | None:
        kinds = [value for name, value in headers if name == b"content-type"]
        if len(kinds) != 1 or not _json_type(kinds[0].decode("latin-1")):
            return None
        try:
            features, entities, full = _lookup(self.store, _object(parse_json(body)))
            response = self.store.get_online_features(features, entities, full_feature_names=full)
            return _answer(entities, response)
        except Exception:
            return None


def _error(status: int, kind: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    response = json_response({"error": {"type": kind, "message": message}}, status)
    response.headers.update(headers or {})
    return response


def feature_server(store: FeatureStore) -> Starlette:
    """The ASGI app serving ``store``'s online features. Every answer is JSON: a client's
    mistake is a 4xx naming the field (never echoing its value), and anything unforeseen a
    500 with a request id."""

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return json_response(OPENAPI)

    async def get_online_features(request: Request) -> Response:
        if not _is_json(request):
            return _error(
                415,
                "UnsupportedMediaType",
                "send the body as JSON with the header 'content-type: application/json'",
            )
        try:
            features, entities, full = _lookup(store, await _body(request))
            # the lookup reads the online store (SQLite or Redis): off the event loop, so a large
            # request never holds up /health or the other connections
            response = await run_in_threadpool(
                store.get_online_features, features, entities, full_feature_names=full
            )
            return _answer(entities, response)
        except Exception as error:
            return error_response(request, error)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(404, "NotFound", f"no such route; this server answers {ROUTES}")
        if exc.status_code == 405:
            return _error(
                405, "MethodNotAllowed", f"method not allowed here; this server answers {ROUTES}", exc.headers
            )
        return _error(exc.status_code, "HTTPError", str(exc.detail)[:200], exc.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        return error_response(request, exc)

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/get-online-features", get_online_features, methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: unexpected},
    )
    if isinstance(store.online_store, SqliteOnlineStore):
        app.direct_responder = _Direct(store)  # type: ignore[attr-defined]
    return app
