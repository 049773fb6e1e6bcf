"""Every error modelyard raises, rooted at one class.

Callers tell errors apart by class, never by message. Each class that has a
matching builtin also subclasses it, so ``except ValueError`` keeps working.

    ModelyardError
    ├── ValidationError (ValueError)           bad input: a key, a value, a filter
    │   └── FilterSyntaxError                  a search filter or order-by that does not parse
    ├── NotFoundError (LookupError)            an experiment, run, artifact ... that does not exist
    ├── ConflictError                          the write contradicts what is stored
    │   └── ParamConflictError                 a param logged again with another value
    ├── InvalidStateError                      the object is in the wrong state (a finished run)
    ├── StoreError (OSError)                   the metadata store cannot be used
    │   ├── StoreLockedError                   another process holds the database too long
    │   └── StoreUnreadableError               the file is not a database, or cannot be opened
    ├── ArtifactError (OSError)                the artifact store cannot be used
    │   └── ArtifactIntegrityError             a blob whose bytes do not match its sha256
    └── ConfigurationError                     a setting, URI or optional dependency is wrong
        └── MissingDependencyError (ImportError)  an extra is not installed
"""

from __future__ import annotations


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


class ArtifactError(ModelyardError, OSError):
    """The artifact store cannot be used."""


class ArtifactIntegrityError(ArtifactError):
    """A blob's bytes do not hash to the digest it is stored under."""


class ConfigurationError(ModelyardError):
    """A setting, URI or optional dependency is wrong."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency (an extra) is needed but not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the package {package!r}, which is not installed; "
            f"install it with: pip install 'modelyard[{extra}]'"
        )
        self.package = package
        self.extra = extra
