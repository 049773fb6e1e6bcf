"""The MLflow façade's edges over real HTTP: tokens and roles (401/403 in MLflow's error
shape), 501 naming an unsupported endpoint, 4xx naming the field for bad bodies, and
artifact paths that try to leave their run."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import modelyard

from .conftest import Live
from .mlflow_process import run_mlflow

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"

WITH_AND_WITHOUT_TOKEN = """
import json, os
import mlflow
from mlflow import MlflowClient

token = os.environ.pop("MLFLOW_TRACKING_TOKEN")
try:
    MlflowClient().search_experiments()
    refused = None
except mlflow.exceptions.MlflowException as error:
    refused = error.error_code
os.environ["MLFLOW_TRACKING_TOKEN"] = token
mlflow.set_experiment("secured")
with mlflow.start_run() as run:
    mlflow.log_metric("auc", 0.9)
    mlflow.log_param("depth", 3)
got = MlflowClient().get_run(run.info.run_id)
print(json.dumps({"refused": refused, "user": got.info.user_id, "metrics": got.data.metrics}))
"""


def test_tokens_and_roles_in_mlflow_error_shape(live_server: Live, tmp_path: Path) -> None:
    editor = live_server.user("ana", "editor")
    viewer = live_server.user("vic", "viewer")

    with live_server.http() as anonymous:
        answer = anonymous.get(f"{API}/experiments/search")
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"
    assert "MLFLOW_TRACKING_TOKEN" in answer.json()["message"]

    with live_server.http(viewer) as http:
        assert http.get(f"{API}/experiments/search").status_code == 200
        refused = http.post(f"{API}/experiments/create", json={"name": "nope"})
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"

    out = run_mlflow(WITH_AND_WITHOUT_TOKEN, live_server.url, tmp_path / "mlflow", token=editor)
    assert out["refused"] == "UNAUTHENTICATED"
    assert out["user"] == "ana" and out["metrics"] == {"auc": 0.9}

    run_id = live_server.state.store.search_runs(
        [live_server.state.store.get_experiment_by_name("secured").experiment_id], ""
    )[0].info.run_id  # type: ignore[union-attr]
    with live_server.http(viewer) as http:
        assert http.get(f"{API}/runs/get", params={"run_id": run_id}).status_code == 200
        write = http.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "x", "value": 1})
    assert write.status_code == 403 and write.json()["error_code"] == "PERMISSION_DENIED"


def test_unsupported_endpoints_answer_501_naming_them(open_server: Live) -> None:
    with open_server.http() as http:
        document = http.get(f"{API}/openapi.json").json()
        ajax = http.get("/ajax-api/2.0/mlflow/experiments/search")
        traces = http.post(f"{API}/traces", json={})
        v3 = http.get("/api/3.0/mlflow/traces/abc")
        rename = http.post(f"{API}/registered-models/rename", json={"name": "a", "new_name": "b"})
    assert ajax.status_code == 200 and "experiments" in ajax.json()
    batch = document["paths"][f"{API}/runs/log-batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MLflowLogBatch"
    }
    assert "metrics" in document["components"]["schemas"]["MLflowLogBatch"]["properties"]
    for answer, named in (
        (traces, "/traces"),
        (v3, "/api/3.0/mlflow/traces/abc"),
        (rename, "rename"),
    ):
        assert answer.status_code == 501
        assert answer.json()["error_code"] == "NOT_IMPLEMENTED"
        assert named in answer.json()["message"]


def test_bad_requests_are_4xx_naming_the_field(open_server: Live) -> None:
    with open_server.http() as http:
        missing = http.post(f"{API}/runs/log-metric", json={"run_id": "a" * 32, "value": 1.0})
        wrong = http.post(
            f"{API}/runs/log-metric", json={"run_id": "a" * 32, "key": "k", "value": "x"}
        )
        broken = http.post(
            f"{API}/runs/log-batch", content=b"{nope", headers={"content-type": "application/json"}
        )
        text = http.post(
            f"{API}/runs/log-batch", content=b"run_id=1", headers={"content-type": "text/plain"}
        )
        unknown = http.get(f"{API}/runs/get", params={"run_id": "f" * 32})
        no_model = http.get(f"{API}/registered-models/get", params={"name": "ghost"})
        exists = [http.post(f"{API}/experiments/create", json={"name": "twice"}) for _ in range(2)]
    assert missing.status_code == 400 and "key" in missing.json()["message"]
    assert missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert wrong.status_code == 400 and "value" in wrong.json()["message"]
    assert broken.status_code == 400 and "nope" not in broken.json()["message"]
    assert text.status_code == 415
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert (
        no_model.status_code == 404 and no_model.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    )
    assert exists[0].status_code == 200
    assert (
        exists[1].status_code == 400 and exists[1].json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    )


def _raw(url: str, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``path`` exactly as written (no client-side normalization of '..')."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"content-type": "application/octet-stream"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_artifact_paths_cannot_leave_their_run(open_server: Live) -> None:
    ours = modelyard.Client(open_server.store_url, artifact_uri=open_server.artifacts)
    experiment = ours.create_experiment("paths")
    run = ours.create_run(experiment).info.run_id
    base = f"{ARTIFACTS}/{experiment}/{run}/artifacts"

    status, _ = _raw(open_server.url, "PUT", f"{base}/ok/file.txt", b"fine")
    assert status == 200
    assert ours.read_artifact(run, "ok/file.txt") == b"fine"

    for path in (
        f"{base}/../../../etc/passwd",
        f"{base}/ok/%2e%2e/%2e%2e/%2e%2e/x",
        f"{base}/ok/%252e%252e/x",
        f"{base}/ok\\..\\..\\x",
        f"{ARTIFACTS}//etc/passwd",
        f"{ARTIFACTS}/{experiment}/..%2f{run}/artifacts/x",
    ):
        status, body = _raw(open_server.url, "PUT", path, b"evil")
        assert status == 400, (path, status, body)
        assert b"INVALID_PARAMETER_VALUE" in body
        status, _ = _raw(open_server.url, "GET", path)
        assert status == 400, path
    status, _ = _raw(open_server.url, "GET", f"{ARTIFACTS}?path=../../etc")
    assert status == 400
    assert [f.path for f in ours.list_artifact_files(run)] == ["ok/file.txt"]
