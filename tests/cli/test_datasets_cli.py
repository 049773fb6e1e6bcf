"""``modelyard datasets``: list, show, diff."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import modelyard as my
from modelyard.cli import app

runner = CliRunner()


def test_list_show_diff(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    my.set_tracking_uri(uri)
    old = pd.DataFrame({"income": [1.0, 2.0, 3.0], "segment": ["a", "b", "a"]})
    new = old.assign(income=[10.0, 20.0, None], debt=[0.1, 0.2, 0.3])
    with my.start_run():
        my.log_input(my.data.from_pandas(old, name="apps"))
        my.log_input(my.data.from_pandas(new, name="apps"))
    listed = json.loads(runner.invoke(app, ["datasets", "list", "-t", uri, "--json"]).stdout)
    assert [d["num_rows"] for d in listed] == [3, 3] and {d["name"] for d in listed} == {"apps"}
    a = my.data.from_pandas(old, name="apps").digest[:8]
    b = my.data.from_pandas(new, name="apps").digest[:8]
    shown = json.loads(
        runner.invoke(app, ["datasets", "show", "apps", a, "-t", uri, "--json"]).stdout
    )
    assert shown["profile"]["columns"]["income"]["mean"] == 2.0
    changes = json.loads(
        runner.invoke(app, ["datasets", "diff", "apps", a, b, "-t", uri, "--json"]).stdout
    )["changes"]
    kinds = {(c["column"], c["change"]) for c in changes}
    assert {("debt", "added"), ("income", "mean"), ("income", "null_rate")} <= kinds
    assert "debt" in runner.invoke(app, ["datasets", "diff", "apps", a, b, "-t", uri]).stdout
    missing = runner.invoke(app, ["datasets", "show", "apps", "ffffffff", "-t", uri])
    assert missing.exit_code == 2 and "has no version starting 'ffffffff'" in missing.stderr
