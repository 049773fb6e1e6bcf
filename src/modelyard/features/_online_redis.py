"""The team online store: Redis (``redis://host:port/db``), one hash per generation of a view.

Keys, with ``B = my2:{<len(project)>:<project>:<view>}`` (the braces keep a view's keys in one
Redis Cluster slot):

* ``B:current`` names the generation that serves the view;
* ``B:g:<generation>`` is a hash of entity key -> ``"<event ms> <JSON payload>"``;
* ``B:version`` counts the increments written in place (see below).

A reader runs one Lua script that reads the pointer and the rows together, so it sees one
generation whole. ``materialize`` fills a new hash (with an expiry, the safety net should the
writer be killed), merges the current generation's rows that the window does not supersede
into it server-side, in slices of ``SLICE`` entries (no long stall of Redis), then one script
switches the pointer, removes the expiry, and gives the old hash a short expiry before it is
unlinked. The switch happens only if neither the pointer nor ``B:version`` moved during the
merge; else the merge runs again. An increment of at most ``IN_PLACE`` rows is applied to the
current generation by one script instead (atomic, and no copy of the view); a bigger one
builds a new generation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from modelyard.core.errors import ConfigurationError, ConflictError, MissingDependencyError
from modelyard.features._online_format import FORMAT, Encoded, Row, encode_rows, legacy_error

IN_PLACE = 10_000  # rows an increment may write into the current generation in one script
SLICE = 1_000  # entries per merge step, and rows per HSET
LOADING_TTL = 3_600  # seconds a generation being written lives if its writer dies
GRACE = 60  # seconds a replaced generation lives if its writer dies before unlinking it

_READ = """
local gen = redis.call('GET', KEYS[1])
if not gen then return false end
local hash = ARGV[1] .. gen
local out = {}
for i = 2, #ARGV, 500 do
  local part = redis.call('HMGET', hash, unpack(ARGV, i, math.min(i + 499, #ARGV)))
  for j = 1, #part do out[#out + 1] = part[j] end
end
return out
"""

_IN_PLACE = """
local gen = redis.call('GET', KEYS[1])
if not gen then return 0 end
redis.call('INCR', KEYS[2])
local hash = ARGV[1] .. gen
for i = 2, #ARGV, 3 do
  local cur = redis.call('HGET', hash, ARGV[i])
  if (not cur) or tonumber(string.match(cur, '^(%-?%d+)')) <= tonumber(ARGV[i + 1]) then
    redis.call('HSET', hash, ARGV[i], ARGV[i + 1] .. ' ' .. ARGV[i + 2])
  end
end
return 1
"""

_MERGE = """
local res = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local items = res[2]
for i = 1, #items, 2 do
  local cur = redis.call('HGET', KEYS[2], items[i])
  if (not cur) or tonumber(string.match(items[i + 1], '^(%-?%d+)')) > tonumber(string.match(cur, '^(%-?%d+)')) then
    redis.call('HSET', KEYS[2], items[i], items[i + 1])
  end
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return res[1]
"""

_SWITCH = """
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] or (redis.call('GET', KEYS[3]) or '') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('PERSIST', KEYS[2])
if cur then redis.call('EXPIRE', ARGV[4] .. cur, ARGV[5]) end
return 1
"""
SWITCH_ATTEMPTS = 5


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _glob(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class _Write:
    """One materialization of one view; see the module docstring."""

    def __init__(self, store: RedisOnlineStore, project: str, view: str, incremental: bool) -> None:
        self._store = store
        self._project, self._view = project, view
        self._base = store._base(project, view)
        self._pending: list[Encoded] = []  # an increment, until it is known to be small
        self._pending_rows = 0
        self._building = not incremental
        self._generation = ""

    @property
    def _hash(self) -> str:
        return f"{self._base}:g:{self._generation}"

    def _load(self, rows: Encoded) -> None:
        if not self._generation:
            self._generation = uuid.uuid4().hex
        keys, stamps, payloads = rows
        pipe = self._store._client.pipeline(transaction=False)
        for i in range(0, len(keys), SLICE):
            mapping = {
                keys[j]: b"%d %s" % (stamps[j], payloads[j])
                for j in range(i, min(i + SLICE, len(keys)))
            }
            pipe.hset(self._hash, mapping=mapping)  # type: ignore[arg-type]
        pipe.expire(self._hash, LOADING_TTL)
        pipe.execute()

    def write_encoded(self, rows: Encoded) -> None:
        if self._building:
            self._load(rows)
            return
        self._pending.append(rows)
        self._pending_rows += len(rows[0])
        if self._pending_rows > IN_PLACE:  # too big to apply in one script: a new generation
            self._building = True
            for pending in self._pending:
                self._load(pending)
            self._pending = []

    def commit(self) -> None:
        store = self._store
        pointer, version = f"{self._base}:current", f"{self._base}:version"
        if self._pending:
            args: list[Any] = [f"{self._base}:g:"]
            for keys, stamps, payloads in self._pending:
                for key, ts, payload in zip(keys, stamps, payloads, strict=True):
                    args += [key, ts, payload]
            if store._in_place(keys=[pointer, version], args=args):
                return
            for pending in self._pending:  # no generation yet: this one is the first
                self._load(pending)
            self._pending = []
        if not self._generation:
            return  # nothing written
        try:
            for _ in range(SWITCH_ATTEMPTS):
                current, seen = (_text(v) for v in store._client.mget([pointer, version]))
                if current is not None:
                    old = f"{self._base}:g:{current}"
                    cursor: Any = 0
                    while True:
                        cursor = store._merge(keys=[old, self._hash], args=[cursor, SLICE, LOADING_TTL])
                        if int(cursor) == 0:
                            break
                if store._switch(
                    keys=[pointer, self._hash, version],
                    args=[current or "", seen or "", self._generation, f"{self._base}:g:", GRACE],
                ):
                    break
            else:
                raise ConflictError(
                    f"feature view {self._view!r} kept changing while this run merged it "
                    f"({SWITCH_ATTEMPTS} attempts); nothing was changed: run it again"
                )
        except BaseException:
            self.abort()
            raise
        if current is not None:
            store._client.unlink(f"{self._base}:g:{current}")
        else:
            store._drop_legacy(self._project, self._view)

    def abort(self) -> None:
        self._pending = []
        if self._generation:
            self._store._client.unlink(self._hash)


class RedisOnlineStore:
    """Feature rows in Redis, one hash per generation of each (project, view)."""

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
        self._read = self._client.register_script(_READ)
        self._in_place = self._client.register_script(_IN_PLACE)
        self._merge = self._client.register_script(_MERGE)
        self._switch = self._client.register_script(_SWITCH)
        self._legacy_seen: dict[tuple[str, str], bool] = {}

    @staticmethod
    def _base(project: str, view: str) -> str:
        return f"my{FORMAT}:{{{len(project)}:{project}:{view}}}"

    def _legacy_keys(self, project: str, view: str, first_only: bool) -> Iterator[bytes]:
        """Format-1 keys of a view (``my:<project>:<view>:<entity>``)."""
        pattern = f"my:{_glob(project)}:{_glob(view)}:*"
        for key in self._client.scan_iter(match=pattern, count=1000):
            yield key
            if first_only:
                return

    def _legacy(self, project: str, view: str) -> bool:
        seen = self._legacy_seen.get((project, view))
        if seen is None:
            seen = any(True for _ in self._legacy_keys(project, view, first_only=True))
            self._legacy_seen[(project, view)] = seen
        return seen

    def _drop_legacy(self, project: str, view: str) -> None:
        if not self._legacy(project, view):
            return
        batch: list[bytes] = []
        for key in self._legacy_keys(project, view, first_only=False):
            batch.append(key)
            if len(batch) == SLICE:
                self._client.unlink(*batch)
                batch = []
        if batch:
            self._client.unlink(*batch)
        self._legacy_seen[(project, view)] = False

    @contextmanager
    def materialization(self, project: str, view: str, *, incremental: bool) -> Iterator[_Write]:
        """Write one view's rows atomically: switched in on leaving the block, dropped on error."""
        write = _Write(self, project, view, incremental)
        try:
            yield write
        except BaseException:
            write.abort()
            raise
        write.commit()

    def write(self, project: str, view: str, rows: Sequence[Row]) -> None:
        """Upsert rows (a value is replaced only by a newer one), atomically."""
        with self.materialization(project, view, incremental=True) as write:
            write.write_encoded(encode_rows(rows))

    def state(self, project: str, view: str) -> str:
        """``ready`` (materialized), ``empty`` (never), or ``legacy`` (format-1 rows only)."""
        if self._client.exists(f"{self._base(project, view)}:current"):
            return "ready"
        return "legacy" if self._legacy(project, view) else "empty"

    def read(
        self, project: str, view: str, keys: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], int]]:
        base = self._base(project, view)
        values = self._read(keys=[f"{base}:current"], args=[f"{base}:g:", *keys])
        if values is None:
            if self._legacy(project, view):
                raise legacy_error(self.uri, project, view)
            return {}
        found: dict[str, tuple[dict[str, Any], int]] = {}
        for key, value in zip(keys, values, strict=True):
            if value is not None:
                stamp, _, payload = value.partition(b" ")
                found[key] = (orjson.loads(payload), int(stamp))
        return found

    def close(self) -> None:
        self._client.close()
