"""The search language and registry tags on the command line: deep filters, ``models``
filters and tags, and the gate's wording in ``models promote``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli import app
from modelyard.cli._output import console

runner = CliRunner()


class Constant(my.PythonModel):
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, model_input: Any, params: Any = None) -> list[float]:
        return [self.value] * len(model_input)


@pytest.fixture
def uri(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    client = my.Client(uri)
    for auc in (0.91, 0.85):
        client.register_model(
            "credit", Constant(auc), input_example={"x": [1.0]}, metrics={"auc": auc}
        )
    client.register_model("fraud", Constant(0.7), input_example={"x": [1.0]})
    client.set_model_gate("credit", {"checks": [{"champion": "auc", "delta": 0.01}]})
    client.promote("credit", 1)
    return uri


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


@pytest.mark.parametrize("depth", [400, 5000])
def test_a_deeply_nested_run_filter_is_one_line_and_exit_2(tmp_path: Path, depth: int) -> None:
    """D8: the CLI printed a RecursionError traceback."""
    text = "(" * depth + "metrics.auc > 0" + ")" * depth
    env = {**os.environ, "MODELYARD_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "runs", "search", text, "-t", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "parentheses nest deeper than the limit of 10" in lines[0] and len(lines[0]) < 400


def test_models_list_and_versions_take_filters_and_show_tags(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 200)  # tables fold long cells at 80 columns
    run("models", "tag", "credit", "team", "risk", "-t", uri)
    run("models", "tag", "credit", "stage", "prod", "--version", "1", "-t", uri)
    listed = json.loads(
        run("models", "list", "-f", "tags.team = 'risk'", "-t", uri, "--json").stdout
    )
    assert [(m["name"], m["tags"]) for m in listed] == [("credit", {"team": "risk"})]
    table = run("models", "list", "-t", uri).stdout
    assert "team=risk" in table
    shown = run("models", "show", "credit", "-t", uri).stdout
    assert "tags" in shown and "team=risk" in shown
    versions = run(
        "models", "versions", "credit", "--filter", "tags.stage = 'prod'", "-t", uri, "--json"
    ).stdout
    assert [(v["version"], v["tags"]) for v in json.loads(versions)] == [(1, {"stage": "prod"})]
    assert "stage=prod" in run("models", "versions", "credit", "-t", uri).stdout
    run("models", "tag", "credit", "stage", "--version", "1", "--delete", "-t", uri)
    assert my.Client(uri).get_model_version("credit", 1).tags == {}
    audit = json.loads(run("models", "show", "credit", "-t", uri, "--json").stdout)["audit"]
    assert audit[0]["action"] == "delete_version_tag"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "list", "-f", "colour = 'red'"], "registered models can be filtered on"),
        (["models", "versions", "credit", "-f", "version_number > 'x'"], "numeric; compare it"),
        (["models", "tag", "credit", 'a"b', "x"], "tag key 'a\"b' contains"),
        (["models", "tag", "credit", "k"], "give a VALUE for the tag, or --delete"),
        (["models", "tag", "credit", "nope", "--delete"], "has no tag 'nope'"),
        (["models", "tag", "ghost", "k", "v"], "registered model 'ghost' does not exist"),
        (["models", "tag", "credit", "k", "v", "--version", "9"], "has no version 9"),
    ],
)
def test_registry_mistakes_exit_2_with_one_line(uri: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "-t", uri])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_promote_states_the_failure(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Newcomer bug 7: the refusal read "auc within 0.01 of champion (0.85 vs 0.91 (v1))"."""
    monkeypatch.setattr(console, "width", 200)
    refused = runner.invoke(app, ["models", "promote", "credit", "2", "-t", uri])
    assert refused.exit_code == 1
    said = " ".join(refused.stderr.split())
    assert "auc 0.85 is more than 0.01 below champion v1's 0.91" in said
    assert "within" not in said
    body = json.loads(run("models", "promote", "credit", "2", "-t", uri, "--json", code=1).stdout)
    assert body["checks"][-1:] == [
        {
            "check": "auc vs champion (tolerance 0.01)",
            "passed": False,
            "detail": "auc 0.85 is more than 0.01 below champion v1's 0.91",
        }
    ]
    my.Client(uri).update_model_version("credit", 2, metrics={"auc": 0.95})
    passed = run("models", "promote", "credit", "2", "-t", uri).stdout
    assert "auc 0.95 is above champion v1's 0.91" in " ".join(passed.split())
