"""The monitoring report as a person reads it: windows named by the time they cover, the
versions that served them and the swap between them, the columns that drifted, status
cards red while an alert is open, and no raw stamps, ``* *`` labels or empty columns."""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.data import from_pandas
from modelyard.data._predlog import Feedback, LoggedRequest
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.monitoring import Monitor, evaluate, parse_rule, write_report
from modelyard.registry import Client

T0 = _dt.datetime(2026, 3, 2, tzinfo=_dt.UTC)
NOW = _dt.datetime(2026, 3, 30, 9, 15, tzinfo=_dt.UTC)
FEATURES = ["income", "debt_ratio", "age"]


def _rows(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.normal(50 - shift * 20, 10, n),
            "debt_ratio": np.clip(rng.normal(0.3 + shift * 0.2, 0.1, n), 0, 1),
            "age": rng.integers(20, 70, n).astype("float64"),
        }
    )


@pytest.fixture
def weeks(tmp_path: Path) -> tuple[Monitor, list[tuple[_dt.datetime, _dt.datetime]]]:
    """Three one-day windows of a classifier's log: v1 alone, then v1 swapped for v2 mid-window
    (inputs drifted), then v2 alone; labels for every request."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    client = Client(str(tmp_path / "store"))
    train = _rows(2000, rng, 0.0)
    train["default"] = (train.debt_ratio + rng.normal(0, 0.05, 2000) > 0.35).astype(int)
    run = client.create_run(client.create_experiment("credit"))
    client.log_input(run.info.run_id, from_pandas(train, name="credit-train", targets="default"), "training")
    model = LogisticRegression().fit(train[FEATURES], train["default"])
    for _ in range(2):
        client.register_model("credit", model, input_example=train[FEATURES].head(3), run_id=run.info.run_id)
    writer = PredictionLogWriter(tmp_path / "log")
    windows = []
    for day, (shift, versions) in enumerate(((0.0, ["1"] * 600), (1.0, ["1"] * 200 + ["2"] * 400), (0.0, ["2"] * 600))):
        start = T0 + _dt.timedelta(days=day)
        frame = _rows(600, rng, shift)
        truth = (frame.debt_ratio + rng.normal(0, 0.05, 600) > 0.35).astype(int)
        score = model.predict_proba(frame[FEATURES])[:, 1]
        for i, version in enumerate(versions):
            ts = (start + _dt.timedelta(seconds=60 * i)).timestamp()
            rid = f"d{day}-{i}"
            writer.log(
                LoggedRequest(
                    rid, ts, "credit", "champion", "credit", version, False, 200, 2.0, 1,
                    {c: np.array([frame[c].iloc[i]]) for c in FEATURES}, np.array([int(score[i] > 0.5)]), np.array([score[i]]), [str(i)],
                )
            )
            writer.feedback(Feedback(ts + 30, int(truth.iloc[i]), rid))
        windows.append((start, start + _dt.timedelta(days=1)))
    writer.flush()
    return Monitor("credit", tracking_uri=str(tmp_path / "store"), log_root=tmp_path / "log"), windows


def test_the_report_names_weeks_versions_swaps_and_drifted_columns(weeks: tuple[Monitor, list[tuple[_dt.datetime, _dt.datetime]]], tmp_path: Path) -> None:
    from modelyard.monitoring import WindowLabel

    monitor, windows = weeks
    results = [monitor.run(start=s, end=e) for s, e in windows]
    store = monitor.client.store.monitoring
    rules = [parse_rule({"rule": "drift_share > 0.3", "min_rows": 100})]
    assert [f.rule for f in evaluate(rules, results[1], store)] == ["drift_share > 0.3"]
    # the windows stand for weeks (as the demo's replay does): named and dated by them
    labels = {(r.start, r.end): WindowLabel(f"week {i + 4}", T0 + _dt.timedelta(weeks=i), T0 + _dt.timedelta(weeks=i + 1)) for i, r in enumerate(results)}
    html, twin = write_report("credit", store.points("credit"), results[-1], store.alerts("credit"), tmp_path / "r.html", labels=labels, now=NOW)
    page = html.read_text()
    data = json.loads(twin.read_text())
    assert [w["label"] for w in data["windows"]] == ["week 4", "week 5", "week 6"]
    assert [w["span"] for w in data["windows"]] == ["2026-03-02 → 2026-03-08", "2026-03-09 → 2026-03-15", "2026-03-16 → 2026-03-22"]
    assert [w["versions"] for w in data["windows"]] == [{"1": 600}, {"1": 200, "2": 400}, {"2": 600}]
    assert data["swaps"] == [{"window": "week 5", "change": "v1 → v2"}]
    assert [sorted(w["drifted_columns"]) for w in data["windows"]] == [[], ["debt_ratio", "income"], []]
    assert data["windows"][1]["alerts"] == ["drift_share > 0.3"]
    assert "v1\u00a0(200), v2\u00a0(400)" in page and "week 5" in page and "2026-03-09 → 2026-03-15" in page
    assert re.search(r"<td class=\"bad\">(income, debt_ratio|debt_ratio, income)</td>", page)
    assert "written 2026-03-30 09:15 UTC" in page
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", page)  # no stamps with microseconds
    assert "* *" not in page and ">*<" not in page and "all versions" in page and "live traffic" in page
    assert "False" not in page and "True" not in page  # shadow as yes/no
    assert "RMSE" not in page and "MAE" not in page  # a classifier has no regression metrics
    assert "<th>note</th>" not in page  # an empty column is left out
    assert "alert(s) open" not in page  # the latest window has recovered: every card is green
    assert 'class="card alert"' not in page


def test_cards_turn_red_while_an_alert_is_open(weeks: tuple[Monitor, list[tuple[_dt.datetime, _dt.datetime]]], tmp_path: Path) -> None:
    monitor, windows = weeks
    store = monitor.client.store.monitoring
    drifted = monitor.run(start=windows[1][0], end=windows[1][1])
    evaluate([parse_rule({"rule": "drift_share > 0.3", "min_rows": 100})], drifted, store)
    html, twin = write_report("credit", store.points("credit"), drifted, store.alerts("credit"), tmp_path / "r.html")
    page = html.read_text()
    assert "1 alert(s) open" in page and "drift_share &gt; 0.3 (now 0.6667)" in page
    assert re.search(r'<div class="card alert">drifted columns<b class="bad">2 of 3: income, debt_ratio</b>', page)
    assert re.search(r'<div class="card">AUC<b class="ok">', page)  # no alert on it: green
    assert json.loads(twin.read_text())["open_alerts"] == [{"rule": "drift_share > 0.3", "value": pytest.approx(2 / 3)}]
    # an unlabelled window is named by the time it covers: here the whole day of March 3
    assert "latest: 2026-03-03<br>" in page


def _window(start: _dt.datetime, end: _dt.datetime, versions: dict[str, float]) -> Any:
    from modelyard.monitoring._report import Window, span

    ms = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    return Window(ms[0], ms[1], {"rows": sum(versions.values())}, versions, span=span(start, end))


def test_windows_of_very_different_lengths_each_get_a_slot_and_a_distinct_name() -> None:
    from modelyard.monitoring._report import swaps, tick_labels

    base = _dt.datetime(2026, 11, 29, 23, 56, 30, tzinfo=_dt.UTC)
    short = [_window(base + _dt.timedelta(seconds=3 * i), base + _dt.timedelta(seconds=3 * i + 3), {"1": 1200.0}) for i in range(6)]
    day = _window(base - _dt.timedelta(hours=20), base + _dt.timedelta(hours=4), {"1": 5000.0, "3": 2000.0})
    windows = [*short, day]
    names = tick_labels(windows)
    assert len(set(names)) == len(names) == 7  # one slot each, told apart (to the second here)
    assert names[0] == "11-29 23:56:33" and names[-1] == "11-30 03:56:30"
    assert short[0].span == "2026-11-29 23:56:30 → 23:56:33 UTC"
    # a long window over versions seen before is not a swap; a version's first appearance is
    assert swaps(windows) == [(6, "v1 → v3")]
    assert swaps([*short[:2], day, _window(base + _dt.timedelta(days=1), base + _dt.timedelta(days=2), {"1": 10.0})]) == [(2, "v1 → v3")]
