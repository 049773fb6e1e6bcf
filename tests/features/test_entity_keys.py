"""Entity keys: unambiguous and typed in both online stores, checked against the entity's type
before any lookup; a store written in the old key format is reported, never read."""

from __future__ import annotations

import sqlite3
import textwrap
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from modelyard.features import Entity, FeatureStore, Float64

from .conftest import T0

PAIRS = textwrap.dedent(
    """
    from modelyard.features import Entity, FeatureView, Field, FileSource, Float64, String

    pair = Entity(name="pair", join_keys=["user", "merchant"], dtype=String)
    spend = FeatureView(
        name="spend",
        entities=[pair],
        schema=[Field(name="amount", dtype=Float64)],
        source=FileSource(path="data/spend.parquet", timestamp_field="event_time"),
    )
    """
)

APPLICANTS = textwrap.dedent(
    """
    from modelyard.features import Entity, FeatureView, Field, FileSource, Float64

    applicant = Entity(name="applicant", join_keys=["applicant_id"])
    finances = FeatureView(
        name="finances",
        entities=[applicant],
        schema=[Field(name="income", dtype=Float64)],
        source=FileSource(path="data/finances.parquet", timestamp_field="event_time"),
    )
    """
)


def _repo(tmp_path: Path, definitions: str, data: pd.DataFrame, name: str) -> Path:
    repo = tmp_path / f"repo_{uuid.uuid4().hex[:10]}"  # the folder names the (Redis) project
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(definitions)
    data.to_parquet(repo / "data" / f"{name}.parquet")
    return repo


def _store(repo: Path, online: str, tmp_path: Path) -> FeatureStore:
    fs = FeatureStore(
        repo_path=repo, tracking_uri=str(tmp_path / "meta"), online_store=online
    )
    fs.apply()
    return fs


WINDOW = (T0 - timedelta(days=1), T0 + timedelta(days=1))


def test_composite_keys_cannot_collide(
    online_url: str, tmp_path: Path, forget: list[tuple[str, str]]
) -> None:
    data = pd.DataFrame(
        {
            "user": ["a|b", "x", "1"],
            "merchant": ["c", "y", "2"],
            "event_time": [T0] * 3,
            "amount": [999.0, 1.0, 12.0],
        }
    )
    fs = _store(_repo(tmp_path, PAIRS, data, "spend"), online_url, tmp_path)
    forget.append((online_url, fs.project))
    assert fs.materialize(*WINDOW, progress=False) == {"spend": 3}
    got = fs.get_online_features(
        ["spend:amount"],
        [
            {"user": "a", "merchant": "b|c"},  # joined with "|" this was ("a|b", "c")
            {"user": "a|b", "merchant": "c"},
            {"user": "1", "merchant": "2"},
            {"user": "12", "merchant": ""},
        ],
    )
    assert got.to_dict()["amount"] == [None, 999.0, 12.0, None]
    assert [s["amount"] for s in got.statuses] == ["NOT_FOUND", "PRESENT", "PRESENT", "NOT_FOUND"]
    columnar = fs.get_online_features(["spend:amount"], {"user": ["x"], "merchant": ["y"]})
    assert columnar.to_dict() == {"user": ["x"], "merchant": ["y"], "amount": [1.0]}
    with pytest.raises(
        my.ValidationError,
        match=r"entity_rows\[0\]\['user'\] must be a string \(entity 'pair' declares string join keys\), "
        r"got an integer \(send \"1\", not 1\)",
    ):
        fs.get_online_features(["spend:amount"], [{"user": 1, "merchant": "2"}])


@pytest.fixture
def applicants(tmp_path: Path) -> FeatureStore:
    data = pd.DataFrame(
        {"applicant_id": [1, 2], "event_time": [T0, T0], "income": [100.0, 200.0]}
    )
    fs = _store(_repo(tmp_path, APPLICANTS, data, "finances"), str(tmp_path / "online.db"), tmp_path)
    fs.materialize(*WINDOW, progress=False)
    return fs


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", r"must be an integer .*got a string \(send 1, not \"1\"\)"),
        (1.0, r"must be an integer .*got a number with a fraction or exponent \(integer keys match exactly"),
        (True, "must be an integer .*got a boolean"),
        (None, r"is null; every entity row needs a value for the join key 'applicant_id'"),
        ([1, 2], "must be an integer .*got a list"),
        ({}, "must be an integer .*got an object"),
        (2**63, r"is outside the int64 range"),
    ],
)
def test_entity_values_must_have_the_entity_type(
    applicants: FeatureStore, value: object, message: str
) -> None:
    with pytest.raises(my.ValidationError, match=r"entity_rows\[1\]\['applicant_id'\] " + message):
        applicants.get_online_features(
            ["finances:income"], [{"applicant_id": 1}, {"applicant_id": value}]
        )
    with pytest.raises(my.ValidationError, match=r"entities.applicant_id\[0\] " + message):
        applicants.get_online_features(["finances:income"], {"applicant_id": [value]})


