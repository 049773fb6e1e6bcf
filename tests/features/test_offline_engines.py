"""Choosing the offline engine (``feature_store.yaml``), and the Spark engine giving DuckDB's
answers to the same training set, time zones included, as pandas, Arrow and a Spark DataFrame."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import modelyard as my
from modelyard.features import FeatureStore

from .conftest import T0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "offline_engine: sparkk\n",
            r"feature_store.yaml: offline_engine: Input should be 'duckdb' or 'spark'",
        ),
        (
            "offline_engine: spark\nspark: {mastr: local}\n",
            r"feature_store.yaml: spark.mastr: Extra inputs",
        ),
        (
            "offline_engine: spark\nspark: {master: ''}\n",
            r"feature_store.yaml: spark.master: String should have at least 1",
        ),
        (
            "offline_engine: spark\nspark: {conf: [a]}\n",
            r"feature_store.yaml: spark.conf: Input should be a valid dictionary",
        ),
        ("- offline_engine\n", r"feature_store.yaml: expected a mapping"),
        ("offline_engine: [\n", r"feature_store.yaml line \d+: not valid YAML"),
    ],
)
def test_bad_settings_name_the_file_and_the_field(repo: Path, text: str, message: str) -> None:
    (repo / "feature_store.yaml").write_text(text)
    with pytest.raises(my.ValidationError, match=message):
        FeatureStore(repo_path=repo)


def test_settings_read_from_the_repository(repo: Path) -> None:
    assert FeatureStore(repo_path=repo).settings.offline_engine == "duckdb"  # no file: DuckDB
    (repo / "feature_store.yaml").write_text(
        "project: credit\nprovider: local\n"  # a Feast file's keys stay where they are
        "offline_engine: spark\nspark:\n  master: local[2]\n  conf: {spark.sql.shuffle.partitions: 4, spark.sql.ansi.enabled: true}\n"
    )
    settings = FeatureStore(repo_path=repo).settings
    assert settings.offline_engine == "spark" and settings.spark.master == "local[2]"
    assert settings.spark.conf == {
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.ansi.enabled": "true",
    }
    assert FeatureStore(repo_path=repo, offline_engine="duckdb").settings.offline_engine == "duckdb"
    with pytest.raises(
        my.ValidationError,
        match=r"FeatureStore\(offline_engine=\.\.\.\): offline_engine: Input should be 'duckdb' or 'spark'",
    ):
        FeatureStore(repo_path=repo, offline_engine="ray")  # type: ignore[arg-type]


def test_spark_gives_duckdb_answers_in_any_time_zone(
    repo: Path, spark_session: Any, tmp_path: Path
) -> None:
    (repo / "feature_store.yaml").write_text("offline_engine: spark\nspark: {master: 'local[2]'}\n")
    spark = FeatureStore(repo_path=repo, tracking_uri=str(tmp_path / "meta"))
    spark.apply()
    duck = FeatureStore(
        repo_path=repo, tracking_uri=str(tmp_path / "meta"), offline_engine="duckdb"
    )
    paris = [
        pd.Timestamp(T0 + timedelta(days=d, hours=h)).tz_convert("Europe/Paris")
        for d, h in ((5, 0), (10, -1), (10, 0), (40, 0), (-1, 0), (3, 0), (12, 0))
    ]
    rows = pd.DataFrame(
        {"applicant_id": [1, 1, 1, 2, 3, 9, 1], "event_timestamp": pd.Series(paris), "n": range(7)}
    )
    refs = ["finances:income", "finances:segment", "bureau:open_loans"]
    expected = duck.get_historical_features(rows, refs).to_df()
    job = spark.get_historical_features(rows, refs)
    frame = job.to_df()
    pd.testing.assert_frame_equal(frame, expected)
    # 01:00 Paris on day 10 is midnight UTC, the re-written row's time: it is seen
    assert frame["income"].tolist()[:3] == [1000.0, 1000.0, 2500.0]
    assert frame["event_timestamp"].iloc[0] == paris[0]
    assert job.to_arrow().equals(duck.get_historical_features(rows, refs).to_arrow())
    written = pd.read_parquet(job.to_parquet(tmp_path / "train.parquet"))
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    lazy = job.to_spark_df()  # Spark's own DataFrame, ordered like the entity frame
    assert lazy.columns == list(expected.columns)
    assert [r["n"] for r in lazy.select("n").collect()] == list(range(7))
    converted = duck.get_historical_features(rows, refs).to_spark_df(spark_session)
    assert converted.count() == 7 and converted.columns == list(expected.columns)


SPARK_TABLE_VIEW = """

from modelyard.features import SparkSource

lake_finances = FeatureView(
    name="lake_finances",
    entities=[applicant],
    ttl=timedelta(days=30),
    schema=[Field(name="income", dtype=Float64), Field(name="segment", dtype=String)],
    source=SparkSource(table="finances_lake", timestamp_field="event_time", created_timestamp_column="created"),
)
"""


def test_a_spark_table_source_gives_what_its_files_give(
    repo: Path, spark_session: Any, tmp_path: Path
) -> None:
    spark_session.read.parquet(str(repo / "data" / "finances.parquet")).createOrReplaceTempView(
        "finances_lake"
    )
    (repo / "definitions.py").write_text((repo / "definitions.py").read_text() + SPARK_TABLE_VIEW)
    meta = str(tmp_path / "meta")
    rows = pd.DataFrame(
        {
            "applicant_id": [1, 1, 2, 3, 9],
            "event_timestamp": [T0 + timedelta(days=d) for d in (5, 12, 40, -1, 3)],
        }
    )
    duck = FeatureStore(repo_path=repo, tracking_uri=meta)
    duck.apply()  # checked through Spark: a DuckDB repository may materialize it
    with pytest.raises(
        my.ValidationError, match=r"read by the Spark engine only: set offline_engine: spark"
    ):
        duck.get_historical_features(rows, ["lake_finances:income"])
    store = FeatureStore(repo_path=repo, tracking_uri=meta, offline_engine="spark")
    store.apply()
    from_table = store.get_historical_features(
        rows, ["lake_finances:income", "lake_finances:segment"]
    )
    from_files = store.get_historical_features(rows, ["finances:income", "finances:segment"])
    pd.testing.assert_frame_equal(from_table.to_df(), from_files.to_df())
    spark_session.catalog.dropTempView("finances_lake")
    with pytest.raises(
        my.ValidationError, match=r"lake_finances.*<Spark table finances_lake>.*cannot be read"
    ):
        store.get_historical_features(rows, ["lake_finances:income"])
