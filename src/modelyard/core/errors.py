"""Every error modelyard raises, rooted at one class.

Callers tell errors apart by class, never by message. Each class that has a
matching builtin also subclasses it, so ``except ValueError`` keeps working.

    ModelyardError
    ├── ValidationError (ValueError)           bad input: a key, a value, a filter
    │   ├── FilterSyntaxError                  a search filter or order-by that does not parse
    │   ├── SchemaError                        model input that does not match the signature
    │   └── DataQualityError                   data that breaks its expectations (see .failures)
    ├── NotFoundError (LookupError)            an experiment, run, artifact ... that does not exist
    ├── ConflictError                          the write contradicts what is stored
    │   └── ParamConflictError                 a param logged again with another value
    ├── InvalidStateError                      the object is in the wrong state (a finished run)
    ├── StoreError (OSError)                   the metadata store cannot be used
    │   ├── StoreLockedError                   another process holds the database too long
    │   └── StoreUnreadableError               the file is not a database, or cannot be opened
    ├── ArtifactError (OSError)                the artifact store cannot be used
    │   └── ArtifactIntegrityError (+ IntegrityError)  a blob whose bytes do not match its sha256
    ├── IntegrityError                         bytes (a blob, a bundle file) that do not match their hash
    ├── UntrustedModelError (PermissionError)  a pickle from an arbitrary path without trusted=True
    ├── AuthenticationError (PermissionError)  no valid token for a server that needs one (401)
    ├── PermissionDeniedError (PermissionError) a token whose role does not allow the call (403)
    ├── ServerUnavailableError (ConnectionError) the team server cannot be reached, even after retries
    ├── GateFailedError                        a promotion gate refused a version (see .checks)
    ├── NotSupportedError (NotImplementedError)  an MLflow feature modelyard does not offer
    └── ConfigurationError                     a setting, URI or optional dependency is wrong
        └── MissingDependencyError (ImportError)  an extra is not installed

And the warnings, rooted likewise (filter them by class)::

    ModelyardWarning (UserWarning)
    └── NoSignatureWarning                     a model saved or registered without a signature
"""

from __future__ import annotations

from collections.abc import Sequence


class ModelyardError(Exception):
    """Root of every error modelyard raises."""


class ValidationError(ModelyardError, ValueError):
    """Input that modelyard cannot accept; the message names the field."""


class FilterSyntaxError(ValidationError):
    """A search filter or order-by clause that does not parse."""


class NotFoundError(ModelyardError, LookupError):
    """The object asked for does not exist."""


class ConflictError(ModelyardError):
    """The write contradicts what is already stored."""


class ParamConflictError(ConflictError, ValueError):
    """A param was logged again with a different value; params are immutable."""


class InvalidStateError(ModelyardError):
    """The object exists but is in a state that does not allow the operation."""


class StoreError(ModelyardError, OSError):
    """The metadata store cannot be used."""


class StoreLockedError(StoreError):
    """Another process held the database for longer than the busy timeout."""


class StoreUnreadableError(StoreError):
    """The database file cannot be opened or is not a database."""


class IntegrityError(ModelyardError):
    """Bytes that do not match the sha256 recorded for them; nothing was loaded."""


class ArtifactError(ModelyardError, OSError):
    """The artifact store cannot be used."""


class ArtifactIntegrityError(ArtifactError, IntegrityError):
    """A blob's bytes do not hash to the digest it is stored under."""


class ConfigurationError(ModelyardError):
    """A setting, URI or optional dependency is wrong."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency (an extra) is needed but not installed."""

    def __init__(self, package: str, extra: str | None, purpose: str) -> None:
        command = f"pip install 'modelyard[{extra}]'" if extra else f"pip install {package}"
        super().__init__(
            f"{purpose} needs the package {package!r}, which is not installed; "
            f"install it with: {command}"
        )
        self.package = package
        self.extra = extra


class SchemaError(ValidationError):
    """Input that does not match a model's signature; the message names the column."""


class UntrustedModelError(ModelyardError, PermissionError):
    """A model from an arbitrary path was asked for without ``trusted=True``."""


class AuthenticationError(ModelyardError, PermissionError):
    """The team server needs a valid bearer token and got none, or an unknown one."""


class PermissionDeniedError(ModelyardError, PermissionError):
    """The token is valid but its role does not allow the call; the message names the role
    needed and on what."""


class ServerUnavailableError(ModelyardError, ConnectionError):
    """The team server could not be reached (or kept answering 503) through every retry."""


class GateFailedError(ModelyardError):
    """A promotion gate refused a version; ``.checks`` lists every check and its outcome."""

    def __init__(self, message: str, checks: Sequence[object]) -> None:
        super().__init__(message)
        self.checks = list(checks)


class NotSupportedError(ModelyardError, NotImplementedError):
    """An MLflow feature (a function, an argument, a value) that modelyard does not offer;
    the message names the feature and what to use instead."""


class DataQualityError(ValidationError):
    """Data that breaks its expectations; ``.failures`` lists column, rule and failing share."""

    def __init__(self, message: str, failures: Sequence[object]) -> None:
        super().__init__(message)
        self.failures = list(failures)


class ModelyardWarning(UserWarning):
    """Root of every warning modelyard gives."""


class NoSignatureWarning(ModelyardWarning):
    """A model was saved or registered without a signature: its input is not checked, and
    serving cannot map arrays or describe it. Pass ``input_example=`` or ``signature=``."""
