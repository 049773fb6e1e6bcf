"""``mlflow.exceptions`` under modelyard: ``MlflowException`` is modelyard's root error.

``except MlflowException`` catches every error modelyard raises. Tell errors apart by class
(``NotFoundError``, ``ValidationError`` ...), not by MLflow's ``error_code`` strings; each
class also subclasses the matching builtin (``ValueError``, ``LookupError`` ...).
"""

from __future__ import annotations

from modelyard.core.errors import (
    ArtifactError,
    ConfigurationError,
    ConflictError,
    IntegrityError,
    InvalidStateError,
    MissingDependencyError,
    ModelyardError,
    NotFoundError,
    NotSupportedError,
    SchemaError,
    UntrustedModelError,
    ValidationError,
)

MlflowException = ModelyardError
"""MLflow's base exception: every modelyard error is one."""

__all__ = [
    "ArtifactError",
    "ConfigurationError",
    "ConflictError",
    "IntegrityError",
    "InvalidStateError",
    "MissingDependencyError",
    "MlflowException",
    "ModelyardError",
    "NotFoundError",
    "NotSupportedError",
    "SchemaError",
    "UntrustedModelError",
    "ValidationError",
]
