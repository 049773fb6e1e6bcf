"""Roles on a team server: an editor of one experiment may create experiments and models
and upload bytes (the new thing is theirs to fill), but the shared stores — features,
monitoring, pipelines — need the global editor role."""

from __future__ import annotations

import pytest

import modelyard
from modelyard.core.errors import PermissionDeniedError
from modelyard.store._monitor_store import MetricPoint
from modelyard.store._remote import HttpStore

from .conftest import Live


def test_an_editor_of_one_experiment_cannot_write_the_shared_stores(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = live_server.state.store.create_experiment("theirs")
    token = live_server.user("ed1", "viewer")
    live_server.state.store.users.set_permission("ed1", "experiment", experiment, "editor")
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", token)
    client = modelyard.Client(live_server.url)

    run = client.create_run(experiment)  # their experiment: allowed
    client.log_metric(run.info.run_id, "loss", 0.5)
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}
    assert client.create_experiment("another") != experiment  # creating one: editor somewhere
    mine = HttpStore(live_server.url, token)

    try:
        with pytest.raises(PermissionDeniedError, match="global role 'editor'"):
            mine.features.apply("shop", {("entity", "user"): {"join_keys": ["user_id"]}}, [])
        with pytest.raises(PermissionDeniedError, match="global role 'editor'"):
            mine.monitoring.record("ep", 0, 10, [MetricPoint("ep", 0, 10, "psi", "x", "1", "main", 0.1)])
        with pytest.raises(PermissionDeniedError, match="global role 'editor'"):
            mine.pipelines.create_run(
                "r1", "p", trigger="manual", params={}, engine="inprocess", owner="o", lease_ms=1000
            )
    finally:
        mine.close()
    store = live_server.state.store
    assert store.features.projects() == []
    assert store.monitoring.endpoints() == []
    assert store.pipelines.runs() == []
