"""``modelyard models``: every subcommand, with --json checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli import app

runner = CliRunner()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    client = my.Client(uri)
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    for alpha, r2 in [(1.0, 0.40), (0.1, 0.45)]:
        client.register_model(
            "diabetes", Ridge(alpha=alpha).fit(X, y), input_example=X.head(3), metrics={"r2": r2}
        )
    client.set_model_gate("diabetes", {"checks": [{"metric": "r2", "min": 0.42}]})
    return uri


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout


def test_list_show_versions(uri: str) -> None:
    listed = json.loads(run("models", "list", "-t", uri, "--json"))
    assert [(m["name"], m["latest_version"]) for m in listed] == [("diabetes", 2)]
    shown = json.loads(run("models", "show", "diabetes", "-t", uri, "--json"))
    assert (
        shown["gate"]["checks"][0]["metric"] == "r2"
        and shown["audit"][0]["action"] == "update_model"
    )
    versions = json.loads(run("models", "versions", "diabetes", "-t", uri, "--json"))
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["files"]["model.pkl"][
        "sha256"
    ]
    assert "Versions of diabetes" in run("models", "versions", "diabetes", "-t", uri)


def test_promote_refuses_with_a_table_then_force_is_audited(uri: str) -> None:
    refused = runner.invoke(app, ["models", "promote", "diabetes", "1", "-t", uri])
    assert refused.exit_code == 1
    assert "FAIL" in refused.stdout and "r2 >= 0.42" in refused.stdout
    assert (
        json.loads(run("models", "promote", "diabetes", "1", "-t", uri, "--json", code=1))[
            "promoted"
        ]
        is False
    )
    ok = json.loads(run("models", "promote", "diabetes", "2", "-t", uri, "--json"))
    assert ok["promoted"] is True and ok["version"] == 2
    no_reason = runner.invoke(app, ["models", "promote", "diabetes", "1", "--force", "-t", uri])
    assert no_reason.exit_code == 2 and "needs a reason" in no_reason.stderr
    run("models", "promote", "diabetes", "1", "--force", "--reason", "rollback drill", "-t", uri)
    audit = json.loads(run("models", "show", "diabetes", "-t", uri, "--json"))["audit"]
    assert audit[0]["action"] == "promote_forced" and audit[0]["reason"] == "rollback drill"


def test_alias_archive_approve_card_diff(uri: str, tmp_path: Path) -> None:
    run("models", "alias", "diabetes", "challenger", "2", "-t", uri)
    archived = runner.invoke(app, ["models", "archive", "diabetes", "2", "-t", uri])
    assert archived.exit_code == 1 and "target of alias challenger" in archived.stderr
    run("models", "alias", "diabetes", "challenger", "--delete", "-t", uri)
    run("models", "archive", "diabetes", "2", "-t", uri)
    bad = runner.invoke(app, ["models", "alias", "diabetes", "champion", "2", "-t", uri])
    assert bad.exit_code == 1 and "archived" in bad.stderr
    run(
        "models", "approve", "diabetes", "1", "--approver", "Grace",
        "--reason", "fairness review passed", "-t", uri,
    )  # fmt: skip
    approvals = my.Client(uri).get_model_version("diabetes", 1).approvals
    assert [(a["approver"], a["note"]) for a in approvals] == [("Grace", "fairness review passed")]
    paths = json.loads(
        run(
            "models", "card", "diabetes", "1", "--out", str(tmp_path / "cards"), "-t", uri, "--json"
        )
    )
    assert "approved by **Grace**" in Path(paths["markdown"]).read_text()
    assert Path(paths["html"]).read_text().startswith("<!doctype html>")
    rows = json.loads(run("models", "diff", "diabetes", "1", "2", "-t", uri, "--json"))["rows"]
    assert ["metric r2", "0.4", "0.45"] in rows
    assert "rows differ" in run("models", "diff", "diabetes", "1", "2", "-t", uri)


def test_register_from_the_command_line(uri: str, tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    my.save_model(Ridge().fit(X, y), tmp_path / "bundle", input_example=X.head(2))
    out = json.loads(
        run(
            "models",
            "register",
            "cli-model",
            str(tmp_path / "bundle"),
            "--risk",
            "limited",
            "-t",
            uri,
            "--json",
        )
    )
    assert out["version"] == 1 and out["risk_category"] == "limited"
    missing = runner.invoke(
        app, ["models", "register", "cli-model", str(tmp_path / "nowhere"), "-t", uri]
    )
    assert missing.exit_code == 2 and "is not a folder" in missing.stderr
    unknown = runner.invoke(app, ["models", "show", "ghost", "-t", uri])
    assert unknown.exit_code == 2 and "registered model 'ghost' does not exist" in unknown.stderr


def test_register_a_pickled_mlflow_folder_needs_trusted(uri: str, tmp_path: Path) -> None:
    import pickle

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    folder = tmp_path / "mlflow"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(Ridge().fit(X, y)))
    (folder / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: pickle\n"
    )
    refused = runner.invoke(app, ["models", "register", "imported", str(folder), "-t", uri])
    assert refused.exit_code == 1 and "--trusted" in refused.output
    registered = json.loads(
        run("models", "register", "imported", str(folder), "--trusted", "-t", uri, "--json")
    )
    assert registered["version"] == 1 and registered["flavor"] == "sklearn"
