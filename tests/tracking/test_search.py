"""Search: the filter language compiled to SQL, ordering and pagination, on every backend."""

from __future__ import annotations

import pytest

import modelyard
from modelyard import Metric, Param, RunTag


@pytest.fixture
def populated(client: modelyard.Client) -> tuple[modelyard.Client, str]:
    experiment_id = client.create_experiment("search")
    for i in range(30):
        run = client.create_run(experiment_id, run_name=f"run-{i:02d}", start_time=1_000 + i)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("auc", 0.5 + i / 100 + step / 1000, 1, step) for step in range(3)]
            + ([Metric("loss", 1.0 - i / 100, 1, 0)] if i % 2 == 0 else []),
            params=[Param("model", ["gbm", "rf", "lr"][i % 3]), Param("lr", str(i / 100))],
            tags=[RunTag("team", "risk" if i < 10 else "fraud")],
        )
        if i % 5 == 0:
            client.set_terminated(run.info.run_id, "FAILED")
    return client, experiment_id


def names(runs: list[modelyard.Run]) -> list[str]:
    return [r.info.run_name for r in runs]


def test_metric_and_param_filter_with_order(populated: tuple[modelyard.Client, str]) -> None:
    client, exp = populated
    found = client.search_runs(
        [exp], "metrics.auc > 0.7 and params.model = 'gbm'", order_by=["metrics.auc DESC"]
    )
    # latest auc of run i is 0.5 + i/100 + 0.002
    assert names(found) == ["run-27", "run-24", "run-21"]


def test_order_ascending_by_param_and_default_newest_first(
    populated: tuple[modelyard.Client, str],
) -> None:
    client, exp = populated
    assert names(client.search_runs([exp], max_results=3)) == ["run-29", "run-28", "run-27"]
    assert names(client.search_runs([exp], "params.model = 'rf'", order_by=["params.lr ASC"]))[
        :5
    ] == ["run-01", "run-04", "run-07", "run-10", "run-13"]


def test_missing_metric_sorts_last_both_ways(populated: tuple[modelyard.Client, str]) -> None:
    client, exp = populated
    asc = client.search_runs([exp], order_by=["metrics.loss ASC"])
    desc = client.search_runs([exp], order_by=["metrics.loss DESC"])
    assert "loss" not in asc[-1].data.metrics and "loss" not in desc[-1].data.metrics
    assert asc[0].info.run_name == "run-28" and desc[0].info.run_name == "run-00"


def test_or_in_like_null_and_attributes(populated: tuple[modelyard.Client, str]) -> None:
    client, exp = populated
    assert len(client.search_runs([exp], "tags.team = 'risk' or params.model IN ('lr')")) == 10 + 7
    assert len(client.search_runs([exp], "metrics.loss IS NULL")) == 15
    assert len(client.search_runs([exp], "run_name LIKE 'run-1%'")) == 10
    assert len(client.search_runs([exp], "attributes.run_name ILIKE 'RUN-2%'")) == 10
    assert len(client.search_runs([exp], "status = 'FAILED'")) == 6
    assert len(client.search_runs([exp], "attributes.start_time >= 1020")) == 10
    assert len(client.search_runs([exp], "params.model NOT IN ('gbm', 'rf')")) == 10


def test_pagination_visits_every_run_once(populated: tuple[modelyard.Client, str]) -> None:
    client, exp = populated
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = client.search_runs(
            [exp], order_by=["metrics.auc ASC"], max_results=7, page_token=token
        )
        seen += names(page)
        pages += 1
        token = page.token
        if token is None:
            break
    assert pages == 5 and len(seen) == 30 and len(set(seen)) == 30


def test_bad_searches_are_clear(populated: tuple[modelyard.Client, str]) -> None:
    client, exp = populated
    with pytest.raises(modelyard.FilterSyntaxError, match="numeric; compare it with a number"):
        client.search_runs([exp], "metrics.auc > 'x'")
    with pytest.raises(modelyard.ValidationError, match="page_token 'garbage' is not a token"):
        client.search_runs([exp], page_token="garbage")
    with pytest.raises(modelyard.ValidationError, match="max_results=0"):
        client.search_runs([exp], max_results=0)
    with pytest.raises(modelyard.FilterSyntaxError, match="experiment ids are numbers"):
        client.search_runs([exp], "attributes.experiment_id = 'abc'")


def test_search_spans_experiments(populated: tuple[modelyard.Client, str]) -> None:
    client, exp = populated
    other = client.create_experiment("other")
    client.create_run(other, run_name="lonely")
    assert len(client.search_runs([exp, other])) == 31
    assert names(client.search_runs([other])) == ["lonely"]
