"""The feature server: online features over HTTP, in Feast's request and response shapes.

POST /get-online-features
{"features": ["finances:income"] | "feature_service": "credit_v1",
 "entities": {"applicant_id": [1, 2]}, "full_feature_names": false}
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard import __version__
from modelyard.core.errors import ValidationError
from modelyard.features import FeatureStore
from modelyard.http import error_response, json_response, parse_json, read_body

MAX_BODY = 1 << 20  # 1 MiB
MAX_ENTITIES = 10_000

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
                    "400": {"description": "malformed request; the message names the field"},
                    "404": {"description": "unknown feature, view or service"},
                    "413": {"description": "body over 1 MiB"},
                },
            }
        },
    },
}


async def _body(request: Request) -> dict[str, Any]:
    data = parse_json(await read_body(request, MAX_BODY))
    if not isinstance(data, dict):
        raise ValidationError(
            "request body must be a JSON object with 'entities' and 'features' or 'feature_service'"
        )
    return data


def _entity_rows(entities: object) -> list[dict[str, Any]]:
    if not isinstance(entities, dict) or not entities:
        raise ValidationError(
            "'entities' must be an object of join key -> list of values, e.g. {\"applicant_id\": [1, 2]}"
        )
    lengths = set()
    for key, values in entities.items():
        if not isinstance(values, list):
            raise ValidationError(f"entities.{key} must be a list of values")
        lengths.add(len(values))
    if len(lengths) != 1:
        raise ValidationError("every list in 'entities' must have the same length")
    count = lengths.pop()
    if count > MAX_ENTITIES:
        raise ValidationError(
            f"'entities' lists {count} rows; the limit is {MAX_ENTITIES} per request"
        )
    return [{k: v[i] for k, v in entities.items()} for i in range(count)]


def feature_server(store: FeatureStore) -> Starlette:
    """The ASGI app serving ``store``'s online features."""

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return json_response(OPENAPI)

    async def get_online_features(request: Request) -> Response:
        try:
            body = await _body(request)
            rows = _entity_rows(body.get("entities"))
            full = body.get("full_feature_names", False)
            if not isinstance(full, bool):
                raise ValidationError("'full_feature_names' must be true or false")
            if "feature_service" in body:
                if not isinstance(body["feature_service"], str):
                    raise ValidationError("'feature_service' must be a name")
                features: Any = store.get_feature_service(body["feature_service"])
            else:
                features = body.get("features")
                if (
                    not isinstance(features, list)
                    or not features
                    or not all(isinstance(f, str) for f in features)
                ):
                    raise ValidationError(
                        "give 'features' (a list of 'view:feature' strings) or 'feature_service'"
                    )
            response = store.get_online_features(features, rows, full_feature_names=full)
        except Exception as error:
            return error_response(request, error)
        keys = list(rows[0])
        names = [c for c in response.rows[0] if c not in keys] if response.rows else []
        results = [
            {"values": [r[k] for r in response.rows], "statuses": ["PRESENT"] * len(rows)}
            for k in keys
        ]
        results += [
            {"values": [r[n] for r in response.rows], "statuses": [s[n] for s in response.statuses]}
            for n in names
        ]
        return json_response({"metadata": {"feature_names": keys + names}, "results": results})

    async def not_found(request: Request, exc: Exception) -> Response:
        return json_response(
            {
                "error": {
                    "type": "NotFound",
                    "message": f"no route {request.url.path}; see /openapi.json",
                }
            },
            404,
        )

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/get-online-features", get_online_features, methods=["POST"]),
        ],
        exception_handlers={404: not_found},
    )
