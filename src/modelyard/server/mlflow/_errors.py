"""MLflow's error shape for the MLflow façade: ``{"error_code": ..., "message": ...}`` with the
status codes MLflow's own server gives, from one table keyed by modelyard's error classes.

A client's mistake is a 4xx naming the field; anything unexpected is logged and answered as
``INTERNAL_ERROR`` without echoing the input."""

from __future__ import annotations

import logging

from starlette.responses import Response

from modelyard.core.errors import (
    ArtifactIntegrityError,
    AuthenticationError,
    ConflictError,
    GateFailedError,
    IntegrityError,
    InvalidStateError,
    ModelyardError,
    NotFoundError,
    NotSupportedError,
    ParamConflictError,
    PermissionDeniedError,
    StoreError,
    UntrustedModelError,
    ValidationError,
)
from modelyard.http import PayloadTooLarge, json_response

log = logging.getLogger("modelyard.server.mlflow")

# (error class, MLflow error code, HTTP status); the first match wins.
CODES: list[tuple[type[BaseException], str, int]] = [
    (AuthenticationError, "UNAUTHENTICATED", 401),
    (PermissionDeniedError, "PERMISSION_DENIED", 403),
    (UntrustedModelError, "PERMISSION_DENIED", 403),
    (NotFoundError, "RESOURCE_DOES_NOT_EXIST", 404),
    (ParamConflictError, "INVALID_PARAMETER_VALUE", 400),
    (ConflictError, "RESOURCE_ALREADY_EXISTS", 400),
    (InvalidStateError, "INVALID_STATE", 400),
    (GateFailedError, "INVALID_STATE", 400),
    (NotSupportedError, "NOT_IMPLEMENTED", 501),
    (PayloadTooLarge, "INVALID_PARAMETER_VALUE", 413),
    (ArtifactIntegrityError, "INTERNAL_ERROR", 500),
    (IntegrityError, "INVALID_PARAMETER_VALUE", 400),
    (StoreError, "TEMPORARILY_UNAVAILABLE", 503),
    (ValidationError, "INVALID_PARAMETER_VALUE", 400),
    (ModelyardError, "INTERNAL_ERROR", 500),
    (TimeoutError, "TEMPORARILY_UNAVAILABLE", 503),
]


class UnsupportedMediaType(ValidationError):
    """A body that is not JSON (415)."""


def mlflow_error(code: str, message: str, status: int) -> Response:
    response = json_response({"error_code": code, "message": message}, status)
    if status == 401:
        response.headers["www-authenticate"] = 'Bearer realm="modelyard"'
    return response


def error_answer(error: BaseException, where: str) -> Response:
    """The MLflow answer for ``error`` raised while serving ``where`` (method and path)."""
    if isinstance(error, UnsupportedMediaType):
        return mlflow_error("BAD_REQUEST", str(error), 415)
    for cls, code, status in CODES:
        if isinstance(error, cls):
            if status >= 500:
                log.error("%s failed", where, exc_info=error)
            return mlflow_error(code, str(error), status)
    log.error("%s failed", where, exc_info=error)
    return mlflow_error(
        "INTERNAL_ERROR", f"{where} failed on the server ({type(error).__name__}); see its log", 500
    )


def not_implemented(method: str, path: str) -> Response:
    return mlflow_error(
        "NOT_IMPLEMENTED",
        f"modelyard server does not implement the MLflow endpoint {method} {path[:200]}; "
        "see 'Coming from MLflow' in modelyard's README for what is supported",
        501,
    )
