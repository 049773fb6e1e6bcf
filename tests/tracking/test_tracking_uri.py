"""``Client()`` follows ``set_tracking_uri`` and ``$MODELYARD_TRACKING_URI`` as the fluent API
does (MlflowClient's semantics), artifacts included: no silent second store."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard as my


def test_client_follows_set_tracking_uri(tmp_path: Path) -> None:
    my.set_tracking_uri(f"sqlite:///{tmp_path / 'mine' / 'my.db'}")
    my.set_experiment("credit")
    with my.start_run() as run:
        my.log_metric("auc", 0.9)
    client = my.Client()
    assert client.tracking_uri == my.get_tracking_uri()
    assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.9}
    assert client.get_experiment_by_name("credit") is not None
    assert client.artifact_uri == my.get_client().artifact_uri == str(tmp_path / "mine" / "artifacts")
    assert not (tmp_path / "home").exists()  # the home folder's store was never opened


def test_client_follows_the_environment_and_an_explicit_uri_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_TRACKING_URI", str(tmp_path / "team"))
    env_client = my.Client()
    assert env_client.tracking_uri == str(tmp_path / "team")
    assert env_client.artifact_uri == str(tmp_path / "team" / "artifacts")
    experiment = env_client.create_experiment("from-env")
    assert my.get_experiment(experiment).name == "from-env"  # the fluent API sees the same store
    my.set_tracking_uri(tmp_path / "set")  # the process's URI outranks the environment's
    assert my.Client().tracking_uri == str(tmp_path / "set")
    assert my.Client(str(tmp_path / "explicit")).tracking_uri == str(tmp_path / "explicit")
    my.set_tracking_uri(None)  # back to the environment
    assert my.Client().tracking_uri == str(tmp_path / "team")


def test_the_artifact_uri_from_the_environment_is_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_ARTIFACT_URI", str(tmp_path / "blobs"))
    my.set_tracking_uri(tmp_path / "store")
    assert my.Client().artifact_uri == my.get_client().artifact_uri == str(tmp_path / "blobs")
