"""Materializing on Spark (``offline_engine: spark``, or a ``SparkSource``) writes the online
answers DuckDB writes: same window bounds, same winner per entity (ties on event time broken by
created time), same values, into SQLite and Redis, in full and incrementally.

One local[2] session for the module (``spark_session`` in conftest)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from modelyard.core.errors import DataQualityError
from modelyard.features import FeatureStore
from modelyard.features import _materialize_spark as spark_materialize
from modelyard.features._online_format import encode_batch

from .conftest import T0

REPO = textwrap.dedent(
    """
    from modelyard.features import Entity, FeatureView, Field, FileSource, Float32, Float64, Int64, String, UnixTimestamp

    account = Entity(name="account", join_keys=["account_id"])
    member = Entity(name="member", join_keys=["member"], dtype=String)

    balances = FeatureView(
        name="balances",
        entities=[account],
        schema=[
            Field(name="balance", dtype=Float64), Field(name="ratio", dtype=Float32),
            Field(name="n", dtype=Int64), Field(name="tier", dtype=String), Field(name="opened", dtype=UnixTimestamp),
        ],
        source=FileSource(path="data/balances.parquet", timestamp_field="event_time", created_timestamp_column="created"),
    )

    visits = FeatureView(
        name="visits",
        entities=[account, member],
        schema=[Field(name="visits", dtype=Int64), Field(name="spend", dtype=Float64)],
        source=FileSource(path="data/visits", timestamp_field="ts"),
    )
    """
)

START, END = T0, T0 + timedelta(days=10)
ACCOUNTS = 60


def _write_data(repo: Path) -> None:
    """Random histories, then the edge cases, each on its own account."""
    rng = np.random.default_rng(3)
    n = 600
    ids = rng.integers(10, 10 + ACCOUNTS, n).astype("float64")
    ids[:5] = np.nan  # rows without a key: never materialized
    times = [T0 + timedelta(minutes=int(m)) for m in rng.integers(-3 * 1440, 14 * 1440, n)]
    created = [
        t + timedelta(seconds=int(s)) for t, s in zip(times, rng.integers(0, 60, n), strict=True)
    ]
    frame = pd.DataFrame(
        {
            "account_id": pd.array(ids, dtype="Int64"),
            "event_time": times,
            "created": created,
            "balance": rng.normal(100, 30, n).round(2),
            "ratio": rng.random(n),
            "n": rng.integers(-(2**40), 2**40, n),
            "tier": rng.choice(["gold", "silver", "é€"], n),
            "opened": [
                T0 - timedelta(days=int(d), microseconds=int(d)) for d in rng.integers(0, 900, n)
            ],
        }
    )

    def row(
        account: int, at: datetime, made: datetime | None, balance: float, **extra: Any
    ) -> dict[str, Any]:
        return {
            "account_id": account,
            "event_time": at,
            "created": made,
            "balance": balance,
            "ratio": extra.get("ratio", 0.5),
            "n": 1,
            "tier": extra.get("tier", "edge"),
            "opened": T0,
        }

    at = T0 + timedelta(days=5)
    edges = pd.DataFrame(
        [
            row(1, at, at + timedelta(hours=2), 2.0),  # a re-write at the same event time wins
            row(1, at, at + timedelta(hours=1), 1.0),
            row(2, at, None, 1.0),  # a missing created time ranks lowest
            row(2, at, at, 2.0),
            row(3, END, END, 2.0),  # the window's end is included ...
            row(3, END + timedelta(milliseconds=1), END, 99.0),  # ... and nothing after it
            row(4, START - timedelta(milliseconds=1), START, 99.0),  # only before the window
            row(5, START, START, 2.0),  # the window's start is included
            row(5, START - timedelta(days=1), START, 99.0),
            row(6, at, at, float("nan"), ratio=1e300),  # NaN, and a Float32 out of range: nulls
        ]
    ).astype({"account_id": "Int64"})
    (repo / "data" / "visits").mkdir(parents=True)
    pd.concat([frame, edges], ignore_index=True).to_parquet(repo / "data" / "balances.parquet")
    for part in range(2):  # a folder of files, composite (integer, string) keys
        m = 200
        pd.DataFrame(
            {
                "account_id": rng.integers(10, 20, m),
                "member": rng.choice(["ann", "bo", "cy", "d'x"], m),
                # distinct times: without a created time, a tie would have no defined winner
                "ts": [
                    T0 + timedelta(minutes=int(h))
                    for h in rng.permutation(20 * 1440)[:m] - 2 * 1440
                ],
                "visits": rng.integers(0, 50, m),
                "spend": rng.normal(20, 5, m),
            }
        ).to_parquet(repo / "data" / "visits" / f"part-{part}.parquet")


@pytest.fixture
def data_repo(tmp_path: Path) -> Path:
    path = tmp_path / "bank_repo"
    path.mkdir()
    (path / "definitions.py").write_text(REPO)
    _write_data(path)
    return path


BALANCES = ["balances:balance", "balances:ratio", "balances:n", "balances:tier", "balances:opened"]
ACCOUNT_ROWS = [{"account_id": i} for i in range(0, 10 + ACCOUNTS)]
VISIT_ROWS = [
    {"account_id": a, "member": m} for a in range(10, 20) for m in ("ann", "bo", "cy", "d'x", "zed")
]


@pytest.fixture
def small_pieces(spark_session: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Several partitions, several Arrow batches each, several online batches: the rows of a
    few dozen entities travel as a big view's would."""
    conf = {
        "spark.sql.execution.arrow.maxRecordsPerBatch": "16",
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
    }
    saved = {key: spark_session.conf.get(key) for key in [*conf, "spark.sql.session.timeZone"]}
    for key, value in conf.items():
        spark_session.conf.set(key, value)
    monkeypatch.setattr(spark_materialize, "BATCH", 40)
    yield
    for key, value in saved.items():
        spark_session.conf.set(key, value)


