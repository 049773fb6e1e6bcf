"""Keyset pages of runs (SqlStore.page_runs) on SQLite and PostgreSQL: every order, missing
values last, ties broken by start time then id, no run lost or repeated across pages."""

from __future__ import annotations

import pytest

import modelyard
from modelyard.core.entities import Metric, Param, RunStatus
from modelyard.core.errors import ValidationError


def _runs(client: modelyard.Client, n: int = 23) -> tuple[str, list[dict[str, object]]]:
    experiment = client.create_experiment("pages")
    made = []
    for i in range(n):
        run = client.create_run(experiment, run_name=f"r{i:02d}", start_time=1_000_000 + (i // 3) * 10)
        metrics = [] if i % 5 == 0 else [Metric("auc", round((i * 37 % 11) / 10, 1), 0, 0)]  # ties and gaps
        client.log_batch(run.info.run_id, metrics=metrics, params=[Param("kind", "gbm" if i % 2 else "lr")])
        client.set_terminated(run.info.run_id, RunStatus.FINISHED)
        made.append({"id": run.info.run_id, "auc": None if i % 5 == 0 else (i * 37 % 11) / 10,
                     "start": 1_000_000 + (i // 3) * 10, "kind": "gbm" if i % 2 else "lr", "name": f"r{i:02d}"})
    return experiment, made


def _expected(made: list[dict[str, object]], key: str, ascending: bool) -> list[object]:
    present = [m for m in made if m[key] is not None]
    missing = [m for m in made if m[key] is None]
    tie = sorted(made, key=lambda m: (-int(m["start"]), m["id"]))  # type: ignore[call-overload]
    rank = {m["id"]: i for i, m in enumerate(tie)}
    present.sort(key=lambda m: rank[m["id"]])
    present.sort(key=lambda m: m[key], reverse=not ascending)  # type: ignore[arg-type,return-value]
    missing.sort(key=lambda m: rank[m["id"]])
    return [m["id"] for m in present + missing]


def _all_pages(client: modelyard.Client, experiment: str, order: str | None, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        page = client.store.page_runs([experiment], order_by=order, cursor=cursor, limit=limit)
        seen += [r.info.run_id for r in page.runs]
        assert page.total == 23
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize(
    ("order", "key", "ascending"),
    [("metrics.auc DESC", "auc", False), ("metrics.auc ASC", "auc", True), ("params.kind", "kind", True),
     ("run_name DESC", "name", False), (None, None, False)],
)
def test_keyset_pages_cover_every_run_once_in_order(client: modelyard.Client, order: str | None, key: str | None, ascending: bool) -> None:
    experiment, made = _runs(client)
    got = _all_pages(client, experiment, order, limit=4)
    assert len(got) == len(set(got)) == 23
    if key is None:
        tie = sorted(made, key=lambda m: (-int(m["start"]), m["id"]))  # type: ignore[call-overload]
        assert got == [m["id"] for m in tie]
    else:
        assert got == _expected(made, key, ascending)


def test_filter_and_page_together(client: modelyard.Client) -> None:
    experiment, made = _runs(client)
    page = client.store.page_runs([experiment], filter_string="params.kind = 'gbm' and metrics.auc >= 0.3",
                                  order_by="metrics.auc DESC", limit=100)
    wanted = {m["id"] for m in made if m["kind"] == "gbm" and m["auc"] is not None and m["auc"] >= 0.3}  # type: ignore[operator]
    assert {r.info.run_id for r in page.runs} == wanted and page.total == len(wanted)


def test_a_cursor_not_from_the_server_is_refused(client: modelyard.Client) -> None:
    experiment, _ = _runs(client, 3)
    with pytest.raises(ValidationError, match="cursor is not one this server returned"):
        client.store.page_runs([experiment], cursor="bm90LWEtY3Vyc29y", limit=2)
    with pytest.raises(ValidationError, match="limit"):
        client.store.page_runs([experiment], limit=0)
    with pytest.raises(ValidationError, match="order_by"):
        client.store.page_runs([experiment], order_by="metrics.auc sideways", limit=2)


def test_metric_series_are_columns_and_long_ones_come_as_min_max_buckets(client: modelyard.Client) -> None:
    experiment = client.create_experiment("series")
    run = client.create_run(experiment)
    client.log_batch(run.info.run_id, metrics=[Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(5000)])
    full = client.store.metric_series(run.info.run_id, "loss")
    assert full.steps == list(range(5000)) and full.timestamps[0] == 1000 and full.values[-1] == pytest.approx(1 / 5000)
    assert not full.downsampled and full.total == 5000
    small = client.store.metric_series(run.info.run_id, "loss", max_points=400)
    assert small.downsampled and small.total == 5000 and len(small.steps) <= 400
    assert small.steps == sorted(small.steps) and small.steps[0] == 0 and small.steps[-1] == 4999
    assert max(v for v in small.values if v is not None) == 1.0  # the extremes survive
    assert min(v for v in small.values if v is not None) == pytest.approx(1 / 5000)
    empty = client.store.metric_series(run.info.run_id, "nothing")
    assert (empty.steps, empty.total) == ([], 0)
