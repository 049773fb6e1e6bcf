"""The Client on every metadata backend: what is logged is what is read back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import modelyard
from modelyard import Metric, Param, RunStatus, RunTag


@pytest.fixture
def run_id(client: modelyard.Client) -> str:
    experiment_id = client.create_experiment("exp")
    return client.create_run(experiment_id, run_name="r1", tags={"team": "risk"}).info.run_id


def test_experiments_round_trip(client: modelyard.Client) -> None:
    experiment_id = client.create_experiment("credit", tags={"owner": "ana"})
    found = client.get_experiment_by_name("credit")
    assert found is not None and found.experiment_id == experiment_id
    assert found.tags == {"owner": "ana"}
    client.rename_experiment(experiment_id, "credit-v2")
    assert client.get_experiment(experiment_id).name == "credit-v2"
    client.delete_experiment(experiment_id)
    assert client.search_experiments() == []
    assert [e.name for e in client.search_experiments("all")] == ["credit-v2"]
    client.restore_experiment(experiment_id)
    assert [e.name for e in client.search_experiments()] == ["credit-v2"]


def test_duplicate_experiment_name_is_a_conflict(client: modelyard.Client) -> None:
    client.create_experiment("same")
    with pytest.raises(modelyard.ConflictError, match="experiment 'same' already exists"):
        client.create_experiment("same")


def test_run_lifecycle_and_timings(client: modelyard.Client, run_id: str) -> None:
    run = client.get_run(run_id)
    assert run.info.status is RunStatus.RUNNING and run.info.end_time is None
    assert run.info.run_name == "r1" and run.data.tags == {"team": "risk"}
    client.set_terminated(run_id, "FAILED")
    ended = client.get_run(run_id).info
    assert ended.status is RunStatus.FAILED
    assert ended.end_time is not None and ended.end_time >= ended.start_time


def test_metric_series_keep_every_point_and_latest_is_highest_step(
    client: modelyard.Client, run_id: str
) -> None:
    for step, value in [(0, 0.5), (2, 0.7), (1, 0.6)]:
        client.log_metric(run_id, "auc", value, step=step, timestamp=1000 + step)
    history = client.get_metric_history(run_id, "auc")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert all(isinstance(m, Metric) for m in history)
    assert client.get_run(run_id).data.metrics == {"auc": 0.7}


def test_nan_and_infinity_survive(client: modelyard.Client, run_id: str) -> None:
    client.log_metric(run_id, "loss", float("nan"), step=0)
    client.log_metric(run_id, "ratio", float("inf"), step=0)
    assert math.isnan(client.get_metric_history(run_id, "loss")[0].value)
    assert client.get_run(run_id).data.metrics["ratio"] == float("inf")


def test_log_batch_of_ten_thousand_points_in_one_call(
    client: modelyard.Client, run_id: str
) -> None:
    points = [Metric(f"k{k}", float(i), 1_000 + i, i) for k in range(10) for i in range(1000)]
    client.log_batch(run_id, metrics=points, params=[Param("lr", "0.1")], tags=[RunTag("t", "v")])
    assert len(client.get_metric_history(run_id, "k7")) == 1000
    run = client.get_run(run_id)
    assert run.data.metrics == {f"k{k}": 999.0 for k in range(10)}
    assert run.data.params == {"lr": "0.1"} and run.data.tags["t"] == "v"


def test_params_are_idempotent_but_immutable(client: modelyard.Client, run_id: str) -> None:
    client.log_param(run_id, "lr", 0.1)
    client.log_param(run_id, "lr", "0.1")  # same value again is fine
    with pytest.raises(
        modelyard.ParamConflictError,
        match="param 'lr' of run .* is already '0.1'; it cannot change to '0.2'",
    ):
        client.log_param(run_id, "lr", 0.2)
    assert client.get_run(run_id).data.params == {"lr": "0.1"}


def test_a_batch_with_a_conflicting_param_writes_nothing(
    client: modelyard.Client, run_id: str
) -> None:
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(modelyard.ParamConflictError):
        client.log_batch(
            run_id,
            metrics=[Metric("m", 1.0, 1, 0)],
            params=[Param("depth", "3"), Param("lr", "0.5")],
            tags=[RunTag("t", "v")],
        )
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert "m" not in run.data.metrics and "t" not in run.data.tags
    assert client.get_metric_history(run_id, "m") == []


def test_a_batch_with_a_bad_key_writes_nothing(client: modelyard.Client, run_id: str) -> None:
    with pytest.raises(modelyard.ValidationError, match="path-like"):
        client.log_batch(run_id, metrics=[Metric("ok", 1.0, 1, 0), Metric("../x", 1.0, 1, 0)])
    assert client.get_metric_history(run_id, "ok") == []


def test_tags_overwrite_and_delete(client: modelyard.Client, run_id: str) -> None:
    client.set_tag(run_id, "team", "fraud")
    assert client.get_run(run_id).data.tags["team"] == "fraud"
    client.delete_tag(run_id, "team")
    assert "team" not in client.get_run(run_id).data.tags
    with pytest.raises(modelyard.NotFoundError, match="has no tag 'team'"):
        client.delete_tag(run_id, "team")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c, r: c.log_metric(r, "", 1.0), modelyard.ValidationError, "metric key is empty"),
        (
            lambda c, r: c.log_metric(r, "k" * 300, 1.0),
            modelyard.ValidationError,
            "300 characters long",
        ),
        (lambda c, r: c.log_metric(r, "../x", 1.0), modelyard.ValidationError, "path-like"),
        (
            lambda c, r: c.log_metric(r, "m", "high"),
            modelyard.ValidationError,
            "metric 'm' got value 'high' of type str",
        ),
        (lambda c, r: c.log_metric(r, "m", None), modelyard.ValidationError, "of type NoneType"),
        (lambda c, r: c.log_param(r, "", 1), modelyard.ValidationError, "param key is empty"),
        (lambda c, r: c.set_tag(r, "a/../../b", 1), modelyard.ValidationError, "path-like"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    client: modelyard.Client, run_id: str, call, error, message
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        call(client, run_id)
    run = client.get_run(run_id)
    assert run.data.metrics == {} and run.data.params == {} and run.data.tags == {"team": "risk"}


def test_logging_to_an_unknown_run_says_so(client: modelyard.Client) -> None:
    with pytest.raises(modelyard.NotFoundError, match="run 'nope' does not exist"):
        client.log_metric("nope", "m", 1.0)
    with pytest.raises(modelyard.NotFoundError, match="run 'nope' does not exist"):
        client.log_param("nope", "p", 1)
    with pytest.raises(modelyard.NotFoundError, match="run 'nope' does not exist"):
        client.get_metric_history("nope", "m")


def test_logging_to_a_finished_run_is_refused_until_resumed(
    client: modelyard.Client, run_id: str
) -> None:
    client.set_terminated(run_id)
    with pytest.raises(modelyard.InvalidStateError, match="is FINISHED; it no longer accepts data"):
        client.log_metric(run_id, "m", 1.0)
    with pytest.raises(modelyard.InvalidStateError, match="is FINISHED"):
        client.log_batch(run_id, params=[Param("p", "1")])
    assert client.get_metric_history(run_id, "m") == []
    client.resume_run(run_id)
    client.log_metric(run_id, "m", 1.0)
    assert client.get_run(run_id).data.metrics == {"m": 1.0}


def test_deleted_runs_refuse_data_and_leave_searches(client: modelyard.Client, run_id: str) -> None:
    experiment_id = client.get_run(run_id).info.experiment_id
    client.delete_run(run_id)
    with pytest.raises(modelyard.InvalidStateError, match="deleted"):
        client.log_metric(run_id, "m", 1.0)
    assert client.search_runs([experiment_id]) == []
    assert len(client.search_runs([experiment_id], run_view_type="all")) == 1
    client.restore_run(run_id)
    assert len(client.search_runs([experiment_id])) == 1


def test_nested_runs_record_their_parent(client: modelyard.Client, run_id: str) -> None:
    experiment_id = client.get_run(run_id).info.experiment_id
    child = client.create_run(experiment_id, parent_run_id=run_id)
    assert client.get_run(child.info.run_id).info.parent_run_id == run_id
    children = client.search_runs([experiment_id], f"attributes.parent_run_id = '{run_id}'")
    assert [r.info.run_id for r in children] == [child.info.run_id]
    with pytest.raises(modelyard.NotFoundError, match="parent run 'ghost' does not exist"):
        client.create_run(experiment_id, parent_run_id="ghost")


def test_artifacts_files_and_folders(client: modelyard.Client, run_id: str, tmp_path: Path) -> None:
    (tmp_path / "out" / "plots").mkdir(parents=True)
    (tmp_path / "out" / "report.txt").write_text("hello")
    (tmp_path / "out" / "plots" / "roc.png").write_bytes(b"\x89PNG fake")
    client.log_artifacts(run_id, tmp_path / "out", "results")
    client.log_artifact(run_id, tmp_path / "out" / "report.txt")
    client.log_dict(run_id, {"a": 1}, "meta/info.yaml")
    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("meta", True),
        ("report.txt", False),
        ("results", True),
    ]
    inside = client.list_artifacts(run_id, "results")
    assert [(f.path, f.is_dir, f.file_size) for f in inside] == [
        ("results/plots", True, None),
        ("results/report.txt", False, 5),
    ]
    assert client.read_artifact(run_id, "meta/info.yaml") == b"a: 1\n"
    local = Path(client.download_artifacts(run_id, "results", tmp_path / "dl"))
    assert (local / "plots" / "roc.png").read_bytes() == b"\x89PNG fake"
    assert (local / "report.txt").read_text() == "hello"
    with pytest.raises(modelyard.NotFoundError, match="has no artifact 'missing'"):
        client.download_artifacts(run_id, "missing")


def test_same_bytes_are_stored_once(client: modelyard.Client, run_id: str, tmp_path: Path) -> None:
    client.log_text(run_id, "same", "a.txt")
    client.log_text(run_id, "same", "b.txt")
    blobs = [p for p in (tmp_path / "artifacts" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    files = client.list_artifacts(run_id)
    assert files[0].digest == files[1].digest


def test_a_corrupted_blob_is_detected_not_returned(
    client: modelyard.Client, run_id: str, tmp_path: Path
) -> None:
    client.log_text(run_id, "precious model bytes", "model.bin")
    (blob,) = [p for p in (tmp_path / "artifacts" / "blobs").rglob("*") if p.is_file()]
    blob.write_bytes(b"tampered")
    with pytest.raises(modelyard.ArtifactIntegrityError, match="is corrupted: its bytes hash to"):
        client.read_artifact(run_id, "model.bin")
    with pytest.raises(modelyard.ArtifactIntegrityError):
        client.download_artifacts(run_id, "model.bin", tmp_path / "dl")
    assert not (tmp_path / "dl" / "model.bin").exists()


def test_dataset_inputs_are_recorded_with_schema(client: modelyard.Client, run_id: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"income": [1.0, 2.0, None], "segment": ["a", "b", "a"]})
    dataset = modelyard.data.from_pandas(frame, name="applications")
    client.log_input(run_id, dataset, context="training")
    client.log_input(run_id, dataset, context="training")  # idempotent
    (recorded,) = client.get_run(run_id).inputs
    assert recorded.name == "applications" and recorded.digest == dataset.digest
    assert recorded.schema == {"income": "float64", "segment": dataset.schema["segment"]}
    assert recorded.num_rows == 3
    assert dataset.profile["columns"]["income"]["null_rate"] == pytest.approx(1 / 3)
    assert modelyard.data.from_pandas(frame.copy(), name="x").digest == dataset.digest
    assert modelyard.data.from_pandas(frame.iloc[:2], name="x").digest != dataset.digest
