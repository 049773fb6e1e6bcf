"""The OpenAPI document, generated from the operations table and the pydantic models that parse
each body: nothing here is written by hand, so it cannot drift from what the server does."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic.json_schema import models_json_schema

from modelyard import __version__
from modelyard.core.wire import Wire
from modelyard.server._operations import Operation

_PARAM = re.compile(r"\{([a-zA-Z_]+)(?::[a-z]+)?\}")
_ERRORS = {
    "400": "malformed request; the message names the field",
    "401": "no valid token",
    "403": "the token's role does not allow this; the message names the role needed",
    "404": "no such object",
    "409": "the write contradicts what is stored (exists already, wrong state)",
    "413": "body over the limit",
    "415": "the body must be application/json",
    "503": "the store is unavailable or the request timed out; retry (writes are deduplicated)",
}


def openapi_document(operations: Sequence[Operation], title: str = "modelyard team server") -> dict[str, Any]:
    models: set[type[Wire]] = set()
    for op in operations:
        models.add(op.response)
        if op.body is not None:
            models.add(op.body)
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, schema = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    components: dict[str, Any] = dict(schema.get("$defs", {}))
    components["Error"] = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = _PARAM.sub(r"{\1}", op.path)
        item: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in _PARAM.findall(op.path)
            ],
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {"application/json": {"schema": refs[(op.response, "validation")]}},
                },
                **{code: {"description": text, "content": error_ref} for code, text in _ERRORS.items()},
            },
            "security": [{"bearer": []}],
        }
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        elif op.raw_body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {op.raw_body: {"schema": {"type": "string", "format": "binary"}}},
            }
        paths.setdefault(path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
