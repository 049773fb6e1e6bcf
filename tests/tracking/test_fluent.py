"""The fluent API, named after MLflow's: set_experiment, start_run, log_*, end_run ..."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard as my
from modelyard import RunStatus


def test_a_run_in_a_with_block(fluent: str) -> None:
    experiment = my.set_experiment("credit")
    with my.start_run(run_name="baseline", tags={"team": "risk"}) as run:
        assert my.active_run() is run
        my.log_param("model", "gbm")
        my.log_params({"lr": 0.1, "depth": 3})
        my.log_metric("auc", 0.81, step=1)
        my.log_metrics({"auc": 0.84, "loss": 0.3}, step=2)
        my.set_tags({"stage": "dev"})
        my.log_text("notes", "notes.txt")
    assert my.active_run() is None
    stored = my.get_run(run.info.run_id)
    assert (
        stored.info.status is RunStatus.FINISHED
        and stored.info.experiment_id == experiment.experiment_id
    )
    assert stored.data.params == {"model": "gbm", "lr": "0.1", "depth": "3"}
    assert stored.data.metrics == {"auc": 0.84, "loss": 0.3}
    assert stored.data.tags["team"] == "risk" and stored.data.tags["stage"] == "dev"
    assert my.last_active_run().info.run_id == run.info.run_id  # type: ignore[union-attr]


def test_context_is_captured(fluent: str) -> None:
    with my.start_run() as run:
        pass
    stored = my.get_run(run.info.run_id)
    assert stored.context["python"].count(".") == 2
    assert "sqlalchemy" in stored.context["packages"]
    assert stored.context["command"] and stored.context["host"]
    assert stored.data.tags["modelyard.host"] == stored.context["host"]


def test_git_commit_and_dirty_flag_are_captured(
    fluent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(
            ["git", *args], cwd=repo, check=True, env={**__import__("os").environ, **env}
        )
    (repo / "train.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "train.py"], cwd=repo, check=True)
    subprocess.run(
        ["git", "commit", "-q", "-m", "train"],
        cwd=repo,
        check=True,
        env={**__import__("os").environ, **env},
    )
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.chdir(repo)
    with my.start_run() as clean:
        pass
    (repo / "train.py").write_text("x = 2\n")
    with my.start_run() as dirty:
        pass
    assert my.get_run(clean.info.run_id).context["git"] == {
        "commit": head,
        "branch": my.get_run(clean.info.run_id).context["git"]["branch"],
        "dirty": False,
        "remote": None,
    }
    assert my.get_run(dirty.info.run_id).context["git"]["dirty"] is True
    assert my.get_run(dirty.info.run_id).data.tags["modelyard.git.commit"] == head


def test_an_exception_marks_the_run_failed(fluent: str) -> None:
    with pytest.raises(RuntimeError), my.start_run() as run:
        raise RuntimeError("boom")
    assert my.get_run(run.info.run_id).info.status is RunStatus.FAILED


def test_nested_runs(fluent: str) -> None:
    with my.start_run(run_name="parent") as parent:
        with pytest.raises(my.InvalidStateError, match="already active; .* nested=True"):
            my.start_run()
        with my.start_run(run_name="child", nested=True) as child:
            my.log_metric("m", 1)
        assert my.active_run() is parent
    assert my.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id


def test_logging_without_a_run_starts_one_in_the_default_experiment(fluent: str) -> None:
    my.log_metric("m", 1.0)
    run = my.active_run()
    assert run is not None
    my.end_run()
    stored = my.get_run(run.info.run_id)
    assert stored.data.metrics == {"m": 1.0}
    assert my.get_client().get_experiment(stored.info.experiment_id).name == "Default"


def test_resuming_a_finished_run(fluent: str) -> None:
    with my.start_run() as run:
        my.log_metric("m", 1.0, step=0)
    with pytest.raises(my.InvalidStateError, match="FINISHED"):
        my.get_client().log_metric(run.info.run_id, "m", 2.0, step=1)
    with my.start_run(run_id=run.info.run_id):
        my.log_metric("m", 2.0, step=1)
    assert [p.value for p in my.get_client().get_metric_history(run.info.run_id, "m")] == [1.0, 2.0]


def test_search_runs_returns_a_dataframe(fluent: str) -> None:
    my.set_experiment("s")
    for model, auc in [("gbm", 0.9), ("rf", 0.85), ("gbm", 0.7)]:
        with my.start_run():
            my.log_param("model", model)
            my.log_metric("auc", auc)
    frame = my.search_runs(filter_string="metrics.auc > 0.8", order_by=["metrics.auc DESC"])
    assert list(frame["metrics.auc"]) == [0.9, 0.85]
    assert list(frame["params.model"]) == ["gbm", "rf"]
    runs = my.search_runs(
        experiment_names=["s"], filter_string="params.model = 'gbm'", output_format="list"
    )
    assert sorted(r.data.metrics["auc"] for r in runs) == [0.7, 0.9]


def test_default_store_is_the_project_home(tmp_path: Path) -> None:
    with my.start_run() as run:
        my.log_metric("m", 1.0)
    assert (tmp_path / "home" / "modelyard.db").exists()
    assert my.get_tracking_uri().endswith("home/modelyard.db")
    assert my.Client(str(tmp_path / "home")).get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_tracking_uri_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_TRACKING_URI", f"sqlite:///{tmp_path}/env.db")
    my.set_tracking_uri(None)
    with my.start_run():
        my.log_metric("m", 1.0)
    assert (tmp_path / "env.db").exists()


def test_unsupported_tracking_uri_scheme(tmp_path: Path) -> None:
    my.set_tracking_uri("mongodb://localhost/x")
    with pytest.raises(my.ConfigurationError, match="unsupported scheme 'mongodb'"):
        my.start_run()


def test_log_config_from_yaml_file_dict_and_omegaconf(fluent: str, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    path = tmp_path / "train.yaml"
    path.write_text("model:\n  name: gbm\n  lr: 0.05\nlayers: [64, 32]\nseed: 7\n")
    with my.start_run() as run:
        flat = my.log_config(path)
    assert flat == {"model.name": "gbm", "model.lr": "0.05", "layers": "[64, 32]", "seed": "7"}
    assert my.get_run(run.info.run_id).data.params == flat
    assert (
        my.get_client().read_artifact(run.info.run_id, "config.yaml").decode() == path.read_text()
    )

    cfg = OmegaConf.create({"opt": {"lr": "${base}", "name": "adam"}, "base": 0.1})
    with my.start_run() as run2:
        my.log_config(cfg, artifact_file="hydra/config.yaml")
    assert my.get_run(run2.info.run_id).data.params == {
        "opt.lr": "0.1",
        "opt.name": "adam",
        "base": "0.1",
    }
    assert b"adam" in my.get_client().read_artifact(run2.info.run_id, "hydra/config.yaml")


def test_log_config_refuses_what_it_cannot_read(fluent: str, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with my.start_run():
        with pytest.raises(my.ValidationError, match="is not valid YAML"):
            my.log_config(tmp_path / "bad.yaml")
        with pytest.raises(my.ValidationError, match="does not exist"):
            my.log_config(tmp_path / "missing.yaml")
        with pytest.raises(my.ValidationError, match="takes a YAML file path, a dict"):
            my.log_config(42)


def test_compare_runs_and_plot(fluent: str, tmp_path: Path) -> None:
    ids = []
    for lr in (0.1, 0.2):
        with my.start_run(run_name=f"lr-{lr}") as run:
            my.log_params({"lr": lr, "model": "gbm"})
            for step in range(5):
                my.log_metric("loss", 1.0 / (step + 1) + lr, step=step)
        ids.append(run.info.run_id)
    frame = my.compare_runs(ids)
    assert list(frame.index) == ["lr-0.1", "lr-0.2"]
    assert list(frame["params.lr"]) == ["0.1", "0.2"]
    assert frame.loc["lr-0.2", "metrics.loss"] == pytest.approx(0.4)
    diff = my.compare_runs(ids, only_differences=True)
    assert "params.model" not in diff.columns and "params.lr" in diff.columns
    png = my.plot_metric_history(ids, tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


def test_log_figure_and_download_by_runs_uri(fluent: str, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    with my.start_run() as run:
        my.log_figure(fig, "plots/curve.png")
    plt.close(fig)
    local = Path(my.download_artifacts(f"runs:/{run.info.run_id}/plots", tmp_path / "dl"))
    assert (local / "curve.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(my.ValidationError, match="expected runs:/<32-hex run id>/<path>"):
        my.download_artifacts("runs:/short/plots")


def test_experiment_helpers(fluent: str) -> None:
    experiment_id = my.create_experiment("helpers", tags={"a": "1"})
    assert my.get_experiment(experiment_id).name == "helpers"
    assert my.get_experiment_by_name("helpers").tags == {"a": "1"}  # type: ignore[union-attr]
    my.set_experiment("helpers")
    my.set_experiment_tag("b", 2)
    assert my.get_experiment(experiment_id).tags == {"a": "1", "b": "2"}
    with my.start_run() as run:
        pass
    my.delete_run(run.info.run_id)
    assert my.search_runs(output_format="list") == []
    my.delete_experiment(experiment_id)
    assert [e.name for e in my.search_experiments()] == []
    with pytest.raises(my.InvalidStateError, match="is deleted; restore it"):
        my.set_experiment("helpers")
