"""Training sets and source types: a point-in-time miss is a null, not a failed expectation;
a Float32 field over a DOUBLE column is read as FLOAT; a wrong type at the first apply says so."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from modelyard.features import FeatureStore

from .conftest import T0


def _expect(repo: Path, expectations: str) -> None:
    text = (repo / "definitions.py").read_text()
    text = text.replace(
        "from modelyard.features import Entity,",
        "from modelyard.features import InRange, NotNull, Entity,",
    )
    text = text.replace('owner="risk-team",', f'owner="risk-team", expectations=[{expectations}],')
    (repo / "definitions.py").write_text(text)


def _entities(*rows: tuple[int, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "applicant_id": [r[0] for r in rows],
            "event_timestamp": [T0 + timedelta(days=d) for _, d in rows],
        }
    )


def test_point_in_time_misses_are_nulls_with_a_warning(
    repo: Path, tmp_path: Path, engine: str
) -> None:
    _expect(repo, 'NotNull("income"), InRange("debt_ratio", min=0, max=1)')
    fs = FeatureStore(repo_path=repo, tracking_uri=str(tmp_path / "meta"), offline_engine=engine)
    fs.apply()
    # applicant 9 is unknown, applicant 3 asks before its first row, applicant 2 past the TTL
    rows = _entities((1, 5), (9, 3), (3, -1), (2, 40), (2, 6))
    with pytest.warns(
        UserWarning,
        match=r"training set: 3 of 5 entity rows \(60.0%\) found no row of feature view 'finances' "
        r"within its TTL at or before their timestamp \(point-in-time misses\); their 'income' is null",
    ):
        frame = fs.get_historical_features(rows, ["finances:income", "finances:debt_ratio"]).to_df()
    assert frame["income"].tolist()[0] == 1000.0 and frame["income"].tolist()[4] == 400.0
    assert frame["income"].isna().tolist() == [False, True, True, True, False]
    assert list(frame.columns) == ["applicant_id", "event_timestamp", "income", "debt_ratio"]
    with pytest.warns(UserWarning, match="point-in-time misses"):
        path = fs.get_historical_features(rows, ["finances:income"]).to_parquet(tmp_path / "t.parquet")
    written = pd.read_parquet(path)
    assert list(written.columns) == ["applicant_id", "event_timestamp", "income"]
    assert written["income"].isna().sum() == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no miss, no warning; a view without NotNull never warns
        fs.get_historical_features(_entities((1, 5)), ["finances:income"]).to_df()
        fs.get_historical_features(rows, ["bureau:open_loans"]).to_df()


def test_nulls_from_the_source_still_fail_not_null(repo: Path, tmp_path: Path) -> None:
    data = pd.read_parquet(repo / "data" / "finances.parquet")
    data.loc[4, "income"] = None  # applicant 2's day-5 row
    data.to_parquet(repo / "data" / "finances.parquet")
    _expect(repo, 'NotNull("income")')
    fs = FeatureStore(repo_path=repo, tracking_uri=str(tmp_path / "meta"))
    fs.apply()
    rows = _entities((1, 5), (2, 6), (9, 1))
    message = (
        r"training set \(feature view 'finances'\) breaks 1 expectation: income: not null fails on "
        r"50.0% \(1 of the 2 rows that found a source row hold a null from the source; the 1 "
        r"point-in-time/TTL misses are not counted\)\. Nothing was written"
    )
    with pytest.warns(UserWarning, match="point-in-time misses"), pytest.raises(my.DataQualityError, match=message):
        fs.get_historical_features(rows, ["finances:income"]).to_df()
    with pytest.warns(UserWarning), pytest.raises(my.DataQualityError, match=message):
        fs.get_historical_features(rows, ["finances:income"]).to_parquet(tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists() and not list(tmp_path.glob(".t.parquet*"))


FLOAT32 = """
from modelyard.features import Entity, FeatureView, Field, FileSource, Float32

item = Entity(name="item", join_keys=["item_id"])
prices = FeatureView(
    name="prices",
    entities=[item],
    schema=[Field(name="price", dtype=Float32)],
    source=FileSource(path="data/prices.parquet", timestamp_field="event_time"),
)
"""


def test_a_float32_field_over_a_double_column(tmp_path: Path, engine: str) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(FLOAT32)
    pd.DataFrame(
        {"item_id": [1, 2], "event_time": [T0, T0], "price": np.array([0.1, 1e300])}
    ).to_parquet(repo / "data" / "prices.parquet")
    fs = FeatureStore(
        repo_path=repo,
        tracking_uri=str(tmp_path / "meta"),
        online_store=str(tmp_path / "online.db"),
        offline_engine=engine,
    )
    assert fs.apply().added  # accepted at the first apply, as Feast does
    frame = fs.get_historical_features(
        pd.DataFrame({"item_id": [1, 2], "event_timestamp": [T0 + timedelta(days=1)] * 2}),
        ["prices:price"],
    ).to_df()
    assert frame["price"].dtype == np.float32
    assert frame["price"].iloc[0] == np.float32(0.1) and pd.isna(frame["price"].iloc[1])  # out of range
    fs.materialize(T0 - timedelta(days=1), T0 + timedelta(days=1), progress=False)
    online = fs.get_online_features(["prices:price"], [{"item_id": 1}, {"item_id": 2}])
    assert online.to_dict()["price"] == [float(np.float32(0.1)), None]  # what training saw


def test_a_wrong_type_at_the_first_apply_is_named_as_such(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(FLOAT32.replace("Float32", "String"))
    pd.DataFrame({"item_id": [1], "event_time": [T0], "price": [0.1]}).to_parquet(
        repo / "data" / "prices.parquet"
    )
    fs = FeatureStore(repo_path=repo, tracking_uri=str(tmp_path / "meta"))
    with pytest.raises(my.ValidationError) as refused:
        fs.apply()
    message = str(refused.value)
    assert message == (
        "source column 'price' of feature view 'prices' is DOUBLE, but the view declares string: "
        "declare Field(name='price', dtype=Float64), or cast the column in the source"
    )
