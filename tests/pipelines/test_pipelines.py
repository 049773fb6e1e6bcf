"""Pipelines: the DAG from data, the step cache, engines, links to runs and models, lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import modelyard
from modelyard.cli import app
from modelyard.core.errors import ValidationError
from modelyard.pipelines import load_file, pipeline, step
from modelyard.registry import Client

from . import definitions as d

HERE = Path(__file__).parent


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = str(tmp_path / "store")
    monkeypatch.setenv("MODELYARD_TRACKING_URI", uri)
    modelyard.set_tracking_uri(uri)
    d.CALLS.clear()
    return uri


def test_cache_skips_unchanged_steps_and_reruns_what_changed(store: str) -> None:
    first = d.training.run(rows=300)
    assert [s.status for s in first.steps] == ["ran", "ran", "ran"] and d.CALLS == ["load", "train", "promote"]
    assert first.output == "models:/toy/1"
    assert Client(store).get_model_version_by_alias("toy", "champion").version == 1
    d.CALLS.clear()
    again = d.training.run(rows=300)
    assert [s.status for s in again.steps] == ["cached", "cached", "ran"] and d.CALLS == ["promote"]
    assert again.output == "models:/toy/1"  # the cached output, not a new registration
    d.CALLS.clear()
    changed = d.training.run(rows=300, C=0.1)  # a parameter of train changed: load is reused
    assert [s.status for s in changed.steps] == ["cached", "ran", "ran"] and d.CALLS == ["train", "promote"]
    assert changed.output == "models:/toy/2"
    # what each step produced is recorded: the tracking run and the model version
    links = changed.step("train").links
    assert links["model_versions"] == ["models:/toy/2"] and len(links["runs"]) == 1
    run = Client(store).get_run(links["runs"][0])
    assert run.data.tags["modelyard.pipeline_run"] == changed.run_id and run.data.tags["modelyard.pipeline_step"] == "train"
    rows = Client(store).store.pipelines.runs("training")
    assert [r.status for r in rows] == ["succeeded"] * 3


def test_code_changes_invalidate_the_cache(store: str) -> None:
    @step
    def double(x: int) -> int:
        return x * 2

    @pipeline
    def p(x: int = 2) -> int:
        return double(x)

    assert p.run().steps[0].status == "ran"
    assert p.run().steps[0].status == "cached"

    @step(name="double")
    def double_v2(x: int) -> int:
        return x * 2 + 0  # same name, other code

    @pipeline
    def p2(x: int = 2) -> int:
        return double_v2(x)

    assert p2.run().steps[0].status == "ran"


def test_process_engine_and_failures(store: str, tmp_path: Path) -> None:
    result = d.sleepy.run(engine="process", seconds=0.0, marker=str(tmp_path / "m.txt"))
    assert result.output == "done" and result.steps[0].status == "ran"
    import os

    pids = (tmp_path / "m.txt").read_text().split()
    assert pids and pids[0] != str(os.getpid())  # the step ran in another process

    @step
    def boom() -> int:
        raise RuntimeError("step failed")

    @pipeline
    def bad() -> int:
        return boom()

    with pytest.raises(RuntimeError, match="step failed"):
        bad.run()
    row = Client(store).store.pipelines.runs("bad")[0]
    assert row.status == "failed" and "step failed" in (row.error or "")
    with pytest.raises(ValidationError, match="parameters are"):
        d.training.run(rowz=3)
    with pytest.raises(ValidationError, match="engine"):
        d.training.run(engine="spark")


def test_ray_engine(store: str, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    result = d.sleepy.run(engine="ray", seconds=0.0, marker=str(tmp_path / "ray.txt"))
    assert result.output == "done"


def test_cli_run_runs_show_and_lineage(store: str, tmp_path: Path) -> None:
    runner = CliRunner()
    ran = runner.invoke(app, ["pipelines", "run", str(HERE / "definitions.py"), "training", "-p", "rows=150", "--json", "-t", store])
    assert ran.exit_code == 0, ran.output
    body = json.loads(ran.output)
    assert [s["status"] for s in body["steps"]] == ["ran", "ran", "ran"]
    listed = runner.invoke(app, ["pipelines", "runs", "--json", "-t", store])
    assert json.loads(listed.output)[0]["run_id"] == body["run_id"]
    shown = runner.invoke(app, ["pipelines", "show", body["run_id"][:8], "-t", store])
    assert shown.exit_code == 0 and "train" in shown.output
    lineage = runner.invoke(app, ["lineage", "models:/toy@champion", "--json", "-t", store])
    assert lineage.exit_code == 0, lineage.output
    info = json.loads(lineage.output)
    assert info["pipeline_run"]["run_id"] == body["run_id"] and info["pipeline_run"]["step"] == "train"
    assert info["aliases"] == ["champion"] and info["run"]["params"]["C"] == "1.0"
    tree = runner.invoke(app, ["lineage", "models:/toy/1", "-t", store])
    assert "pipeline training" in tree.output
    missing = runner.invoke(app, ["pipelines", "run", str(tmp_path / "nope.py"), "x"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    (tmp_path / "broken.py").write_text("from modelyard.pipelines import pipeline\n\nx = 1\ny = undefined_name\n")
    broken = runner.invoke(app, ["pipelines", "run", str(tmp_path / "broken.py"), "x"])
    assert broken.exit_code == 2 and "line 4" in broken.output and "undefined_name" in broken.output


def test_load_file_finds_pipelines_and_schedules() -> None:
    pipelines, schedules = load_file(HERE / "definitions.py")
    assert {"training", "sleepy"} <= set(pipelines) and [s.name for s in schedules] == ["hourly-sleepy"]
