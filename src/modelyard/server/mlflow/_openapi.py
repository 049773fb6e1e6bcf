"""The MLflow façade's part of ``/openapi.json``: each MLflow operation with the pydantic
model that parses its body (or query string), so the document shows what the server takes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from modelyard.server.mlflow._endpoint import MlflowOp

_PARAM = re.compile(r"\{([a-zA-Z_]+)(?::[a-z]+)?\}")
_ERROR = {
    "type": "object",
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
}
_STATUSES = {
    "400": "INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS or INVALID_STATE; names the field",
    "401": "UNAUTHENTICATED: no valid token (MLFLOW_TRACKING_TOKEN)",
    "403": "PERMISSION_DENIED: the token's role does not allow this",
    "404": "RESOURCE_DOES_NOT_EXIST",
    "501": "NOT_IMPLEMENTED: an MLflow endpoint modelyard server does not serve",
}


def add_mlflow_paths(document: dict[str, Any], operations: Sequence[MlflowOp], prefix: str) -> None:
    """Add ``operations`` under ``prefix`` (``/api/2.0/mlflow``) to an OpenAPI ``document``."""
    models: list[type[BaseModel]] = sorted({op.body for op in operations}, key=lambda m: m.__name__)
    refs, schema = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/MLflow{model}"
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in schema.get("$defs", {}).items():
        components[f"MLflow{name}"] = definition
    components["MLflowError"] = _ERROR
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/MLflowError"}}}
    for op in operations:
        path = prefix + _PARAM.sub(r"{\1}", op.path)
        for method in op.methods:
            item: dict[str, Any] = {
                "operationId": f"mlflow_{op.name}_{method.lower()}",
                "summary": f"MLflow {op.name}",
                "tags": ["mlflow"],
                "parameters": [
                    {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                    for p in _PARAM.findall(op.path)
                ],
                "responses": {
                    "200": {"description": "MLflow's response message, as JSON"},
                    **{
                        code: {"description": text, "content": error}
                        for code, text in _STATUSES.items()
                    },
                },
                "security": [{"bearer": []}],
            }
            body = {"application/json": {"schema": refs[(op.body, "validation")]}}
            if method == "GET":
                item["description"] = "The body's fields go in the query string."
                item["x-query-model"] = body["application/json"]["schema"]
            else:
                item["requestBody"] = {"required": False, "content": body}
            document.setdefault("paths", {}).setdefault(path, {})[method.lower()] = item
