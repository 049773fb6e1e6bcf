"""Definitions in YAML: the same repository as the Python one, and mistakes named by file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from modelyard.core.errors import ValidationError
from modelyard.features import FeatureStore, SparkSource

from .conftest import T0, write_data

YAML = textwrap.dedent(
    """
    entities:
      - {name: applicant, join_keys: [applicant_id]}
    feature_views:
      - name: finances
        entities: [applicant]
        ttl: 30d
        schema:
          - {name: income, dtype: Float64}
          - {name: debt_ratio, dtype: Float64}
          - {name: segment, dtype: String}
        source: {path: data/finances.parquet, timestamp_field: event_time, created_timestamp_column: created}
        owner: risk-team
      - name: bureau
        entities: [applicant]
        ttl: 90d
        schema:
          - {name: open_loans, dtype: Int64}
          - {name: income, dtype: Float64}
        source: {path: data/bureau.parquet, timestamp_field: event_time}
    feature_services:
      - {name: credit_v1, features: ["finances:income", "finances:debt_ratio", "bureau:open_loans"]}
    """
)


def test_a_yaml_repository_gives_the_same_training_set(repo: Path, tmp_path: Path) -> None:
    yaml_repo = tmp_path / "yaml_repo"
    yaml_repo.mkdir()
    (yaml_repo / "definitions.yaml").write_text(YAML)
    write_data(yaml_repo)
    entity = pd.DataFrame({"applicant_id": [1, 2, 3], "event_timestamp": [T0 + pd.Timedelta(days=12)] * 3})
    results = []
    for folder in (repo, yaml_repo):
        store = FeatureStore(repo_path=folder, tracking_uri=str(tmp_path / f"store-{folder.name}"))
        store.apply()
        service = store.get_feature_service("credit_v1")
        results.append(store.get_historical_features(entity, service).to_df())
    pd.testing.assert_frame_equal(results[0], results[1])
    assert FeatureStore(repo_path=yaml_repo, tracking_uri=str(tmp_path / "store-yaml_repo")).get_feature_view("finances").owner == "risk-team"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("owner: risk-team", "colour: red"), r"definitions.yaml:\d+: feature view 'finances': unknown key 'colour'"),
        (("entities: [applicant]\n    ttl: 30d", "entities: [lender]\n    ttl: 30d"), r"definitions.yaml:\d+: .*entity 'lender' is not defined"),
        (("{name: segment, dtype: String}", "{name: segment, dtype: Text}"), r"definitions.yaml:11: .*dtype 'Text'"),
        (("ttl: 30d", "ttl: a month"), r"definitions.yaml:7: ttl 'a month'"),
        (('"bureau:open_loans"', '"loans:open_loans"'), r"definitions.yaml:\d+: .*feature view 'loans' is not defined"),
        (("entities:\n  - {name", "entities:\n  - {name: [x"), r"definitions.yaml:\d+: not valid YAML"),
    ],
)
def test_yaml_mistakes_name_file_and_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    text = YAML.replace(*change)
    assert text != YAML
    (folder / "definitions.yaml").write_text(text)
    with pytest.raises(ValidationError, match=message):
        FeatureStore(repo_path=folder, tracking_uri=str(tmp_path / "s")).apply()


def test_python_mistakes_name_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "definitions.py").write_text("from modelyard.features import Entity\n\napplicant = Entity(name='applicant')\nbroken = Entity(nme='x')\n")
    with pytest.raises(ValidationError, match=r"definitions.py:4 failed to load: TypeError"):
        FeatureStore(repo_path=folder, tracking_uri=str(tmp_path / "s")).apply()


SPARK_VIEW = textwrap.dedent(
    """
    entities:
      - {name: applicant, join_keys: [applicant_id]}
    feature_views:
      - name: lake_finances
        entities: [applicant]
        schema: [{name: income, dtype: Float64}]
        source: {table: lake.finances, timestamp_field: event_time, created_timestamp_column: created}
    """
)


def test_a_yaml_source_may_be_a_spark_table(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "definitions.yaml").write_text(SPARK_VIEW)
    view = FeatureStore(repo_path=folder, tracking_uri=str(tmp_path / "s")).get_feature_view("lake_finances")
    assert view.source == SparkSource(table="lake.finances", timestamp_field="event_time", created_timestamp_column="created")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{table: lake.finances,", "{table: lake.finances, path: data/f.parquet,"), r"definitions.yaml:8: .*source: give 'path' \(a file\) or 'table' \(a Spark table\), not both"),
        (("{table: lake.finances,", "{"), r"definitions.yaml:8: .*source needs 'path' \(a Parquet or CSV file\) or 'table' \(a Spark table\)"),
        (("{table: lake.finances,", "{table: lake.finances, file_format: csv,"), r"definitions.yaml:8: .*source \(a Spark table\): unknown key 'file_format'"),
        (("{table: lake.finances,", "{table: '  ',"), r"definitions.yaml:8: .*source: table must name a Spark table"),
        (("{table: lake.finances,", "{table: [a],"), r"definitions.yaml:8: .*source: table must name a Spark table.*got \['a'\]"),
        (("timestamp_field: event_time, ", ""), r"definitions.yaml:8: .*source needs 'timestamp_field'"),
    ],
)
def test_yaml_spark_table_mistakes_name_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    text = SPARK_VIEW.replace(*change)
    assert text != SPARK_VIEW
    (folder / "definitions.yaml").write_text(text)
    with pytest.raises(ValidationError, match=message):
        FeatureStore(repo_path=folder, tracking_uri=str(tmp_path / "s")).list_feature_views()
