"""Online stores: the latest feature values per entity, for serving. SQLite embedded by
default (``_online_sqlite``); Redis for teams (``redis://host:port/db``, ``_online_redis``).

Both keep each view's rows in generations: a materialization becomes visible to readers
whole, when it finishes, and a killed one leaves the previous generation serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from modelyard.core.errors import ConfigurationError
from modelyard.features._online_format import Encoded, Row
from modelyard.features._online_redis import RedisOnlineStore
from modelyard.features._online_sqlite import SqliteOnlineStore


class OnlineWrite(Protocol):
    def write_encoded(self, rows: Encoded) -> None:
        """Add a batch (``encode_batch``) to the materialization; invisible until it ends."""
        ...


class OnlineStore(Protocol):
    uri: str

    def materialization(
        self, project: str, view: str, *, incremental: bool
    ) -> AbstractContextManager[OnlineWrite]:
        """Write one view's rows: visible to readers all at once when the block ends, never if
        it raises (or the process dies). ``incremental`` writes a small increment in place."""
        ...

    def write(self, project: str, view: str, rows: Sequence[Row]) -> None: ...

    def read(
        self, project: str, view: str, keys: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], int]]: ...

    def state(self, project: str, view: str) -> str:
        """``ready`` (materialized), ``empty`` (never), or ``legacy`` (format-1 rows only)."""
        ...

    def close(self) -> None: ...


def open_online_store(uri: str | None, home: Path) -> OnlineStore:
    """``redis://...`` or a SQLite path (``sqlite:///...`` or a file); default ``<home>/online.db``."""
    if uri is None:
        return SqliteOnlineStore(home / "online.db")
    if uri.startswith(("redis://", "rediss://", "unix://")):
        return RedisOnlineStore(uri)
    if uri.startswith("sqlite:///"):
        return SqliteOnlineStore(uri[len("sqlite:///") :])
    if "://" in uri:
        raise ConfigurationError(
            f"online store {uri!r}: use redis://host:port/db or a SQLite file path"
        )
    return SqliteOnlineStore(uri)
