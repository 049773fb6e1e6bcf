"""The main job: the whole loop, end to end, on a smaller scenario."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.demo import run_loop
from modelyard.registry import Client

ORIGIN = _dt.datetime(2026, 1, 5, tzinfo=_dt.UTC)  # a Monday: the replayed weeks are Jan 5 to Mar 15


def test_the_loop_detects_drift_retrains_and_recovers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path / 'store' / 'modelyard.db'}"
    summary = run_loop(uri, tmp_path / "demo", weeks=10, shift_week=6, rows_per_week=500, origin=ORIGIN)
    weeks = summary["weeks"]
    assert summary["failed_requests"] == 0
    assert weeks[4]["drift"] == [] and weeks[4]["auc"] > 0.7  # before the shift: quiet
    assert set(weeks[6]["drift"]) == {"income", "debt_ratio"} and weeks[6]["auc"] < 0.6  # shifted: seen
    retrained = summary["retrained"]
    assert retrained is not None and retrained["promoted"] is not None
    new = int(retrained["promoted"].rsplit("/", 1)[1])
    assert str(new) in weeks[8]["versions"] and weeks[8]["versions"][str(new)] > 0  # swapped in under traffic
    assert weeks[9]["versions"] == {str(new): 500} and weeks[9]["auc"] > 0.7  # recovered
    assert weeks[9]["drift"] == []  # against the new version's own training set
    client = Client(uri)
    assert client.get_model_version_by_alias("credit", "champion").version == new
    trigger = client.store.pipelines.runs("retrain")[0].trigger
    assert trigger.startswith("alert:")
    # the story: one line per stage with its figure, then what to explore; nothing on stderr
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert any(line.startswith("training: logistic (v1) AUC ") and "is champion" in line for line in lines)
    assert any(line.startswith("week 6 (shifted): 500 requests to v1; AUC 0.") and "drift 0.4 in income, debt_ratio; alert: drift_share >= 0.3" in line for line in lines)
    assert any(line.startswith(f"swap: v1 → v{new} during week 8's traffic") and line.endswith("failed requests so far: 0") for line in lines)
    assert any(line.startswith(f"retraining: logistic (v{new}") or line.startswith(f"retraining: logistic (v{new - 1}") for line in lines)
    assert any(line.startswith("done: 0 failed requests of 3,000") for line in lines)
    explore = lines[lines.index("Explore what it left:") + 1 :]
    commands = [line.split("  #")[0].strip() for line in explore]
    assert commands[:2] == ["modelyard lineage models:/credit@champion", "modelyard monitor alerts"]
    assert "modelyard ui" in commands  # the web UI shows what the demo left
    assert "─ 2 · serving, monitoring, retraining ─" in out  # the section title is whole
    # the report: weeks by the dates they replay, the swap, the drifted columns of each week
    twin = json.loads(Path(summary["report"]).with_suffix(".json").read_text())
    assert [w["label"] for w in twin["windows"]] == [f"week {n}" for n in range(4, 10)]
    assert twin["windows"][2]["span"] == "2026-02-16 → 2026-02-22"
    assert sorted(twin["windows"][2]["drifted_columns"]) == ["debt_ratio", "income"]
    assert twin["swaps"] == [{"window": "week 8", "change": f"v1 → v{new}"}]
    page = Path(summary["report"]).read_text()
    assert "drift_share &gt;= 0.3" in page and "Drift by column" in page


def test_rerunning_the_demo_in_the_same_folder_with_other_weeks_works(tmp_path: Path) -> None:
    """The cached training steps are keyed on the data they are given, never on the folder it
    was read from: a rerun whose timeline moved (other weeks, another day) trains on its own
    rows instead of the last run's."""
    args = ["demo", "--workdir", str(tmp_path / "demo"), "--rows-per-week", "200"]
    first = CliRunner().invoke(app, [*args, "--weeks", "9"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(app, [*args, "--weeks", "8"])
    assert second.exit_code == 0, second.output
    assert "done: 0 failed requests" in second.stdout
    runs = Client().store.pipelines.runs("retrain")
    latest_manual = next(r for r in runs if r.trigger == "manual")
    steps = {s.step: s.status for s in Client().store.pipelines.steps(latest_manual.run_id)}
    assert steps["train"] == "ran" and steps["train#2"] == "ran"  # its data changed: trained again
