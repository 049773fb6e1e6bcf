"""The scoring server's OpenAPI document."""

from __future__ import annotations

from typing import Any

from modelyard import __version__


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "malformed request (bad JSON, unknown field); the message names the field",
        401: "no valid bearer token (when authentication is on)",
        403: "the token lacks the scope this route needs",
        404: "unknown endpoint, model or version",
        413: "body or row count over the limit",
        415: "the body is not sent as application/json (or another type the route takes)",
        422: "input does not match the model signature; the message names the column and row",
        500: "the model raised; the answer carries the request id found in the server log",
    }
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}} for c in codes}


_SCORING = (400, 401, 403, 404, 413, 415, 422, 500)


def json_body(ref: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def ok(ref: str, text: str) -> dict[str, Any]:
    return {"200": {"description": text, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}}


def openapi_document(endpoints: list[str]) -> dict[str, Any]:
    name_param = [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": endpoints},
        }
    ]
    version_param = [
        {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    health = {
        "get": {
            "summary": "Health (open: needs no token)",
            "security": [],
            "responses": {"200": {"description": "ok"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "modelyard scoring server", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "type": {"type": "string"},
                                "message": {"type": "string"},
                                "request_id": {"type": "string"},
                            },
                        }
                    },
                },
                "PredictRequest": {
                    "type": "object",
                    "properties": {
                        "records": {"type": "array", "items": {"type": "object"}, "description": "one object per row"},
                        "columns": {"type": "object", "additionalProperties": {"type": "array"}, "description": "column -> values"},
                        "explain": {"type": "boolean", "default": False, "description": "add per-feature contributions"},
                    },
                },
                "PredictResponse": {
                    "type": "object",
                    "properties": {
                        "request_id": {"type": "string"},
                        "endpoint": {"type": "string"},
                        "route": {"type": "string"},
                        "model": {"type": "string"},
                        "version": {"type": "string"},
                        "predictions": {"type": "array"},
                        "probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                        "classes": {"type": "array"},
                        "explanations": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "MlflowRequest": {
                    "type": "object",
                    "description": "exactly one of the four MLflow scoring formats",
                    "properties": {
                        "dataframe_split": {"type": "object", "properties": {"columns": {"type": "array"}, "data": {"type": "array"}}},
                        "dataframe_records": {"type": "array", "items": {"type": "object"}},
                        "instances": {"type": "array"},
                        "inputs": {"oneOf": [{"type": "array"}, {"type": "object"}]},
                    },
                },
                "MlflowResponse": {"type": "object", "properties": {"predictions": {"type": "array"}}},
                "Tensor": {
                    "type": "object",
                    "required": ["name", "shape", "datatype"],
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                        "datatype": {"type": "string"},
                        "data": {"type": "array"},
                        "parameters": {"type": "object"},
                    },
                },
                "InferRequest": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                        "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                    },
                },
                "InferResponse": {
                    "type": "object",
                    "properties": {
                        "model_name": {"type": "string"},
                        "model_version": {"type": "string"},
                        "id": {"type": "string"},
                        "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                    },
                },
                "Feedback": {
                    "type": "object",
                    "properties": {
                        "request_id": {"type": "string"},
                        "row": {"type": "integer", "minimum": 0},
                        "entity_key": {"type": "string"},
                        "endpoint": {"type": "string"},
                        "label": {"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]},
                        "feedback": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/endpoints": {"get": {"summary": "Endpoints, routes and the versions they serve now", "responses": {"200": {"description": "endpoints"}, **_errors(401, 403)}}},
            "/v1/endpoints/{name}/predict": {
                "post": {
                    "summary": "Score rows (native JSON)",
                    "parameters": name_param,
                    "requestBody": json_body("PredictRequest"),
                    "responses": {**ok("PredictResponse", "predictions"), **_errors(*_SCORING)},
                }
            },
            "/v1/feedback": {
                "post": {
                    "summary": "Record ground truth against a request id or entity key",
                    "requestBody": json_body("Feedback"),
                    "responses": {
                        "202": {"description": "accepted"},
                        **_errors(400, 401, 403, 413, 415),
                    },
                }
            },
            "/invocations": {
                "post": {
                    "summary": "MLflow scoring protocol (JSON or text/csv)",
                    "requestBody": json_body("MlflowRequest"),
                    "responses": {**ok("MlflowResponse", "predictions"), **_errors(*_SCORING)},
                }
            },
            "/ping": health,
            "/health": health,
            "/v2": {
                "get": {
                    "summary": "Server metadata (OIP v2)",
                    "security": [],
                    "responses": {"200": {"description": "metadata"}},
                }
            },
            "/v2/health/live": health,
            "/v2/health/ready": health,
            "/v2/models/{name}": {
                "get": {
                    "summary": "Model metadata (OIP v2)",
                    "parameters": name_param,
                    "responses": {"200": {"description": "metadata"}, **_errors(401, 403, 404)},
                }
            },
            "/v2/models/{name}/versions/{version}": {
                "get": {
                    "summary": "Model version metadata (OIP v2)",
                    "parameters": name_param + version_param,
                    "responses": {"200": {"description": "metadata"}, **_errors(401, 403, 404)},
                }
            },
            "/v2/models/{name}/ready": {
                "get": {
                    "summary": "Model readiness",
                    "parameters": name_param,
                    "responses": {"200": {"description": "ready"}, **_errors(401, 404)},
                }
            },
            "/v2/models/{name}/versions/{version}/ready": {
                "get": {
                    "summary": "Model version readiness",
                    "parameters": name_param + version_param,
                    "responses": {"200": {"description": "ready"}, **_errors(401, 404)},
                }
            },
            "/v2/models/{name}/infer": {
                "post": {
                    "summary": "Inference (OIP v2; JSON or binary tensors)",
                    "parameters": name_param,
                    "requestBody": json_body("InferRequest"),
                    "responses": {**ok("InferResponse", "outputs"), **_errors(*_SCORING)},
                }
            },
            "/v2/models/{name}/versions/{version}/infer": {
                "post": {
                    "summary": "Inference on one served version (OIP v2)",
                    "parameters": name_param + version_param,
                    "requestBody": json_body("InferRequest"),
                    "responses": {**ok("InferResponse", "outputs"), **_errors(*_SCORING)},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text format"}, **_errors(401, 403)},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1"}, **_errors(401)},
                }
            },
        },
    }
