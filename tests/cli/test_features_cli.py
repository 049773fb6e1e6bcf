"""``modelyard features``: plan, apply, list, show."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from modelyard.cli import app

from ..features.conftest import REPO, write_data

runner = CliRunner()


def test_plan_apply_list_show(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "definitions.py").write_text(REPO)
    write_data(repo)
    uri = str(tmp_path / "store")
    args = ["--repo", str(repo), "-t", uri]
    plan = json.loads(runner.invoke(app, ["features", "plan", *args, "--json"]).stdout)
    assert len(plan["added"]) == 4
    applied = runner.invoke(app, ["features", "apply", *args])
    assert applied.exit_code == 0 and "add" in applied.stdout
    assert (
        json.loads(runner.invoke(app, ["features", "plan", *args, "--json"]).stdout)["added"] == []
    )
    listed = json.loads(runner.invoke(app, ["features", "list", *args, "--json"]).stdout)
    assert [v["name"] for v in listed["feature_views"]] == ["finances", "bureau"]
    shown = json.loads(
        runner.invoke(app, ["features", "show", "credit_v1", *args, "--json"]).stdout
    )
    assert shown["features"] == ["finances:income", "finances:debt_ratio", "bureau:open_loans"]
    missing = runner.invoke(app, ["features", "show", "credit_v2", *args])
    assert missing.exit_code == 2 and "did you mean 'credit_v1'" in missing.stderr


def test_materialize_and_search(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "definitions.py").write_text(REPO)
    write_data(repo)
    args = [
        "--repo",
        str(repo),
        "-t",
        str(tmp_path / "store"),
        "--online-store",
        str(tmp_path / "online.db"),
    ]
    runner.invoke(app, ["features", "apply", "--repo", str(repo), "-t", str(tmp_path / "store")])
    counts = json.loads(
        runner.invoke(
            app, ["features", "materialize", "2025-12-01", "2026-02-01", *args, "--json"]
        ).stdout
    )
    assert counts == {"finances": 3, "bureau": 2}
    again = json.loads(
        runner.invoke(
            app, ["features", "materialize-incremental", "2026-02-01", *args, "--json"]
        ).stdout
    )
    assert again == {"finances": 0, "bureau": 0}
    bad = runner.invoke(app, ["features", "materialize", "yesterday", "2026-02-01", *args])
    assert bad.exit_code == 2 and "is not an ISO date" in bad.output
    hits = json.loads(
        runner.invoke(
            app,
            [
                "features",
                "search",
                "debt",
                "--repo",
                str(repo),
                "-t",
                str(tmp_path / "store"),
                "--json",
            ],
        ).stdout
    )
    assert hits == [
        {"view": "finances", "features": ["debt_ratio"], "owner": "risk-team", "description": ""}
    ]
