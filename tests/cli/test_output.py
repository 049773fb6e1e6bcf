"""What a newcomer reads: tables that fit 100 columns without cutting names, names printed as
they are (Rich markup never eats ``[predict]``), whole sentences in ``--help``."""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli import _features, _output, _pipelines, app

runner = CliRunner()
WIDTH = 100


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI prints through a Console 100 columns wide (as in a terminal of that size)."""
    console = Console(width=WIDTH, color_system=None)
    for module in (_output, _features, _pipelines):
        monkeypatch.setattr(module, "console", console)
    yield


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout


def _fits(out: str) -> None:
    """Every table line fits (a command to copy is printed whole, for the terminal to wrap)."""
    too_wide = [line for line in out.splitlines() if len(line) > WIDTH and line[:1] in "┏┃┡│└"]
    assert not too_wide, too_wide


@pytest.fixture
def registry(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    client = my.Client(uri)
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    for alpha in (1.0, 0.1):
        client.register_model(
            "diabetes-progression-regressor",
            Ridge(alpha=alpha).fit(X, y),
            input_example=X.head(3),
            metrics={"holdout_r2": 0.45, "holdout_log_loss": 0.3, "train_default_rate": 0.2},
            risk_category="limited",
            description="ridge regression on the ten baseline variables of the diabetes data set",
        )
    client.set_model_gate(
        "diabetes-progression-regressor",
        {"checks": [{"metric": "holdout_r2", "min": 0.42}, {"latency_ms": 50}, {"card": ["intended_use", "limitations"]}]},
    )
    client.set_registered_model_alias("diabetes-progression-regressor", "champion", 2)
    return uri


def test_models_show_fits_100_columns_with_versions_and_a_readable_gate(registry: str, narrow: None) -> None:
    out = run("models", "show", "diabetes-progression-regressor", "-t", registry)
    _fits(out)
    for field in ("description", "owner", "risk", "latest version", "aliases", "gate"):
        assert re.search(rf"│ {field}\s", out), field  # the field names are whole
    assert "holdout_r2 >= 0.42" in out and "median predict time <= 50 ms" in out
    assert "card filled in: intended_use, limitations" in out
    assert "{'" not in out  # the gate is sentences, not a dict
    assert "Versions of diabetes-progression-regressor" in out  # the versions the README promises
    assert re.search(r"│ v2\s+│ champion\s+│ active\s+│ sklearn\s+│ limited", out)


def test_models_versions_never_breaks_a_word(registry: str, narrow: None) -> None:
    out = run("models", "versions", "diabetes-progression-regressor", "-t", registry)
    _fits(out)
    for word in ("version", "aliases", "registered", "champion", "sklearn", "limited", "holdout_r2=0.45", "train_default_rate=0.2"):
        assert word in out, word


def test_features_list_keeps_names_whole(tmp_path: Path, narrow: None) -> None:
    from modelyard.demo._credit_data import REPO as DEMO_REPO
    from modelyard.demo._credit_data import applications, write_week

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "definitions.py").write_text(DEMO_REPO)
    write_week(repo, 0, applications(0, 50, shifted=False, origin=_dt.datetime(2026, 1, 5, tzinfo=_dt.UTC)))
    args = ["--repo", str(repo), "-t", str(tmp_path / "store")]
    run("features", "apply", *args)
    out = run("features", "list", *args)
    _fits(out)
    for name in ("applications", "applicant_id", "credit-risk", "credit_v1", "applications:income", "applications:credit_years"):
        assert name in out, name


def test_score_and_build_tables_keep_their_keys_whole(registry: str, tmp_path: Path, narrow: None) -> None:
    X, _ = load_diabetes(return_X_y=True, as_frame=True)
    X.to_parquet(tmp_path / "in.parquet")
    out = run(
        "score", "models:/diabetes-progression-regressor@champion", str(tmp_path / "in.parquet"),
        "--output", str(tmp_path / "scored.parquet"), "--workers", "1", "--no-log", "-t", registry,
    )
    _fits(out)
    for key in ("output", "rows", "seconds", "rows_per_second", "prediction_log", "engine"):
        assert re.search(rf"│ {key}\s", out), key
    built = run("build", "models:/diabetes-progression-regressor@champion", "--output", str(tmp_path / "image"), "-t", registry)
    _fits(built)
    for key in ("Dockerfile", "requirements.txt", "deployment.yaml", "kubernetes.yaml"):
        assert re.search(rf"│ {re.escape(key)}\s", built), key


def test_token_create_prints_its_scopes() -> None:
    out = run("token", "create", "--name", "web", "--scope", "predict", "--scope", "feedback")
    entry = next(line for line in out.splitlines() if "sha256:" in line)
    assert entry.strip().startswith("- {name: web, sha256: ") and entry.endswith("scopes: [predict, feedback]}")


def test_names_in_brackets_are_printed_as_they_are(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    my.set_tracking_uri(uri)
    with my.start_run(run_name="bracketed") as active:
        my.log_params({"scopes": "[predict]", "style": "[bold]not bold[/]"})
    out = run("runs", "show", active.info.run_id, "-t", uri)
    assert "[predict]" in out and "[bold]not bold[/]" in out
    missing = runner.invoke(app, ["runs", "show", "[predict]", "-t", uri])
    assert missing.exit_code == 2 and "run '[predict]' does not exist" in missing.stderr


def test_short_run_ids_from_search_are_accepted_and_ambiguity_names_the_candidates(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    client = my.Client(uri)
    experiment = client.create_experiment("prefixes")
    for run_id, name in (("abcd1111" + "0" * 24, "first"), ("abcd2222" + "0" * 24, "second")):
        client.store.create_run(run_id=run_id, experiment_id=experiment, run_name=name, start_time=1, user="u", parent_run_id=None, tags_={}, context={})
        client.log_metric(run_id, "auc", 0.9 if name == "first" else 0.8)
    listed = run("runs", "search", "metrics.auc > 0.5", "-t", uri)
    assert "abcd1111" in listed and "abcd2222" in listed  # the 8 characters search prints ...
    shown = json.loads(run("runs", "show", "abcd1111", "-t", uri, "--json"))  # ... are accepted
    assert shown["run_name"] == "first"
    compared = json.loads(run("runs", "compare", "abcd1111", "abcd2222", "-t", uri, "--json"))
    assert [r["run_name"] for r in compared["runs"]] == ["first", "second"]
    assert json.loads(run("runs", "history", "abcd2222", "auc", "-t", uri, "--json"))[0]["value"] == 0.8
    ambiguous = runner.invoke(app, ["runs", "show", "abcd", "-t", uri])
    assert ambiguous.exit_code == 2
    message = " ".join(ambiguous.stderr.split())
    assert "ambiguous" in message and "abcd1111" + "0" * 24 in message and "abcd2222" + "0" * 24 in message
    nothing = runner.invoke(app, ["runs", "show", "ffff0000", "-t", uri])
    assert nothing.exit_code == 2 and "no run id starts with it" in nothing.stderr


def test_datasets_show_defaults_to_the_latest_version_with_a_sample(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    my.set_tracking_uri(uri)
    old = pd.DataFrame({"income": [1.0, 2.0, 3.0], "segment": ["a", "b", "a"]})
    new = pd.DataFrame({"income": [10.0 + i for i in range(12)], "segment": ["young", "old"] * 6})
    with my.start_run():
        my.log_input(my.data.from_pandas(old, name="apps"))
        my.log_input(my.data.from_pandas(new, name="apps"))
    out = run("datasets", "show", "apps", "-t", uri)
    assert "12 rows" in out and "sample: the first 10 rows" in out
    assert "19" in out and "20" not in out.split("sample:")[1]  # rows 10..19 of income: the first ten only
    missing = runner.invoke(app, ["datasets", "show", "nope", "-t", uri])
    assert missing.exit_code == 2 and "dataset 'nope' has no versions; datasets: 'apps'" in " ".join(missing.stderr.split())


def test_an_alert_that_triggers_a_pipeline_asks_for_pipelines(tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text("alerts:\n  - {rule: 'auc < 0.75', actions: [log, {trigger: retrain}]}\n")
    result = runner.invoke(app, ["monitor", "run", "credit", "--alerts", str(tmp_path / "alerts.yaml"), "-t", str(tmp_path / "store")])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "triggers pipeline 'retrain'" in message and "--pipelines" in message
    (tmp_path / "pipelines.py").write_text("from modelyard.pipelines import pipeline, step\n\n@step\ndef one() -> int:\n    return 1\n\n@pipeline\ndef nightly() -> int:\n    return one()\n")
    result = runner.invoke(app, ["monitor", "run", "credit", "--alerts", str(tmp_path / "alerts.yaml"), "--pipelines", str(tmp_path / "pipelines.py"), "-t", str(tmp_path / "store")])
    assert result.exit_code == 2
    assert "does not define; it defines ['nightly']" in " ".join(result.stderr.split())


def _commands(group: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name in getattr(group, "commands", {}):
        yield (*path, name)
        yield from _commands(group.commands[name], (*path, name))  # type: ignore[attr-defined]


def test_help_reads_as_sentences_with_value_names() -> None:
    import typer.main

    root = typer.main.get_command(app)
    paths = list(_commands(root))
    assert len(paths) > 40
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        shown = re.findall(r"(?<![/\w-])<(?:bool|str|int|float|path|list\[str\])>|\{[a-z_]+\}", result.stdout)
        assert not shown, (path, shown)  # Python types, or arguments in braces
    wide = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert "the model bundles, a non-root user, a health check) and Kubernetes manifests" in wide
    assert "even with two schedulers or a restart mid-run" in wide
    names = ("demo", "experiments", "runs", "models", "serve", "monitor", "pipelines", "scheduler")
    order = [re.search(rf"^\W*{name}\s{{2,}}", wide, re.M).start() for name in names]  # type: ignore[union-attr]
    assert order == sorted(order)
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).stdout
    assert "Usage: modelyard serve [OPTIONS] TARGET" in serve and "--port INTEGER" in " ".join(serve.split())
