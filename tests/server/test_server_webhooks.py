"""Registry webhooks fire for writes made through ``modelyard server``: our HTTP client and the
stock ``mlflow`` client each create a version and move an alias, and the signed events reach a
real receiver with the bodies the library sends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard
from modelyard.registry._webhooks import verify

from ..events.receiver import receiver
from .conftest import Live
from .mlflow_process import run_mlflow

SECRET = "server-hook-secret"

MLFLOW_VERSION_AND_ALIAS = """
import json
import numpy as np
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

X = np.arange(20, dtype=float).reshape(10, 2)
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(LinearRegression().fit(X, X @ [1.0, 2.0]), name="model")
version = mlflow.register_model(info.model_uri, "from-mlflow")
MlflowClient().set_registered_model_alias("from-mlflow", "champion", version.version)
print(json.dumps({"version": version.version, "run_id": run.info.run_id}))
"""


@pytest.fixture
def hooked(open_server: Live, monkeypatch: pytest.MonkeyPatch) -> Live:
    monkeypatch.setenv("MODELYARD_WEBHOOK_BACKOFF", "0")
    return open_server


def test_writes_through_the_server_arrive_signed_at_the_receiver(
    hooked: Live, tmp_path: Path
) -> None:
    local = modelyard.Client(hooked.store_url, artifact_uri=hooked.artifacts)  # the same database
    with receiver() as got:
        hook = local.create_webhook(
            got.url, "version_created,alias_moved,approval,gate_result", SECRET
        )

        modelyard.set_tracking_uri(hooked.url)  # our client, over HTTP
        remote = modelyard.Client()
        x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
        version = remote.register_model("from-http", LogisticRegression().fit(x, [0, 1, 0, 1]))
        remote.approve_model_version("from-http", version.version, "ana", "looks right")
        remote.promote("from-http", version.version, "champion")  # gate checked, alias moved
        assert hooked.state.client.flush_webhooks()
        ours = got.wait_for(4)

        out = run_mlflow(MLFLOW_VERSION_AND_ALIAS, hooked.url, tmp_path / "mlflow")
        assert hooked.state.client.flush_webhooks()
        requests = got.wait_for(6)

    for request in requests:
        assert verify(SECRET, request.body, request.headers["X-Modelyard-Signature"])
    bodies = [r.json() for r in requests]
    assert [b["event"] for b in bodies] == [
        "version_created",
        "approval",
        "gate_result",
        "alias_moved",
        "version_created",
        "alias_moved",
    ]
    assert len(ours) == 4
    data = [b["data"] for b in bodies]
    assert data[0] == {
        "model": "from-http",
        "version": 1,
        "uri": "models:/from-http/1",
        "run_id": None,
        "actor": data[0]["actor"],
    }
    assert data[1] == {
        "model": "from-http",
        "version": 1,
        "approver": "ana",
        "reason": "looks right",
        "actor": data[1]["actor"],
    }
    assert data[2]["passed"] is True and data[2]["alias"] == "champion" and data[2]["checks"]
    assert data[3] == {
        "model": "from-http",
        "alias": "champion",
        "from_version": None,
        "to_version": 1,
        "actor": data[3]["actor"],
        "reason": "",
        "action": "promote",
    }
    assert data[4] == {
        "model": "from-mlflow",
        "version": 1,
        "uri": "models:/from-mlflow/1",
        "run_id": out["run_id"],
        "actor": data[4]["actor"],
    }
    assert data[5] == {
        "model": "from-mlflow",
        "alias": "champion",
        "from_version": None,
        "to_version": 1,
        "actor": data[5]["actor"],
        "reason": "",
        "action": "set_alias",
    }
    assert all(d["actor"] for d in data if "actor" in d)
    deliveries = local.list_webhook_deliveries(hook.webhook_id)
    assert len(deliveries) == 6 and all(d.ok for d in deliveries)


def test_the_events_name_the_authenticated_user_on_each_backend(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_WEBHOOK_BACKOFF", "0")
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("ada", "editor"))
    local = modelyard.Client(live_server.store_url, artifact_uri=live_server.artifacts)
    with receiver() as got:
        local.create_webhook(got.url, ["version_created", "alias_moved"], SECRET)
        modelyard.set_tracking_uri(live_server.url)
        remote = modelyard.Client()
        x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
        remote.register_model("owned", LogisticRegression().fit(x, [0, 1, 0, 1]))
        remote.set_registered_model_alias("owned", "staging", 1, reason="try it")
        remote.delete_registered_model_alias("owned", "staging", reason="done")
        assert live_server.state.client.flush_webhooks()
        requests = got.wait_for(3)
    data = [r.json()["data"] for r in requests]
    assert [d["actor"] for d in data] == ["ada", "ada", "ada"]
    assert [(d.get("from_version"), d.get("to_version"), d.get("action")) for d in data[1:]] == [
        (None, 1, "set_alias"),
        (1, None, "delete_alias"),
    ]
    assert [d.get("reason") for d in data[1:]] == ["try it", "done"]
