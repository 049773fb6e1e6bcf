"""The feature store: apply, point-in-time training sets, materialization, online lookups."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import modelyard as my
from modelyard.features import FeatureStore

from .conftest import T0


@pytest.fixture
def store(repo: Path, fluent: str) -> FeatureStore:
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    return fs


def entities(*rows: tuple[int, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "applicant_id": [r[0] for r in rows],
            "event_timestamp": [T0 + timedelta(days=d) for _, d in rows],
        }
    )


def test_apply_records_definitions_and_plans_changes(repo: Path, fluent: str) -> None:
    fs = FeatureStore(repo_path=repo)
    first = fs.plan()
    assert sorted(first.added) == [
        "Entity applicant",
        "FeatureService credit_v1",
        "FeatureView bureau",
        "FeatureView finances",
    ]
    fs.apply()
    assert FeatureStore(repo_path=repo).plan().empty
    text = (repo / "definitions.py").read_text().replace('owner="risk-team"', 'owner="credit-team"')
    (repo / "definitions.py").write_text(text)
    assert FeatureStore(repo_path=repo).plan().changed == ["FeatureView finances"]


def test_point_in_time_join(store: FeatureStore) -> None:
    frame = store.get_historical_features(
        entities((1, 5), (1, 12), (2, 1), (2, 40), (3, -1), (9, 3)),
        ["finances:income", "finances:debt_ratio", "bureau:open_loans"],
    ).to_df()
    assert list(frame.columns) == [
        "applicant_id",
        "event_timestamp",
        "income",
        "debt_ratio",
        "open_loans",
    ]
    assert len(frame) == 6  # entity rows without features are kept, with nulls
    income = frame["income"].tolist()
    assert income[0] == 1000.0  # day 5 sees the day-0 row
    assert income[1] == 2500.0  # day 12 sees day 10, the re-written (later created) version
    assert income[2] == 300.0
    assert pd.isna(income[3])  # day 40: the day-5 row is older than the 30-day TTL
    assert pd.isna(income[4])  # before any row
    assert pd.isna(income[5])  # unknown applicant
    assert frame["open_loans"].tolist()[:2] == [3, 3]
    assert pd.isna(frame["open_loans"][2])  # applicant 2's bureau row is dated day 2, after day 1


def test_feature_service_and_qualified_names(store: FeatureStore) -> None:
    frame = store.get_historical_features(
        entities((1, 5)), store.get_feature_service("credit_v1")
    ).to_df()
    assert list(frame.columns)[2:] == ["income", "debt_ratio", "open_loans"]
    with pytest.raises(
        my.ValidationError,
        match="'income' is requested from both 'finances' and 'bureau'.*full_feature_names=True",
    ):
        store.get_historical_features(entities((1, 5)), ["finances:income", "bureau:income"])
    both = store.get_historical_features(
        entities((1, 5)), ["finances:income", "bureau:income"], full_feature_names=True
    ).to_df()
    assert both[["finances__income", "bureau__income"]].iloc[0].tolist() == [1000.0, 999.0]


def test_training_set_is_a_dataset_input_of_the_run(store: FeatureStore, tmp_path: Path) -> None:
    with my.start_run() as run:
        store.get_historical_features(
            entities((1, 5), (2, 6)), store.get_feature_service("credit_v1")
        ).to_df()
    (recorded,) = my.get_run(run.info.run_id).inputs
    assert recorded.name == "credit_v1" and recorded.num_rows == 2 and "income" in recorded.schema
    path = store.get_historical_features(entities((1, 5)), ["finances:income"]).to_parquet(
        tmp_path / "out" / "train.parquet"
    )
    assert pd.read_parquet(path)["income"].tolist() == [1000.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"event_timestamp": [T0]}), "entity_df lacks column.*'applicant_id'"),
        (pd.DataFrame({"applicant_id": [1]}), "entity_df lacks column.*'event_timestamp'"),
        (
            pd.DataFrame(
                {
                    "applicant_id": [1, 2],
                    "event_timestamp": pd.Series([T0, T0.replace(tzinfo=None)], dtype=object),
                }
            ),
            "mixes timezone-aware and naive timestamps",
        ),
    ],
)
def test_bad_entity_frames(store: FeatureStore, frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(my.ValidationError, match=message):
        store.get_historical_features(frame, ["finances:income"]).to_df()


def test_references_to_nothing_suggest_names(store: FeatureStore) -> None:
    with pytest.raises(
        my.NotFoundError, match="'finances:incom' names nothing; did you mean 'finances:income'"
    ):
        store.get_historical_features(entities((1, 5)), ["finances:incom"])
    with pytest.raises(
        my.NotFoundError, match="no feature view 'finance'; did you mean 'finances'"
    ):
        store.get_historical_features(entities((1, 5)), ["finance:income"])
    with pytest.raises(my.ValidationError, match="is not of the form 'view:feature'"):
        store.get_historical_features(entities((1, 5)), ["income"])


def test_a_source_whose_column_changed_type(store: FeatureStore, repo: Path) -> None:
    data = pd.read_parquet(repo / "data" / "finances.parquet")
    data["income"] = data["income"].astype(str)
    data.to_parquet(repo / "data" / "finances.parquet")
    with pytest.raises(
        my.ValidationError,
        match="source column 'income' of feature view 'finances' is VARCHAR now, but the view declares float64",
    ):
        store.get_historical_features(entities((1, 5)), ["finances:income"])


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_materialize_and_serve_online(
    backend: str, repo: Path, fluent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    if backend == "redis":
        url = os.environ.get("MODELYARD_TEST_REDIS_URL")
        if not url:
            if os.environ.get("MODELYARD_REQUIRE_SERVICES"):
                pytest.fail(
                    "MODELYARD_TEST_REDIS_URL must be set when MODELYARD_REQUIRE_SERVICES=1"
                )
            pytest.skip("Redis tests need MODELYARD_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
        online = url
    else:
        online = str(tmp_path / "online.db")
    fs = FeatureStore(repo_path=repo, project=f"p{uuid.uuid4().hex[:8]}", online_store=online)
    fs.apply()
    counts = fs.materialize(T0 - timedelta(days=5), T0 + timedelta(days=20), progress=False)
    assert counts == {"finances": 3, "bureau": 2}
    assert (
        fs.materialize(T0 - timedelta(days=5), T0 + timedelta(days=20), progress=False) == counts
    )  # idempotent
    response = fs.get_online_features(
        ["finances:income", "finances:segment", "bureau:open_loans"],
        [{"applicant_id": 1}, {"applicant_id": 7}],
    )
    values = response.to_dict()
    assert values["applicant_id"] == [1, 7]
    # the data is from January 2026 and the TTL is 30 days: by now it is stale, and flagged
    assert values["income"] == [None, None]
    assert (
        response.statuses[0]["income"] == "OUTSIDE_TTL"
        and response.statuses[1]["income"] == "NOT_FOUND"
    )
    fresh = FeatureStore(repo_path=repo, project=fs.project, online_store=online)
    fresh._definitions = [d if d.name != "finances" else _without_ttl(d) for d in fresh._loaded()]  # type: ignore[union-attr]
    served = fresh.get_online_features(
        ["finances:income", "finances:segment"], [{"applicant_id": 1}, {"applicant_id": 2}]
    )
    assert served.to_dict()["income"] == [2500.0, 400.0] and served.to_dict()["segment"] == [
        "b",
        "c",
    ]
    assert served.statuses[0]["income"] == "PRESENT"


def _without_ttl(view):  # type: ignore[no-untyped-def]
    from modelyard.features import FeatureView

    return FeatureView(
        name=view.name,
        entities=list(view.entities),
        schema=list(view.schema),
        source=view.source,
        ttl=None,
    )


def test_incremental_materialization_resumes_from_the_watermark(
    repo: Path, fluent: str, tmp_path: Path
) -> None:
    fs = FeatureStore(repo_path=repo, online_store=str(tmp_path / "online.db"))
    fs.apply()
    first = fs.materialize_incremental(T0 + timedelta(days=1), progress=False)
    assert first["finances"] == 3  # applicants 1, 2 and 3 at day 0
    second = fs.materialize_incremental(T0 + timedelta(days=20), progress=False)
    assert second["finances"] == 2  # only the rows after the watermark: day 5 and day 10
    assert fs.materialize_incremental(T0 + timedelta(days=20), progress=False)["finances"] == 0


def _with_expectations(repo: Path, expectations: str, warn_only: bool = False) -> None:
    text = (repo / "definitions.py").read_text()
    text = text.replace(
        "from modelyard.features import Entity,",
        "from modelyard.features import AllowedValues, InRange, NotNull, RowCount, UniqueKeys, Entity,",
    )
    text = text.replace(
        'owner="risk-team",',
        f'owner="risk-team", expectations=[{expectations}], warn_only={warn_only},',
    )
    (repo / "definitions.py").write_text(text)


def test_quality_failures_stop_materialization_and_name_the_rule(
    repo: Path, fluent: str, tmp_path: Path
) -> None:
    _with_expectations(
        repo,
        'InRange("debt_ratio", min=0, max=0.8), AllowedValues("segment", ["a", "b", "c"]), NotNull("income")',
    )
    fs = FeatureStore(repo_path=repo, online_store=str(tmp_path / "online.db"))
    fs.apply()
    with pytest.raises(
        my.DataQualityError,
        match=r"debt_ratio: in range \[0, 0.8\] fails on 16.7%.*segment: one of \['a', 'b', 'c'\] fails on 16.7%.*Nothing was written",
    ) as failed:
        fs.materialize(T0 - timedelta(days=5), T0 + timedelta(days=20), progress=False)
    assert [(f.column, round(f.failing_share, 3)) for f in failed.value.failures] == [
        ("debt_ratio", 0.167),
        ("segment", 0.167),
    ]  # type: ignore[attr-defined]
    assert fs.online_store.state(fs.project, "finances") == "empty"  # nothing was written
    with pytest.raises(my.DataQualityError, match="training set .*debt_ratio"):
        fs.get_historical_features(entities((3, 1)), ["finances:debt_ratio"]).to_df()
    assert not (tmp_path / "t.parquet").exists()
    with pytest.raises(my.DataQualityError):
        fs.get_historical_features(entities((3, 1)), ["finances:debt_ratio"]).to_parquet(
            tmp_path / "t.parquet"
        )
    assert not (tmp_path / "t.parquet").exists() and not list(tmp_path.glob(".t.parquet*"))


def test_warn_only_views_write_and_warn(repo: Path, fluent: str, tmp_path: Path) -> None:
    _with_expectations(repo, "UniqueKeys(), RowCount(min=100)", warn_only=True)
    fs = FeatureStore(repo_path=repo, online_store=str(tmp_path / "online.db"))
    with pytest.warns(
        UserWarning, match=r"row count in \[100, None\] fails on 100.0%.*warn_only: written anyway"
    ):
        counts = fs.materialize(
            T0 - timedelta(days=5), T0 + timedelta(days=20), ["finances"], progress=False
        )
    assert counts == {"finances": 3}


def test_an_expectation_on_an_unknown_column(repo: Path, fluent: str) -> None:
    _with_expectations(repo, 'NotNull("incom")')
    with pytest.raises(
        my.ValidationError, match="expectation NotNull names column 'incom'; did you mean 'income'"
    ):
        FeatureStore(repo_path=repo).plan()


ON_DEMAND = """

