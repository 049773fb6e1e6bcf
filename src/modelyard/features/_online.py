"""Online stores: the latest feature values per entity, for serving. SQLite embedded by
default; Redis for teams (``redis://host:port/db``)."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import repeat
from pathlib import Path
from typing import Any, Protocol

import orjson

from modelyard.core.errors import ConfigurationError, MissingDependencyError

Row = tuple[str, dict[str, Any], int]  # entity key, feature values, event time (ms)
PAYLOAD = "__payload"  # a batch column of payloads already encoded (by DuckDB's to_json)
Encoded = tuple[Sequence[str], Sequence[int], Sequence[bytes]]  # keys, event times (ms), payloads


class OnlineStore(Protocol):
    uri: str

    def write(self, project: str, view: str, rows: Sequence[Row]) -> None: ...

    def write_encoded(self, project: str, view: str, rows: Encoded) -> None:
        """Like ``write``, with payloads already encoded (``encode_batch``), in one transaction."""
        ...

    def read(
        self, project: str, view: str, keys: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], int]]: ...

    def close(self) -> None: ...


def _dumps(values: dict[str, Any]) -> bytes:
    return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def entity_key(values: Sequence[Any]) -> str:
    return "|".join(str(v) for v in values)


def clean(value: Any) -> Any:
    """A value as stored: NaN as null, datetimes as ISO 8601 text."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_batch(batch: Any, n_keys: int, names: Sequence[str]) -> Encoded:
    """An Arrow record batch of (join keys..., event ms, features... or ``PAYLOAD``) as
    online rows.

    Column-wise: the keys are cast to text by Arrow when they are integers or text (what
    ``str`` gives) and the rows sorted by key, the feature columns are turned into Python
    lists once (unless the payloads come encoded, in ``PAYLOAD``), and each payload
    is one ``orjson`` call (which writes NaN and infinities as null, as ``clean`` does for
    NaN). Only columns whose values ``clean`` could change (dates and times) go value by value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    key_columns = [batch.column(i) for i in range(n_keys)]
    textual = all(
        (
            pa.types.is_integer(c.type)
            or pa.types.is_string(c.type)
            or pa.types.is_large_string(c.type)
        )
        and c.null_count == 0
        for c in key_columns
    )
    if textual:
        texts = [pc.cast(c, pa.string()) for c in key_columns]
        joined = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, "|")
        # in key order, so that the store's B-tree is written in order (about 2x faster)
        order = pc.sort_indices(joined)
        batch = batch.take(order)
        keys: list[str] = joined.take(order).to_pylist()
    else:
        lists = [c.to_pylist() for c in key_columns]
        keys = [entity_key(values) for values in zip(*lists, strict=True)]
    stamps: list[int] = batch.column(n_keys).cast(pa.int64()).to_pylist()
    if batch.schema.names[n_keys + 1 :] == [PAYLOAD]:
        encoded: list[bytes] = batch.column(n_keys + 1).to_pylist()
        return keys, stamps, encoded
    columns = []
    for j in range(len(names)):
        column = batch.column(n_keys + 1 + j)
        kind = column.type
        if (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
        ):
            columns.append(column.to_pylist())
        else:
            columns.append([clean(v) for v in column.to_pylist()])
    dumps: Callable[..., bytes] = orjson.dumps
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    payloads = [
        dumps(dict(zip(names, values, strict=True)), option=option)
        for values in zip(*columns, strict=True)
    ]
    if not names:
        payloads = [b"{}"] * len(keys)
    return keys, stamps, payloads


class SqliteOnlineStore:
    """One table keyed by (project, view, entity); a row is replaced only by a newer one."""

    _UPSERT = (
        "INSERT INTO online_features (project, view, entity, event_ms, payload) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (project, view, entity) DO UPDATE SET event_ms = excluded.event_ms, payload = excluded.payload "
        "WHERE excluded.event_ms >= online_features.event_ms"
    )

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.uri = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS online_features (project TEXT NOT NULL, view TEXT NOT NULL, entity TEXT NOT NULL, "
            "event_ms INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (project, view, entity)) WITHOUT ROWID"
        )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA busy_timeout = 30000")
            self._local.conn = conn
        return conn

    def write(self, project: str, view: str, rows: Sequence[Row]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                self._UPSERT, [(project, view, key, ts, _dumps(values)) for key, values, ts in rows]
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def write_encoded(self, project: str, view: str, rows: Encoded) -> None:
        keys, stamps, payloads = rows
        conn = self._conn()
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: big batches stay in the cache
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                self._UPSERT, zip(repeat(project), repeat(view), keys, stamps, payloads)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def read(
        self, project: str, view: str, keys: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], int]]:
        conn = self._conn()
        found: dict[str, tuple[dict[str, Any], int]] = {}
        if len(keys) == 1:
            row = conn.execute(
                "SELECT entity, event_ms, payload FROM online_features WHERE project = ? AND view = ? AND entity = ?",
                (project, view, keys[0]),
            ).fetchone()
            rows: Iterable[Any] = [row] if row else []
        else:
            marks = ",".join("?" * len(keys))
            rows = conn.execute(
                f"SELECT entity, event_ms, payload FROM online_features WHERE project = ? AND view = ? AND entity IN ({marks})",
                (project, view, *keys),
            ).fetchall()
        for entity, ts, payload in rows:
            found[entity] = (orjson.loads(payload), ts)
        return found

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class RedisOnlineStore:
    """A hash per entity (``my:<project>:<view>:<entity>``) holding the payload and event time.
    A Lua script replaces a value only with a newer one, so replays are idempotent."""

    _SCRIPT = """
    local current = redis.call('HGET', KEYS[1], 'ts')
    if (not current) or tonumber(current) <= tonumber(ARGV[1]) then
      redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'v', ARGV[2])
    end
    return 0
    """

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as error:
            raise MissingDependencyError("redis", "redis", "A Redis online store") from error
        self.uri = url
        self._client = redis.Redis.from_url(url)
        try:
            self._client.ping()
        except redis.RedisError as error:
            raise ConfigurationError(
                f"Redis online store {url!r} is unreachable: {error}"
            ) from error
        self._upsert = self._client.register_script(self._SCRIPT)

    @staticmethod
    def _key(project: str, view: str, entity: str) -> str:
        return f"my:{project}:{view}:{entity}"

    def write(self, project: str, view: str, rows: Sequence[Row]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, values, ts in rows:
            self._upsert(
                keys=[self._key(project, view, key)], args=[ts, _dumps(values)], client=pipe
            )
        pipe.execute()

    def write_encoded(self, project: str, view: str, rows: Encoded) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, ts, payload in zip(*rows, strict=True):
            self._upsert(keys=[self._key(project, view, key)], args=[ts, payload], client=pipe)
        pipe.execute()

    def read(
        self, project: str, view: str, keys: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], int]]:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self._key(project, view, key), "ts", "v")
        found: dict[str, tuple[dict[str, Any], int]] = {}
        for key, (ts, payload) in zip(keys, pipe.execute(), strict=True):
            if ts is not None and payload is not None:
                found[key] = (orjson.loads(payload), int(ts))
        return found

    def close(self) -> None:
        self._client.close()


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
