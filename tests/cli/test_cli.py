"""The command line: Rich tables for people, --json for scripts, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli import app

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, list[str]]:
    uri = str(tmp_path / "store")
    my.set_tracking_uri(uri)
    my.set_experiment("cli")
    ids = []
    for model, auc in [("gbm", 0.91), ("rf", 0.85), ("lr", 0.7)]:
        with my.start_run(run_name=model) as run:
            my.log_params({"model": model, "seed": 1})
            for step in range(3):
                my.log_metric("auc", auc - (2 - step) * 0.01, step=step)
            my.log_text("x", f"out/{model}.txt")
        ids.append(run.info.run_id)
    return uri, ids


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_experiments_list_json_and_table(store: tuple[str, list[str]]) -> None:
    uri, _ = store
    data = json.loads(invoke("experiments", "list", "-t", uri, "--json"))
    assert [(e["name"], e["runs"]) for e in data] == [("cli", 3)]
    assert "cli" in invoke("experiments", "list", "-t", uri)


def test_experiment_create_show_rename_delete_restore(store: tuple[str, list[str]]) -> None:
    uri, _ = store
    created = json.loads(invoke("experiments", "create", "new-one", "-t", uri, "--json"))
    assert json.loads(invoke("experiments", "show", "new-one", "-t", uri, "--json"))["runs"] == 0
    invoke("experiments", "rename", created["experiment_id"], "renamed", "-t", uri)
    invoke("experiments", "delete", "renamed", "-t", uri)
    assert [e["name"] for e in json.loads(invoke("experiments", "list", "-t", uri, "--json"))] == [
        "cli"
    ]
    invoke("experiments", "restore", created["experiment_id"], "-t", uri)
    assert len(json.loads(invoke("experiments", "list", "-t", uri, "--json"))) == 2


def test_runs_search_filters_and_orders(store: tuple[str, list[str]]) -> None:
    uri, _ = store
    data = json.loads(
        invoke("runs", "search", "metrics.auc > 0.8", "-o", "metrics.auc DESC", "-t", uri, "--json")
    )
    assert [r["run_name"] for r in data["runs"]] == ["gbm", "rf"]
    assert data["runs"][0]["metrics"]["auc"] == pytest.approx(0.91)
    table = invoke("runs", "search", "params.model = 'rf'", "-t", uri)
    assert "rf" in table and "gbm" not in table


def test_runs_list_paginates(store: tuple[str, list[str]]) -> None:
    uri, _ = store
    first = json.loads(invoke("runs", "list", "-n", "2", "-t", uri, "--json"))
    assert len(first["runs"]) == 2 and first["next_page_token"]
    rest = json.loads(
        invoke(
            "runs", "list", "-n", "2", "--page-token", first["next_page_token"], "-t", uri, "--json"
        )
    )
    assert len(rest["runs"]) == 1 and rest["next_page_token"] is None


def test_runs_show_history_compare_artifacts(store: tuple[str, list[str]], tmp_path: Path) -> None:
    uri, ids = store
    shown = json.loads(invoke("runs", "show", ids[0], "-t", uri, "--json"))
    assert shown["params"] == {"model": "gbm", "seed": "1"} and shown["context"]["python"]
    assert "Metrics (latest)" in invoke("runs", "show", ids[0], "-t", uri)
    history = json.loads(invoke("runs", "history", ids[0], "auc", "-t", uri, "--json"))
    assert [p["step"] for p in history] == [0, 1, 2]
    compared = json.loads(
        invoke(
            "runs",
            "compare",
            *ids,
            "--diff-only",
            "--plot",
            str(tmp_path / "c.png"),
            "-t",
            uri,
            "--json",
        )
    )
    assert [r["params.model"] for r in compared["runs"]] == ["gbm", "rf", "lr"]
    assert "params.seed" not in compared["runs"][0]
    assert (tmp_path / "c.png").stat().st_size > 1000
    files = json.loads(invoke("runs", "artifacts", ids[0], "-r", "-t", uri, "--json"))
    assert [f["path"] for f in files] == ["out/gbm.txt"]
    invoke("runs", "artifacts", ids[0], "out", "--download", str(tmp_path / "dl"), "-t", uri)
    assert (tmp_path / "dl" / "out" / "gbm.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "search", "metrics.auc > 'x'"], "numeric; compare it with a number"),
        (["runs", "show", "nope"], "run 'nope' does not exist"),
        (["runs", "list", "-e", "ghost"], "experiment 'ghost' does not exist; experiments: 'cli'"),
    ],
)
def test_mistakes_exit_2_with_one_clear_line(
    store: tuple[str, list[str]], args: list[str], message: str
) -> None:
    uri, _ = store
    result = runner.invoke(app, [*args, "-t", uri])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_help_explains_the_filter_language() -> None:
    result = runner.invoke(app, ["runs", "search", "--help"])
    assert result.exit_code == 0 and "metrics.auc > 0.8" in result.stdout


def test_demo_trains_and_compares_real_models(tmp_path: Path) -> None:
    out = invoke(
        "demo",
        "--scenario",
        "tracking",
        "-t",
        str(tmp_path / "demo"),
        "--plot",
        str(tmp_path / "loss.png"),
        "--cards",
        str(tmp_path / "cards"),
    )
    assert "test AUC" in out and "gbm" in out and "logistic" in out
    client = my.Client(str(tmp_path / "demo"))
    (experiment,) = client.search_experiments()
    runs = client.search_runs(
        [experiment.experiment_id],
        "attributes.parent_run_id IS NOT NULL",
        order_by=["metrics.test_auc DESC"],
    )
    assert len(runs) == 3 and all(r.data.metrics["test_auc"] > 0.9 for r in runs)
    assert (
        len(
            client.get_metric_history(
                next(r for r in runs if r.info.run_name == "gbm").info.run_id, "test_log_loss"
            )
        )
        == 151
    )
    assert (tmp_path / "loss.png").stat().st_size > 5000
    champion = client.get_model_version_by_alias("breast-cancer", "champion")
    assert champion.metrics["test_auc"] == max(r.data.metrics["test_auc"] for r in runs)
    assert champion.evaluation["metrics"]["roc_auc"] > 0.9
    assert "refused as champion" in out
    assert (tmp_path / "cards" / f"breast-cancer-v{champion.version}.html").stat().st_size > 10_000