import pandas as pd
from modelyard.features import RequestSource, on_demand_feature_view

application = RequestSource(name="application", schema=[Field(name="loan_amount", dtype=Float64)])


@on_demand_feature_view(sources=[finances, application], schema=[Field(name="loan_to_income", dtype=Float64)])
def affordability(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"loan_to_income": inputs["loan_amount"] / inputs["income"]})
"""


def test_on_demand_features_offline_and_online(repo: Path, fluent: str, tmp_path: Path) -> None:
    (repo / "definitions.py").write_text((repo / "definitions.py").read_text() + ON_DEMAND)
    fs = FeatureStore(repo_path=repo, online_store=str(tmp_path / "online.db"))
    fs.apply()
    frame = entities((1, 5), (2, 6)).assign(loan_amount=[500.0, 150.0])
    train = fs.get_historical_features(
        frame, ["finances:debt_ratio", "affordability:loan_to_income"]
    ).to_df()
    assert list(train.columns) == [
        "applicant_id",
        "event_timestamp",
        "loan_amount",
        "debt_ratio",
        "loan_to_income",
    ]
    assert train["loan_to_income"].tolist() == [0.5, 0.375]  # 500 / 1000 and 150 / 400 (day 5 row)
    with pytest.raises(my.ValidationError, match="needs the request value \\['loan_amount'\\]"):
        fs.get_historical_features(entities((1, 5)), ["affordability:loan_to_income"]).to_df()
    fs.materialize(T0 - timedelta(days=5), T0 + timedelta(days=20), progress=False)
    fresh = FeatureStore(
        repo_path=repo, project=fs.project, online_store=str(tmp_path / "online.db")
    )
    fresh._definitions = [_without_ttl(d) if d.name == "finances" else d for d in fresh._loaded()]  # type: ignore[union-attr]
    # the on-demand view refers to the original object; rebuild it over the TTL-free view
    odfv = next(d for d in fresh._definitions if d.name == "affordability")
    from modelyard.features import OnDemandFeatureView

    view = next(d for d in fresh._definitions if d.name == "finances")
    fresh._definitions = [d for d in fresh._definitions if d.name != "affordability"] + [
        OnDemandFeatureView(
            name=odfv.name, sources=(view, odfv.sources[1]), schema=odfv.schema, udf=odfv.udf
        )
    ]
    online = fresh.get_online_features(
        ["affordability:loan_to_income", "finances:segment"],
        [{"applicant_id": 1, "loan_amount": 1250.0}],
    )
    assert online.to_dict()["loan_to_income"] == [0.5]  # 1250 / 2500
    assert online.to_dict()["segment"] == ["b"] and online.statuses[0]["segment"] == "PRESENT"


def test_online_plans_are_cached_until_the_definitions_change(
    repo: Path, fluent: str, tmp_path: Path
) -> None:
    online = str(tmp_path / "online.db")
    fs = FeatureStore(repo_path=repo, online_store=online)
    fs.apply()
    fs.materialize(T0 - timedelta(days=5), T0 + timedelta(days=20), progress=False)
    refs = ["finances:income", "bureau:open_loans"]
    first = fs.get_online_features(refs, [{"applicant_id": 1}])
    again = fs.get_online_features(list(refs), [{"applicant_id": 1}])
    assert again == first and first.statuses[0]["income"] == "OUTSIDE_TTL"  # January 2026 data
    service = fs.get_feature_service("credit_v1")
    assert fs.get_online_features(service, [{"applicant_id": 2}]).rows[0]["applicant_id"] == 2
    qualified = fs.get_online_features(refs, [{"applicant_id": 1}], full_feature_names=True)
    assert "finances__income" in qualified.rows[0]
    # re-applied without a TTL: the cached plan must not keep the old TTL
    fs.apply([_without_ttl(fs.get_feature_view("finances"))])
    fresh = fs.get_online_features(refs, [{"applicant_id": 1}])
    assert fresh.rows[0]["income"] == 2500.0 and fresh.statuses[0]["income"] == "PRESENT"
    with pytest.raises(LookupError, match="nothing"):
        fs.get_online_features(["finances:nope"], [{"applicant_id": 1}])
