"""Where modelyard keeps things, from the environment; nothing here touches the disk.

MODELYARD_HOME           project-local home folder (default: ./.modelyard)
MODELYARD_TRACKING_URI   metadata store: sqlite:///path.db, postgresql://..., a folder, or a
                         team server: http(s)://host:port (artifacts then go through it too)
MODELYARD_TRACKING_TOKEN the API token sent to a team server (``Authorization: Bearer``)
MODELYARD_ASYNC_LOGGING  true: the fluent ``log_metric`` returns at once; points are sent in
                         batches by a background thread, flushed at ``end_run`` and at exit
MODELYARD_ARTIFACT_URI   artifact store: a folder, s3://, gs:// or az:// (default: beside a
                         SQLite file or a folder's database, else <home>/artifacts)
MODELYARD_BUSY_TIMEOUT   seconds a SQLite writer waits for another (default: 30)

The tracking URI in effect is, first to last: the one passed to a ``Client``, the one set in
this process with ``set_tracking_uri``, ``$MODELYARD_TRACKING_URI``, the home folder. Every
client (``Client()``, the fluent API's, the CLI's) resolves it here, in ``resolve``, so a new
scheme is one branch there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from modelyard.core.errors import ConfigurationError

DEFAULT_HOME = ".modelyard"
DB_FILE = "modelyard.db"

_process_tracking_uri: str | None = None  # set_tracking_uri(...) in this process


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Make ``uri`` this process's tracking URI (None: back to the environment's)."""
    global _process_tracking_uri
    _process_tracking_uri = None if uri is None else os.fspath(uri)


def configured_tracking_uri() -> str | None:
    """The process's tracking URI, else ``$MODELYARD_TRACKING_URI``; None when neither is set."""
    return _process_tracking_uri or os.environ.get("MODELYARD_TRACKING_URI") or None


def current_tracking_uri(explicit: str | None = None) -> str:
    """The tracking URI in effect: ``explicit``, else the configured one, else the home folder."""
    return explicit or configured_tracking_uri() or str(home_dir())


def home_dir() -> Path:
    """The home folder: ``$MODELYARD_HOME`` or ``./.modelyard`` in the working directory."""
    return Path(os.environ.get("MODELYARD_HOME") or DEFAULT_HOME).expanduser().absolute()


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where the metadata and the artifacts of one tracking URI live."""

    metadata_url: str
    artifact_uri: str


def is_server_url(uri: str) -> bool:
    """Whether ``uri`` names a team server (``modelyard server``) rather than a store."""
    return uri.startswith(("http://", "https://"))


def tracking_token() -> str | None:
    return os.environ.get("MODELYARD_TRACKING_TOKEN") or None


def async_logging() -> bool:
    raw = os.environ.get("MODELYARD_ASYNC_LOGGING", "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"MODELYARD_ASYNC_LOGGING={raw[:40]!r} must be true or false")


def _is_db_url(uri: str) -> bool:
    return uri.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:"))


def resolve(tracking_uri: str | None = None, artifact_uri: str | None = None) -> StoreLocation:
    """Turn a tracking URI (else the one in effect, see ``current_tracking_uri``) into a
    metadata URL and an artifact URI.

    A folder (or ``file:`` URI) holds both: ``<folder>/modelyard.db`` and
    ``<folder>/artifacts``. A database URL keeps artifacts in ``$MODELYARD_ARTIFACT_URI``,
    or beside a SQLite file, or under the home folder. A team server's URL
    (``http://host:5000``) is both.
    """
    uri = current_tracking_uri(tracking_uri)
    if is_server_url(uri):  # the server keeps both; artifacts go through its blob routes
        return StoreLocation(uri.rstrip("/"), uri.rstrip("/"))
    artifacts = artifact_uri or os.environ.get("MODELYARD_ARTIFACT_URI")
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://") :]
    if _is_db_url(uri):
        if artifacts is None:
            if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
                artifacts = str(Path(uri[len("sqlite:///") :]).absolute().parent / "artifacts")
            else:
                artifacts = str(home_dir() / "artifacts")
        return StoreLocation(uri, artifacts)
    if "://" in uri and not uri.startswith("file://"):
        scheme = uri.split("://", 1)[0]
        raise ConfigurationError(
            f"tracking URI {uri!r} has the unsupported scheme {scheme!r}; use a folder, "
            "sqlite:///path/to/modelyard.db, postgresql://user@host/db or a team server's "
            "http://host:port"
        )
    folder = Path(uri.removeprefix("file://").removeprefix("file:")).expanduser().absolute()
    return StoreLocation(f"sqlite:///{folder / DB_FILE}", artifacts or str(folder / "artifacts"))


def busy_timeout_s() -> float:
    raw = os.environ.get("MODELYARD_BUSY_TIMEOUT", "30")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"MODELYARD_BUSY_TIMEOUT={raw!r} is not a number of seconds"
        ) from None
    if value < 0:
        raise ConfigurationError(f"MODELYARD_BUSY_TIMEOUT={raw!r} must not be negative")
    return value


def sqlite_synchronous() -> str:
    raw = os.environ.get("MODELYARD_SQLITE_SYNC", "NORMAL").upper()
    if raw not in ("NORMAL", "FULL"):
        raise ConfigurationError(f"MODELYARD_SQLITE_SYNC={raw!r} must be NORMAL or FULL")
    return raw
