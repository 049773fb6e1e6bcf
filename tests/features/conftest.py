"""A credit-scoring feature repository on generated data."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

T0 = datetime(2026, 1, 1, tzinfo=UTC)

REPO = textwrap.dedent(
    """
    from datetime import timedelta

    from modelyard.features import Entity, FeatureService, FeatureView, Field, FileSource, Float64, Int64, String

    applicant = Entity(name="applicant", join_keys=["applicant_id"])

    finances = FeatureView(
        name="finances",
        entities=[applicant],
        ttl=timedelta(days=30),
        schema=[Field(name="income", dtype=Float64), Field(name="debt_ratio", dtype=Float64), Field(name="segment", dtype=String)],
        source=FileSource(path="data/finances.parquet", timestamp_field="event_time", created_timestamp_column="created"),
        owner="risk-team",
    )

    bureau = FeatureView(
        name="bureau",
        entities=[applicant],
        ttl=timedelta(days=90),
        schema=[Field(name="open_loans", dtype=Int64), Field(name="income", dtype=Float64)],
        source=FileSource(path="data/bureau.parquet", timestamp_field="event_time"),
    )

    credit_v1 = FeatureService(name="credit_v1", features=[finances[["income", "debt_ratio"]], bureau[["open_loans"]]])
    """
)


def write_data(repo: Path) -> None:
    (repo / "data").mkdir(parents=True, exist_ok=True)
    finances = pd.DataFrame(
        {
            "applicant_id": [1, 1, 1, 2, 2, 3],
            "event_time": [
                T0,
                T0 + timedelta(days=10),
                T0 + timedelta(days=10),
                T0,
                T0 + timedelta(days=5),
                T0,
            ],
            "created": [
                T0,
                T0 + timedelta(days=10),
                T0 + timedelta(days=11),
                T0,
                T0 + timedelta(days=5),
                T0,
            ],
            "income": [1000.0, 2000.0, 2500.0, 300.0, 400.0, 50.0],
            "debt_ratio": [0.1, 0.2, 0.25, 0.5, 0.6, 0.9],
            "segment": ["a", "b", "b", "c", "c", "d"],
        }
    )
    finances.to_parquet(repo / "data" / "finances.parquet")
    bureau = pd.DataFrame(
        {
            "applicant_id": np.array([1, 2], dtype="int64"),
            "event_time": [T0 - timedelta(days=1), T0 + timedelta(days=2)],
            "open_loans": np.array([3, 1], dtype="int64"),
            "income": [999.0, 299.0],
        }
    )
    bureau.to_parquet(repo / "data" / "bureau.parquet")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "credit_repo"
    path.mkdir()
    (path / "definitions.py").write_text(REPO)
    write_data(path)
    return path


def redis_url() -> str:
    url = os.environ.get("MODELYARD_TEST_REDIS_URL")
    if not url:
        if os.environ.get("MODELYARD_REQUIRE_SERVICES"):
            pytest.fail("MODELYARD_TEST_REDIS_URL must be set when MODELYARD_REQUIRE_SERVICES=1")
        pytest.skip("Redis tests need MODELYARD_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
    return url


@pytest.fixture(params=["sqlite", "redis"])
def online_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An online store on each backend (Redis: keep project names unique per test)."""
    return str(tmp_path / "online.db") if request.param == "sqlite" else redis_url()


@pytest.fixture
def forget() -> Iterator[list[tuple[str, str]]]:
    """(online store, project) pairs whose Redis keys go after the test: Redis is shared."""
    made: list[tuple[str, str]] = []
    yield made
    for online, project in made:
        if not online.startswith("redis://"):
            continue
        import redis

        client = redis.Redis.from_url(online)
        for pattern in (f"my2:{{{len(project)}:{project}:*", f"my:{project}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            for i in range(0, len(keys), 1000):
                client.unlink(*keys[i : i + 1000])
        client.close()


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    """One local[2] Spark session per test module (the JVM starts once; a session is cheap)."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    saved = {k: os.environ.get(k) for k in ("SPARK_LOCAL_IP", "PYSPARK_PYTHON")}
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # loopback only
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("modelyard-feature-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    yield session
    session.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(params=["duckdb", "spark"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each offline engine in turn; both must give the same training sets."""
    if request.param == "spark":
        request.getfixturevalue("spark_session")
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The offline engine does not touch the metadata store: Spark runs on the SQLite store
    only, which keeps the JVM's share of the suite small."""
    dropped = [
        item
        for item in items
        if (params := getattr(getattr(item, "callspec", None), "params", {})).get("engine") == "spark"
        and params.get("store_url") == "postgresql"
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = {id(item) for item in dropped}
        items[:] = [item for item in items if id(item) not in gone]
