"""The online stores' generations: increments written in place (atomically), a new generation
merging the current one in, and the generations a dead writer left dropped after their lease."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from modelyard.features import _online_redis as online_redis
from modelyard.features._online_format import encode_rows
from modelyard.features._online_sqlite import LEASE_S, SqliteOnlineStore

from .conftest import redis_url


def _rows(*pairs: tuple[int, int]) -> list[tuple[str, dict[str, object], int]]:
    return [(f"i{len(str(k))}:{k}", {"n": v}, v) for k, v in pairs]


def test_increments_are_written_in_place_and_dead_generations_dropped(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    store = SqliteOnlineStore(tmp_path / "online.db", clock=lambda: clock[0])
    with store.materialization("p", "v", incremental=False) as write:
        write.write_encoded(encode_rows(_rows((1, 10), (2, 10))))
    conn = sqlite3.connect(tmp_path / "online.db")
    (first,) = conn.execute("SELECT tbl FROM online_views").fetchone()
    store.write("p", "v", _rows((2, 20), (3, 20)))  # an increment: the same generation
    assert conn.execute("SELECT tbl FROM online_views").fetchone() == (first,)
    assert {k: v[0]["n"] for k, v in store.read("p", "v", ["i1:1", "i1:2", "i1:3"]).items()} == {
        "i1:1": 10, "i1:2": 20, "i1:3": 20,
    }  # fmt: skip
    # a writer that dies after a batch leaves a generation nobody reads ...
    dead = store.materialization("p", "v", incremental=False)
    dead.__enter__().write_encoded(encode_rows(_rows((1, 5))))
    tables = {t for (t,) in conn.execute("SELECT tbl FROM online_tables")}
    (orphan,) = tables - {first}
    assert store.read("p", "v", ["i1:1"])["i1:1"][0] == {"n": 10}
    # ... kept while its writer could still be alive, dropped once its lease ran out
    with store.materialization("p", "v", incremental=False) as write:
        write.write_encoded(encode_rows(_rows((4, 30))))
    assert orphan in {t for (t,) in conn.execute("SELECT tbl FROM online_tables")}
    clock[0] += LEASE_S + 1
    with store.materialization("p", "v", incremental=False) as write:
        write.write_encoded(encode_rows(_rows((5, 40))))
    left = {t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'og_%'")}
    assert left == {t for (t,) in conn.execute("SELECT tbl FROM online_views")}  # one, serving
    got = store.read("p", "v", ["i1:1", "i1:2", "i1:3", "i1:4", "i1:5"])
    assert {k: v[0]["n"] for k, v in got.items()} == {
        "i1:1": 10, "i1:2": 20, "i1:3": 20, "i1:4": 30, "i1:5": 40,
    }  # fmt: skip  (every generation merged the current one in; nothing older replaced newer)
    conn.close()
    store.close()


def test_redis_increments_in_place_and_big_ones_as_a_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = redis_url()
    store = online_redis.RedisOnlineStore(url)
    project = f"p{uuid.uuid4().hex[:10]}"
    base = store._base(project, "v")
    client = store._client
    store.write(project, "v", _rows((1, 10), (2, 10)))  # no generation yet: the first
    first = client.get(f"{base}:current")
    store.write(project, "v", _rows((2, 20), (1, 5)))  # small: in place; 5 is older than 10
    assert client.get(f"{base}:current") == first
    monkeypatch.setattr(online_redis, "IN_PLACE", 1)
    store.write(project, "v", _rows((3, 30), (4, 30)))  # over IN_PLACE: a new generation
    assert client.get(f"{base}:current") != first and not client.exists(f"{base}:g:{first.decode()}")
    got = store.read(project, "v", ["i1:1", "i1:2", "i1:3", "i1:4", "i1:9"])
    assert {k: v[0]["n"] for k, v in got.items()} == {"i1:1": 10, "i1:2": 20, "i1:3": 30, "i1:4": 30}
    assert client.ttl(f"{base}:g:{client.get(f'{base}:current').decode()}") == -1  # persistent
    client.delete(*client.scan_iter(match=f"{base}:*"))
    store.close()
