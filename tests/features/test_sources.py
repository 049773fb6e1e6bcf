"""Sources besides files: a DataFrame, a DuckDB query and a PostgreSQL query give the same
training set and online values as the Parquet file they were made from."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelyard.core.errors import ValidationError
from modelyard.features import (
    DataFrameSource,
    DuckDBSource,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    Float64,
    PostgreSQLSource,
    String,
)

from ..conftest import postgres_base_url
from .conftest import T0, write_data

ENTITY = Entity(name="applicant", join_keys=["applicant_id"])
SCHEMA = [Field(name="income", dtype=Float64), Field(name="debt_ratio", dtype=Float64), Field(name="segment", dtype=String)]


def _store(tmp_path: Path, source: Any, tag: str) -> FeatureStore:
    view = FeatureView(name="finances", entities=[ENTITY], ttl=timedelta(days=30), schema=SCHEMA, source=source)
    store = FeatureStore(repo_path=tmp_path / "repo", tracking_uri=str(tmp_path / f"store-{tag}"), online_store=str(tmp_path / f"online-{tag}.db"))
    store.apply([ENTITY, view])
    return store


def _answers(store: FeatureStore) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    entity = pd.DataFrame({"applicant_id": [1, 2, 3, 1], "event_timestamp": [T0 + timedelta(days=d) for d in (12, 12, 1, 5)]})
    offline = store.get_historical_features(entity, ["finances:income", "finances:segment"]).to_df()
    store.materialize(T0 - timedelta(days=1), T0 + timedelta(days=20), progress=False)
    online = store.get_online_features(["finances:income", "finances:debt_ratio"], [{"applicant_id": 1}, {"applicant_id": 3}]).rows
    return offline, online


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    write_data(folder)
    return folder


def test_dataframe_and_duckdb_sources_match_the_file(repo: Path, tmp_path: Path) -> None:
    frame = pd.read_parquet(repo / "data" / "finances.parquet")
    expected = _answers(_store(tmp_path, FileSource(path="data/finances.parquet", timestamp_field="event_time", created_timestamp_column="created"), "file"))
    from_frame = _answers(_store(tmp_path, DataFrameSource(df=frame, timestamp_field="event_time", created_timestamp_column="created"), "df"))
    query = DuckDBSource(
        query="SELECT * FROM read_parquet('data/finances.parquet') WHERE applicant_id > 0",  # a path relative to the repo
        timestamp_field="event_time",
        created_timestamp_column="created",
    )
    from_query = _answers(_store(tmp_path, query, "duckdb"))
    for got in (from_frame, from_query):
        pd.testing.assert_frame_equal(got[0], expected[0])
        assert got[1] == expected[1]
    with pytest.raises(ValidationError, match="timestamp_field 'when' is not a column"):
        DataFrameSource(df=frame, timestamp_field="when")
    with pytest.raises(ValidationError, match="must be a SELECT"):
        DuckDBSource(query="DROP TABLE x", timestamp_field="t")
    with pytest.raises(ValidationError, match="source must be a FileSource"):
        FeatureView(name="v", entities=[ENTITY], schema=SCHEMA, source="data/finances.parquet")  # type: ignore[arg-type]


def test_postgresql_source_matches_the_file(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy

    base = postgres_base_url()
    table = f"finances_{uuid.uuid4().hex[:8]}"
    engine = sqlalchemy.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    frame = pd.read_parquet(repo / "data" / "finances.parquet")
    frame.to_sql(table, engine, index=False)
    try:
        monkeypatch.setenv("CREDIT_DB", base)
        source = PostgreSQLSource(query=f"SELECT * FROM {table}", dsn="CREDIT_DB", timestamp_field="event_time", created_timestamp_column="created")
        expected = _answers(_store(tmp_path, FileSource(path="data/finances.parquet", timestamp_field="event_time", created_timestamp_column="created"), "file"))
        got = _answers(_store(tmp_path, source, "pg"))
        pd.testing.assert_frame_equal(got[0], expected[0])
        assert got[1] == expected[1]
        with pytest.raises(ValidationError, match="query failed"):
            PostgreSQLSource(query="SELECT * FROM no_such_table_here", dsn="CREDIT_DB", timestamp_field="t").snapshot()
        with pytest.raises(ValidationError, match="neither a postgresql:// URL"):
            PostgreSQLSource(query="SELECT 1", dsn="UNSET_VARIABLE_X", timestamp_field="t").snapshot()
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
