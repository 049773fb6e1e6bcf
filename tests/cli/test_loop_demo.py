"""The main job: the whole loop, end to end, on a smaller scenario."""

from __future__ import annotations

from pathlib import Path

from modelyard.demo import run_loop
from modelyard.registry import Client


def test_the_loop_detects_drift_retrains_and_recovers(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'store' / 'modelyard.db'}"
    summary = run_loop(uri, tmp_path / "demo", weeks=10, shift_week=6, rows_per_week=500)
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
    page = Path(summary["report"]).read_text()
    assert "drift_share &gt;= 0.3" in page and "Drift by column" in page