def _answers(store: FeatureStore) -> tuple[Any, ...]:
    balances = store.get_online_features(BALANCES, ACCOUNT_ROWS)
    visits = store.get_online_features(["visits:visits", "visits:spend"], VISIT_ROWS)
    return balances.rows, balances.statuses, visits.rows, visits.statuses


def test_spark_materializes_what_duckdb_materializes(
    data_repo: Path,
    spark_session: Any,
    online_url: str,
    forget: list[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_pieces: None,
) -> None:
    # Spark's session in another zone: instants are compared as instants, stored times in UTC
    (data_repo / "feature_store.yaml").write_text(
        "spark: {conf: {spark.sql.session.timeZone: Asia/Kolkata}}\n"
    )
    tag = uuid.uuid4().hex[:8]
    stores = {}
    for engine in ("duckdb", "spark"):
        project = f"{engine}{tag}"
        forget.append((online_url, project))
        stores[engine] = FeatureStore(
            repo_path=data_repo,
            project=project,
            tracking_uri=str(tmp_path / "meta"),
            online_store=online_url,
            offline_engine=engine,  # type: ignore[arg-type]
        )
    counts = {
        engine: store.materialize(START, END, progress=engine == "spark")
        for engine, store in stores.items()
    }
    assert counts["spark"] == counts["duckdb"]
    duck, spark = (_answers(s) for s in (stores["duckdb"], stores["spark"]))
    assert spark == duck
    balances = {r["account_id"]: r for r in spark[0]}
    status = {r["account_id"]: s["balance"] for r, s in zip(spark[0], spark[1], strict=True)}
    assert [balances[i]["balance"] for i in (1, 2, 3, 5)] == [2.0, 2.0, 2.0, 2.0]
    assert status[4] == "NOT_FOUND" and status[0] == "NOT_FOUND"
    assert balances[6]["balance"] is None and balances[6]["ratio"] is None
    assert balances[6]["tier"] == "edge" and balances[6]["opened"] == T0.isoformat()
    assert sum(s == "PRESENT" for s in status.values()) == counts["spark"]["balances"]
    assert sum(s["visits"] == "PRESENT" for s in spark[3]) == counts["spark"]["visits"] > 0

    # an increment past the first window: account 3's later row now wins, on both engines
    later = END + timedelta(days=5)
    increments = {
        engine: store.materialize_incremental(later, ["balances"], progress=False)
        for engine, store in stores.items()
    }
    assert increments["spark"] == increments["duckdb"]
    duck, spark = (_answers(s) for s in (stores["duckdb"], stores["spark"]))
    assert spark == duck
    assert next(r for r in spark[0] if r["account_id"] == 3)["balance"] == 99.0

    # a run that fails after its first batch was written changes nothing readers see
    calls = []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("executor lost")
        return encode_batch(*args)

    monkeypatch.setattr(spark_materialize, "encode_batch", failing)
    with pytest.raises(RuntimeError, match="executor lost"):
        stores["spark"].materialize(START - timedelta(days=30), later, ["balances"], progress=False)
    assert len(calls) == 2 and _answers(stores["spark"]) == spark


SPARK_TABLE = textwrap.dedent(
    """
    entities:
      - {name: account, join_keys: [account_id]}
    feature_views:
      - name: lake_balances
        entities: [account]
        schema: [{name: balance, dtype: Float64}, {name: tier, dtype: String}]
        source: {table: balances_lake, timestamp_field: event_time, created_timestamp_column: created}
    """
)


def test_a_yaml_spark_table_materializes_on_a_duckdb_repository(
    data_repo: Path, spark_session: Any, tmp_path: Path
) -> None:
    spark_session.read.parquet(
        str(data_repo / "data" / "balances.parquet")
    ).createOrReplaceTempView("balances_lake")
    (data_repo / "lake.yaml").write_text(SPARK_TABLE)
    online = str(tmp_path / "online.db")
    store = FeatureStore(
        repo_path=data_repo, tracking_uri=str(tmp_path / "meta"), online_store=online
    )
    assert store.settings.offline_engine == "duckdb"
    counts = store.materialize(START, END, ["balances", "lake_balances"], progress=False)
    assert counts["lake_balances"] == counts["balances"]
    from_files = store.get_online_features(["balances:balance", "balances:tier"], ACCOUNT_ROWS)
    from_table = store.get_online_features(
        ["lake_balances:balance", "lake_balances:tier"], ACCOUNT_ROWS
    )
    assert from_table.rows == from_files.rows and from_table.statuses == from_files.statuses
    spark_session.catalog.dropTempView("balances_lake")
    with pytest.raises(
        my.ValidationError, match=r"lake_balances.*<Spark table balances_lake>.*cannot be read"
    ):
        store.materialize(START, END, ["lake_balances"], progress=False)


def test_expectations_give_duckdb_verdicts_and_stop_the_write(
    data_repo: Path, spark_session: Any, tmp_path: Path
) -> None:
    from modelyard.features import AllowedValues, Freshness, InRange, NotNull, RowCount, UniqueKeys

    # max_share -1: every rule reports its share, so the two engines' shares are compared exactly
    rules = [
        NotNull("balance", max_share=-1),
        InRange("balance", min=0, max=150, max_share=-1),
        AllowedValues("tier", ["gold", "silver", "edge"], max_share=-1),
        UniqueKeys(max_share=-1),
        Freshness(max_age=timedelta(hours=1), max_share=-1),
        RowCount(min=10, max=20, max_share=-1),
    ]
    text = (
        (data_repo / "definitions.py")
        .read_text()
        .replace(
            'created_timestamp_column="created"),',
            'created_timestamp_column="created"),\n        expectations=EXPECT,',
        )
    )
    (data_repo / "definitions.py").write_text(
        "import datetime\n"
        "from modelyard.features import AllowedValues, Freshness, InRange, NotNull, RowCount, UniqueKeys\n"
        f"EXPECT = {rules!r}\n" + text
    )
    failures = {}
    for engine in ("duckdb", "spark"):
        store = FeatureStore(
            repo_path=data_repo,
            tracking_uri=str(tmp_path / "meta"),
            online_store=str(tmp_path / f"{engine}.db"),
            offline_engine=engine,  # type: ignore[arg-type]
        )
        with pytest.raises(
            DataQualityError, match=r"breaks 6 expectations.*Nothing was written"
        ) as caught:
            store.materialize(START, END, ["balances"], progress=False)
        failures[engine] = caught.value.failures
        assert store.online_store.state(store.project, "balances") == "empty"
    assert failures["spark"] == failures["duckdb"]
    shares = {f.rule: f.failing_share for f in failures["spark"]}
    assert 0 < shares["in range [0, 150]"] < 1 and shares["row count in [10, 20]"] == 1.0
    assert shares["unique keys"] == 0.0 and shares["newest row within 1:00:00"] == 0.0
    assert shares["not null"] == 1 / 359  # the NaN balance, written by pandas as a null