def test_integer_keys_of_any_integer_type_match(applicants: FeatureStore) -> None:
    rows = [{"applicant_id": 1}, {"applicant_id": np.int64(2)}, {"applicant_id": np.int32(3)}]
    got = applicants.get_online_features(["finances:income"], rows)
    assert got.to_dict()["income"] == [100.0, 200.0, None]


def test_no_entities_no_rows(applicants: FeatureStore) -> None:
    assert applicants.get_online_features(["finances:income"], []).rows == []
    assert applicants.get_online_features(["finances:income"], {"applicant_id": []}).rows == []


def test_keys_that_are_not_join_keys_are_refused(applicants: FeatureStore) -> None:
    with pytest.raises(
        my.ValidationError,
        match=r"'region' in entity rows is not a join key of the requested features; they need "
        r"\['applicant_id'\], and nothing else",
    ):
        applicants.get_online_features(
            ["finances:income"], [{"applicant_id": 1, "region": "eu"}]
        )
    with pytest.raises(my.ValidationError, match="'xxxxxxxxxx.*…' in entities is not a join key"):
        applicants.get_online_features(
            ["finances:income"], {"applicant_id": [1], "x" * 5000: [1]}
        )  # a long name is cut in the message


def test_join_keys_are_integers_or_strings(tmp_path: Path) -> None:
    with pytest.raises(my.ValidationError, match="entity 'price': dtype 'float64' cannot type a join key; use Int64"):
        Entity(name="price", dtype=Float64)
    data = pd.DataFrame(
        {"user": ["a"], "merchant": ["b"], "event_time": [T0], "amount": [1.0]}
    )
    repo = _repo(tmp_path, PAIRS.replace(", dtype=String)", ")"), data, "spend")
    with pytest.raises(
        my.ValidationError,
        match=r"join key 'user' of feature view 'spend' is VARCHAR in the source, but entity 'pair' "
        r"declares int64 keys: declare Entity\(name='pair', \.\.\., dtype=String\)",
    ):
        _store(repo, str(tmp_path / "online.db"), tmp_path)


def _write_legacy(online: str, project: str) -> None:
    """A row as modelyard 0.1 wrote it: key "|".join(str(v)), no generations."""
    payload = b'{"income": 666.0}'
    stamp = int(T0.timestamp() * 1000)
    if online.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(online)
        client.hset(f"my:{project}:finances:1", mapping={"ts": stamp, "v": payload})
        client.close()
        return
    conn = sqlite3.connect(online)
    conn.execute(
        "CREATE TABLE online_features (project TEXT NOT NULL, view TEXT NOT NULL, entity TEXT NOT NULL, "
        "event_ms INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (project, view, entity)) WITHOUT ROWID"
    )
    conn.execute(
        "INSERT INTO online_features VALUES (?, 'finances', '1', ?, ?)", (project, stamp, payload)
    )
    conn.commit()
    conn.close()


def test_a_store_written_in_the_old_format_is_not_read(
    online_url: str, tmp_path: Path, forget: list[tuple[str, str]]
) -> None:
    data = pd.DataFrame({"applicant_id": [1], "event_time": [T0], "income": [100.0]})
    repo = _repo(tmp_path, APPLICANTS, data, "finances")
    forget.append((online_url, repo.name))
    _write_legacy(online_url, repo.name)
    fs = _store(repo, online_url, tmp_path)
    assert fs.online_store.state(fs.project, "finances") == "legacy"
    with pytest.raises(
        my.InvalidStateError,
        match=r"holds feature view 'finances' .* in the layout of an older modelyard \(format 1\).*"
        r"Materialize the view again",
    ):
        fs.get_online_features(["finances:income"], [{"applicant_id": 1}])
    # the watermark of the old materialization must not stop the increment short
    fs._client.store.features.record_materialization(
        fs.project, "finances", fs.online_store.uri, 0, int((T0 + timedelta(days=9)).timestamp() * 1000), 1
    )
    assert fs.materialize_incremental(T0 + timedelta(days=10), progress=False) == {"finances": 1}
    assert fs.online_store.state(fs.project, "finances") == "ready"
    got = fs.get_online_features(["finances:income"], [{"applicant_id": 1}])
    assert got.to_dict()["income"] == [100.0]
    if online_url.startswith("redis://"):
        import redis

        assert not redis.Redis.from_url(online_url).exists(f"my:{fs.project}:finances:1")
    else:
        tables = sqlite3.connect(online_url).execute("SELECT name FROM sqlite_master").fetchall()
        assert ("online_features",) not in tables  # its last rows were rewritten: dropped
