"""A monitor over a real prediction log: windows, reference from the model's lineage,
feedback-based performance, alerts with a webhook on loopback, the report and the CLI."""

from __future__ import annotations

import datetime as _dt
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.core.errors import ValidationError
from modelyard.data import from_pandas
from modelyard.data._predlog import Feedback, LoggedRequest
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.monitoring import Monitor, evaluate, parse_condition, parse_rule, write_report
from modelyard.registry import Client

T0 = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)


def _applications(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.normal(50 + shift * 20, 10, n),
            "debt_ratio": np.clip(rng.normal(0.3 + shift * 0.2, 0.1, n), 0, 1),
            "age": rng.integers(20, 70, n).astype("float64"),
            "purpose": rng.choice(["car", "home", "study"], n, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """The store of the model and the monitor (tests/server runs tests against a team server)."""
    return str(tmp_path / "store")


@pytest.fixture
def setup(tmp_path: Path, tracking_uri: str) -> tuple[Client, Path]:
    """A model registered from a run whose training set is recorded; two weeks of logged
    traffic (the second drifted, with worse predictions), and late labels."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    client = Client(tracking_uri)
    train = _applications(3000, rng, 0.0)
    train["default"] = (train.debt_ratio + rng.normal(0, 0.05, 3000) > 0.35).astype(int)
    run = client.create_run(client.create_experiment("credit"))
    client.log_input(run.info.run_id, from_pandas(train, name="credit-train", targets="default"), "training")
    model = LogisticRegression().fit(train[["income", "debt_ratio", "age"]], train["default"])
    client.register_model("credit", model, input_example=train[["income", "debt_ratio", "age"]].head(3), run_id=run.info.run_id)
    root = tmp_path / "log"
    writer = PredictionLogWriter(root)
    for week, shift in ((0, 0.0), (1, 1.0)):
        frame = _applications(2000, rng, shift)
        truth = (frame.debt_ratio + rng.normal(0, 0.05, 2000) > 0.35).astype(int)
        score = model.predict_proba(frame[["income", "debt_ratio", "age"]])[:, 1]
        if shift:
            score = rng.uniform(0, 1, 2000)  # the drifted week: the model's scores are no better than chance
        for i in range(2000):
            ts = (T0 + _dt.timedelta(days=7 * week, minutes=5 * i)).timestamp()
            rid = f"w{week}-{i}"
            writer.log(
                LoggedRequest(
                    rid, ts, "credit", "champion", "credit", "1", False, 200, 2.0 + (i % 50) / 10, 1,
                    {c: np.array([frame[c].iloc[i]]) for c in frame.columns},
                    np.array([int(score[i] > 0.5)]), np.array([score[i]]), [str(i)],
                )
            )
            writer.feedback(Feedback(ts + 3600, int(truth.iloc[i]), rid))
        writer.log(LoggedRequest(f"err{week}", (T0 + _dt.timedelta(days=7 * week)).timestamp(), "credit", "", "", "", False, 500, 1.0, 1))
    writer.feedback(Feedback((T0 + _dt.timedelta(days=8)).timestamp(), 1, "no-such-request"))
    writer.flush()
    return client, root


class Receiver(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    bodies: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.path.endswith("/slow"):
            time.sleep(1.0)  # longer than the webhook's timeout
        Receiver.bodies.append(json.loads(body))
        status = Receiver.answers.pop(0) if Receiver.answers else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.answers, Receiver.bodies = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_windows_drift_performance_and_alerts(setup: tuple[Client, Path], receiver: str, tmp_path: Path, tracking_uri: str) -> None:
    _, root = setup
    monitor = Monitor("credit", tracking_uri=tracking_uri, log_root=root)
    calm = monitor.run("7d", end=T0 + _dt.timedelta(days=7))
    assert calm.rows == 2000 and "training set of models:/credit/1" in calm.reference_source
    assert calm.drift is not None and calm.drift.drifted_columns == []
    assert calm.overall["auc"] > 0.9
    assert calm.technical["error_rate"] == pytest.approx(1 / 2001)
    assert calm.technical["p99_latency_ms"] > calm.technical["p50_latency_ms"]
    drifted = monitor.run("7d", end=T0 + _dt.timedelta(days=14))
    assert drifted.drift is not None and set(drifted.drift.drifted_columns) == {"income", "debt_ratio"}
    assert "age" in [c.column for c in drifted.drift.columns] and drifted.drift.column("purpose").drifted is False
    assert drifted.overall["auc"] < 0.6
    assert drifted.prediction_drift is not None and drifted.prediction_drift.drifted
    assert drifted.target_drift is not None
    assert drifted.feedback_unmatched == 1
    # stored as time series
    points = monitor.client.store.monitoring.points("credit", "drift_share")
    assert [round(p.value or 0, 2) for p in points] == [0.0, 0.5]
    # alerts: the webhook answers 500 once, then 200 (retried with back-off); cool-down holds
    rules = [
        parse_rule({"rule": "drift_share > 0.3", "min_rows": 100, "cooldown": "1d", "actions": ["log", {"webhook": receiver, "retries": 2}]}),
        parse_rule({"rule": "auc < 0.75", "actions": [{"webhook": "http://127.0.0.1:9/nothing", "retries": 1, "timeout": 0.5}]}),
        parse_rule({"rule": "rows < 10"}),
        parse_rule({"rule": "error_rate > 0.0001", "actions": [{"webhook": receiver.replace("/hook", "/slow"), "retries": 1, "timeout": 0.2}]}),
    ]
    Receiver.answers = [500]
    slept: list[float] = []
    fired = evaluate(rules, drifted, monitor.client.store.monitoring, sleep=slept.append)
    assert [f.rule for f in fired] == ["drift_share > 0.3", "auc < 0.75", "error_rate > 0.0001"]
    assert fired[2].actions[0][1] == "failed" and "2 attempts" in fired[2].actions[0][2]  # timed out twice
    assert fired[0].actions[1][1] == "sent" and "2 attempt" in fired[0].actions[1][2]
    assert fired[1].actions[0][1] == "failed"  # nothing listens there: recorded, and the rest went on
    assert slept == [0.5, 0.5, 0.5]
    # by rule: the slow receiver's bodies land whenever its sleeps end, in any order with these
    delivered = [b for b in list(Receiver.bodies) if b["rule"] == "drift_share > 0.3"]
    assert len(delivered) == 2 and delivered[-1]["value"] == 0.5  # answered 500, then sent again
    assert evaluate(rules[:1], drifted, monitor.client.store.monitoring, sleep=slept.append) == []  # cool-down
    assert evaluate(rules, calm, monitor.client.store.monitoring) == []
    # the report
    html, twin = write_report("credit", monitor.client.store.monitoring.points("credit"), drifted, monitor.client.store.monitoring.alerts("credit"), tmp_path / "r" / "report.html")
    page = html.read_text()
    assert "income: reference vs current" in page and "drift_share &gt; 0.3" in page and page.count("<img") >= 3
    assert json.loads(twin.read_text())["latest"]["drift"]["drifted_columns"] == ["income", "debt_ratio"]


def test_empty_window_and_bad_input(setup: tuple[Client, Path], tmp_path: Path) -> None:
    _, root = setup
    monitor = Monitor("credit", tracking_uri=str(tmp_path / "store"), log_root=root)
    empty = monitor.run("1d", end=T0 - _dt.timedelta(days=30))
    assert empty.rows == 0 and empty.findings == ["no traffic in this window"] and empty.drift is None
    with pytest.raises(ValidationError, match="reference has no column 'income'"):
        Monitor("credit", reference=pd.DataFrame({"age": [1.0] * 50}), columns=["income"], tracking_uri=str(tmp_path / "store"), log_root=root).run("7d", end=T0 + _dt.timedelta(days=7))
    with pytest.raises(ValidationError, match="current data has no column 'salary'"):
        Monitor("credit", reference=pd.DataFrame({"salary": [1.0] * 50}), columns=["salary"], tracking_uri=str(tmp_path / "store"), log_root=root).run("7d", end=T0 + _dt.timedelta(days=7))
    with pytest.raises(ValidationError, match="not a duration"):
        monitor.run("7 days")
    for text, token in (("drift_share >> 0.3", "'>>'"), ("drift_share > high", "'high'"), ("auc_score < 0.7", "'auc_score'"), ("9lives > 1", "'9lives'")):
        with pytest.raises(ValidationError, match=token):
            parse_condition(text)
    with pytest.raises(ValidationError, match="webhook"):
        parse_rule({"rule": "auc < 0.7", "actions": [{"webhook": "ftp://x"}]})
    with pytest.raises(ValidationError, match="trigger 'retrain' is unknown"):
        parse_rule({"rule": "auc < 0.7", "actions": [{"trigger": "retrain"}]})


def test_monitor_command(setup: tuple[Client, Path], tmp_path: Path) -> None:
    _, root = setup
    (tmp_path / "alerts.yaml").write_text("alerts:\n  - {rule: 'drift_share > 0.3', cooldown: 1h}\n")
    common = ["--log-root", str(root), "-t", str(tmp_path / "store")]
    result = CliRunner().invoke(app, ["monitor", "run", "credit", "--window", "7d", "--end", "2026-06-15T00:00", "--alerts", str(tmp_path / "alerts.yaml"), *common])
    assert result.exit_code == 0, result.output
    assert "income" in result.output and "ALERT" in result.output
    as_json = CliRunner().invoke(app, ["monitor", "run", "credit", "--window", "7d", "--end", "2026-06-08T00:00", "--json", *common])
    assert json.loads(as_json.output)["drift"]["drifted_columns"] == []
    report = CliRunner().invoke(app, ["monitor", "report", "credit", "--window", "7d", "--end", "2026-06-15T00:00", "-o", str(tmp_path / "rep.html"), *common])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "rep.html").is_file() and (tmp_path / "rep.json").is_file()
    listed = CliRunner().invoke(app, ["monitor", "alerts", "credit", "--json", "-t", str(tmp_path / "store")])
    assert json.loads(listed.output)[0]["rule"] == "drift_share > 0.3"
    bad = CliRunner().invoke(app, ["monitor", "run", "credit", "--end", "yesterday", *common])
    assert bad.exit_code == 2 and "ISO-8601" in bad.output
    # an alert whose action runs a pipeline from a file
    (tmp_path / "retrain.yaml").write_text("alerts:\n  - {rule: 'drift_share >= 0.4', actions: [{trigger: sleepy}]}\n")
    definitions = str(Path(__file__).parent.parent / "pipelines" / "definitions.py")
    triggered = CliRunner().invoke(
        app, ["monitor", "run", "credit", "--window", "7d", "--end", "2026-06-15T00:00", "--alerts", str(tmp_path / "retrain.yaml"), "--pipelines", definitions, *common]
    )
    assert triggered.exit_code == 0, triggered.output
    from modelyard.tracking import Client as Tracking

    [run] = Tracking(str(tmp_path / "store")).store.pipelines.runs("sleepy")
    assert run.trigger == "alert:drift_share >= 0.4" and run.status == "succeeded"
