"""Pipelines: the DAG from data, the step cache, engines, links to runs and models, lineage."""

from __future__ import annotations

import json
import sys
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


def test_step_resources_are_checked_when_the_step_is_declared() -> None:
    @step(resources={"num_cpus": 0.5, "num_gpus": 0, "memory": 2 * 1024**3, "resources": {"trainer": 1}})
    def fit(x: int) -> int:
        return x

    assert fit.resources == {"num_cpus": 0.5, "num_gpus": 0, "memory": 2 * 1024**3, "resources": {"trainer": 1}}
    assert step(lambda: 1).resources == {}
    bad: list[tuple[object, str]] = [
        ({"num_cpu": 1}, r"step 'f': resources key 'num_cpu' is not one of \['num_cpus', 'num_gpus', 'memory', 'resources'\]"),
        ({"trainer": 1}, r"resources key 'trainer'.*custom resources go under 'resources'"),
        ({"num_cpus": "2"}, r"step 'f': resources\['num_cpus'\] must be a finite number >= 0, not '2'"),
        ({"memory": -1}, r"resources\['memory'\] must be a finite number >= 0, not -1"),
        ({"num_gpus": True}, r"resources\['num_gpus'\] must be a finite number >= 0, not True"),
        ({"num_cpus": float("inf")}, r"resources\['num_cpus'\] must be a finite number >= 0, not inf"),
        ({"resources": [1]}, r"resources\['resources'\] must be a dict of name to amount, not list"),
        ({"resources": {"CPU": 1}}, r"custom resource 'CPU' must be a name other than"),
        ({"resources": {"trainer": None}}, r"resources\['resources'\]\['trainer'\] must be a finite number >= 0, not None"),
        ([("num_cpus", 1)], r"step 'f': resources must be a dict"),
    ]
    for resources, message in bad:
        with pytest.raises(ValidationError, match=message):
            step(lambda: 1, name="f", resources=resources)  # type: ignore[arg-type]


def test_resources_are_ignored_in_process_and_ray_addresses_are_checked(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    @step(resources={"num_cpus": 64, "resources": {"nowhere": 1}})
    def big() -> str:
        return "ran anyway"

    @pipeline
    def p() -> str:
        return big()

    assert p.run().output == "ran anyway"  # the in-process engine only checks them
    with pytest.raises(ValidationError, match="ray_address='host:1' applies to engine='ray' only"):
        p.run(engine="process", ray_address="host:1")
    for address in ("http://head:8265", "head", "ray:/head:1", "head:port"):
        with pytest.raises(ValidationError, match=r"ray_address=.* is not a Ray address; use host:port"):
            p.run(engine="ray", ray_address=address)
    monkeypatch.setenv("RAY_ADDRESS", "nowhere")
    with pytest.raises(ValidationError, match=r"\$RAY_ADDRESS='nowhere' is not a Ray address"):
        p.run(engine="ray")
    assert [r.status for r in Client(store).store.pipelines.runs("p")] == ["succeeded"]  # bad input starts no run


def test_a_pipeline_file_with_helpers_and_a_neighbour_module_runs_in_another_process(store: str, tmp_path: Path) -> None:
    """A file's module name exists only in the process that loaded it: the process engine gets
    the file's source and its folder, and the step finds the file's helpers and neighbours."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "neighbour_of_pipes.py").write_text("def double(x):\n    return 2 * x\n")
    (project / "pipes.py").write_text(
        "from neighbour_of_pipes import double\n\nfrom modelyard.pipelines import pipeline, step\n\n\n"
        "def triple(x):\n    return 3 * x\n\n\nclass Box:\n    def __init__(self, x):\n        self.x = x\n\n\n"
        "@step\ndef calc(x: int) -> Box:\n    return Box(triple(x) + double(x))\n\n\n"
        "@pipeline\ndef flow(x: int = 1) -> Box:\n    return calc(x)\n"
    )
    pipelines, _ = load_file(project / "pipes.py")
    result = pipelines["flow"].run(engine="process", x=2)
    box = result.output
    assert box.x == 10 and type(box) is vars(sys.modules[type(box).__module__])["Box"]  # the loaded file's own class


def test_what_a_cluster_is_sent_of_the_users_code(tmp_path: Path) -> None:
    from modelyard.pipelines._ray import shipped_code

    project = tmp_path / "project"
    (project / "shelf_pkg").mkdir(parents=True)
    (project / "shelf_pkg" / "__init__.py").write_text("X = 1\n")
    (project / "near_module.py").write_text("Y = 2\n")
    (project / "unused_module.py").write_text("Z = 3\n")
    (project / "flow.py").write_text(
        "import near_module\nimport shelf_pkg\n\nfrom modelyard.pipelines import pipeline, step\n\n\n"
        "@step\ndef s() -> int:\n    return near_module.Y + shelf_pkg.X\n\n\n@pipeline\ndef p() -> int:\n    return s()\n"
    )
    pipelines, _ = load_file(project / "flow.py")
    fn = pipelines["p"].trace({})[0][0].step.fn
    # what the file imported from its folder (not the file: it travels in each call); not modelyard, not installed code
    assert sorted(shipped_code([fn])) == [str(project.resolve() / "near_module.py"), str(project.resolve() / "shelf_pkg")]
    assert shipped_code([d.load.fn]) == [str(HERE.parent)]  # a module not installed: its top-level package
    assert shipped_code([json.dumps]) == []
