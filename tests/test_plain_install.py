"""What ``pip install modelyard`` documents works without an extra: tracking in code and
``modelyard monitor run`` / ``report``, run where only the core dependencies can be imported."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from modelyard.data import from_pandas
from modelyard.data._predlog import Feedback, LoggedRequest
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.registry import Client
from tests.plain_install import blocked_modules, run_plain

T0 = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)


def _frame(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.normal(50 + 20 * shift, 10, n),
            "debt_ratio": np.clip(rng.normal(0.3 + 0.2 * shift, 0.1, n), 0, 1),
            "purpose": rng.choice(["car", "home"], n),
        }
    )


def _logged_traffic(tmp_path: Path) -> Path:
    """A registered model with its training set, and two weeks of logged traffic (the
    second drifted) with labels; set up here, where the extras are installed."""
    rng = np.random.default_rng(1)
    client = Client(str(tmp_path / "store"))
    train = _frame(1000, rng, 0.0)
    train["default"] = (train.debt_ratio > 0.35).astype(int)
    run = client.create_run(client.create_experiment("credit"))
    client.log_input(run.info.run_id, from_pandas(train, name="train", targets="default"))
    features = ["income", "debt_ratio"]
    model = LogisticRegression().fit(train[features], train["default"])
    client.register_model("credit", model, run_id=run.info.run_id)
    root = tmp_path / "log"
    writer = PredictionLogWriter(root)
    for week, shift in ((0, 0.0), (1, 1.0)):
        frame = _frame(300, rng, shift)
        score = model.predict_proba(frame[features])[:, 1]
        for i in range(len(frame)):
            ts = (T0 + _dt.timedelta(days=7 * week, minutes=20 * i)).timestamp()
            writer.log(
                LoggedRequest(
                    f"w{week}-{i}", ts, "credit", "champion", "credit", "1", False, 200, 2.0, 1,
                    {c: np.array([frame[c].iloc[i]]) for c in frame.columns},
                    np.array([int(score[i] > 0.5)]), np.array([score[i]]), [str(i)],
                )
            )
            writer.feedback(Feedback(ts + 60, int(frame.debt_ratio.iloc[i] > 0.35), f"w{week}-{i}"))
    writer.flush()
    return root


def test_the_plain_install_is_what_it_claims() -> None:
    blocked = blocked_modules()
    assert {"sklearn", "matplotlib", "starlette", "lightgbm"} <= blocked
    assert "scipy" not in blocked  # the drift tests' statistics are a core dependency


def test_monitor_run_and_report_need_no_extra(tmp_path: Path) -> None:
    root = _logged_traffic(tmp_path)
    common = ["--log-root", str(root), "-t", str(tmp_path / "store")]
    code = (
        "import sys\n"
        "from modelyard.cli import app\n"
        "app(sys.argv[1:], prog_name='modelyard')\n"
    )
    run = ["monitor", "run", "credit", "--window", "7d", "--end", "2026-06-15T00:00", "--json"]
    result = run_plain(
        f"import sys; sys.argv = ['modelyard', *{[*run, *common]!r}]\n" + code, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(json.loads(result.stdout)["drift"]["drifted_columns"]) >= {"income", "debt_ratio"}
    report = ["monitor", "report", "credit", "--window", "7d", "--end", "2026-06-15T00:00"]
    result = run_plain(
        f"import sys; sys.argv = ['modelyard', *{[*report, '-o', 'rep.html', *common]!r}]\n"
        + code,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "rep.html").is_file()


def test_tracking_in_code_needs_no_extra(tmp_path: Path) -> None:
    result = run_plain(
        "import modelyard as my\n"
        "my.set_experiment('credit')\n"
        "with my.start_run(run_name='gbm'):\n"
        "    my.log_params({'lr': 0.1})\n"
        "    my.log_metric('auc', 0.91, step=1)\n"
        "runs = my.search_runs(filter_string='metrics.auc > 0.9')\n"
        "print(len(runs), my.Client().get_experiment_by_name('credit').name)\n",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["1", "credit"]
