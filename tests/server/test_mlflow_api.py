"""The MLflow façade's edges over real HTTP: tokens and roles (401/403 in MLflow's error
shape), 501 naming an unsupported endpoint, 4xx naming the field for bad bodies, and
artifact paths that try to leave their run."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import httpx

import modelyard
from modelyard.server import ServerConfig, build_state, create_app

from .conftest import Live
from .live import serve
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
    mlflow.log_text("secret", "notes/a.txt")
got = MlflowClient().get_run(run.info.run_id)
text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes/a.txt")
print(json.dumps({
    "refused": refused, "user": got.info.user_id, "metrics": got.data.metrics, "text": text,
    "artifact_uri": got.info.artifact_uri,
}))
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
    assert out["text"] == "secret"
    artifact = "/api/2.0/mlflow-artifacts/artifacts/" + out["artifact_uri"].split(":/", 1)[1]
    with live_server.http() as anonymous:
        assert anonymous.get(f"{artifact}/notes/a.txt").status_code == 401
    with live_server.http(viewer) as http:
        assert http.get(f"{artifact}/notes/a.txt").content == b"secret"
        refused_upload = http.put(f"{artifact}/notes/b.txt", content=b"nope")
    assert refused_upload.status_code == 403
    assert refused_upload.json()["error_code"] == "PERMISSION_DENIED"

    live_server.state.audit.flush()
    writes = {(w.actor, w.operation) for w in live_server.state.store.users.writes()}
    assert {("ana", "mlflow.logMetric"), ("ana", "mlflow.artifacts.put")} <= writes
    assert ("vic", "mlflow.artifacts.put") in writes  # refused writes are audited too
    logged = [
        w for w in live_server.state.store.users.writes("ana") if w.operation == "mlflow.logParam"
    ]
    assert logged and "run_id=" in logged[0].target

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
    status, _ = _raw(open_server.url, "PUT", f"{ARTIFACTS}/99{experiment}/{run}/artifacts/x", b"x")
    assert status == 404  # the run is not in that experiment
    status, _ = _raw(open_server.url, "GET", f"{ARTIFACTS}?path=../../etc")
    assert status == 400
    assert [f.path for f in ours.list_artifact_files(run)] == ["ok/file.txt"]


def test_lifecycles_inputs_and_registry_edits_over_raw_http(open_server: Live) -> None:
    ours = modelyard.Client(open_server.store_url, artifact_uri=open_server.artifacts)
    with open_server.http() as http:

        def call(method: str, path: str, body: dict[str, object] | None = None) -> dict:  # type: ignore[type-arg]
            if method == "GET":
                answer = http.get(f"{API}{path}", params=body)
            else:
                answer = http.request(method, f"{API}{path}", json=body or {})
            assert answer.status_code == 200, (path, answer.text)
            return answer.json()  # type: ignore[no-any-return]

        experiment = call("POST", "/experiments/create", {"name": "life"})["experiment_id"]
        call("POST", "/experiments/update", {"experiment_id": experiment, "new_name": "lifecycle"})
        call("POST", "/experiments/delete", {"experiment_id": experiment})
        deleted = call("POST", "/experiments/search", {"view_type": "DELETED_ONLY"})
        assert [e["name"] for e in deleted["experiments"]] == ["lifecycle"]
        call("POST", "/experiments/restore", {"experiment_id": experiment})
        named = call("GET", "/experiments/search", {"filter": "name = 'lifecycle'"})
        assert [e["experiment_id"] for e in named["experiments"]] == [experiment]

        run = call("POST", "/runs/create", {"experiment_id": experiment, "run_name": "r1"})
        run_id = run["run"]["info"]["run_id"]
        assert (
            run["run"]["info"]["artifact_uri"]
            == f"mlflow-artifacts:/{experiment}/{run_id}/artifacts"
        )
        call("POST", "/runs/log-parameter", {"run_id": run_id, "key": "depth", "value": "3"})
        schema = '{"mlflow_colspec": [{"type": "double", "name": "x"}]}'
        call(
            "POST",
            "/runs/log-inputs",
            {
                "run_id": run_id,
                "datasets": [
                    {
                        "tags": [{"key": "mlflow.data.context", "value": "train"}],
                        "dataset": {
                            "name": "credit",
                            "digest": "abc123",
                            "source_type": "local",
                            "source": '{"uri": "data.csv"}',
                            "schema": schema,
                            "profile": '{"num_rows": 10}',
                        },
                    }
                ],
            },
        )
        call(
            "POST", "/runs/update", {"run_id": run_id, "run_name": "renamed", "status": "FINISHED"}
        )
        late = http.post(
            f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "late", "value": "x"}
        )
        assert late.status_code == 400 and late.json()["error_code"] == "INVALID_STATE"
        call("POST", "/runs/delete", {"run_id": run_id})
        assert call("POST", "/runs/search", {"experiment_ids": [experiment]}).get("runs", []) == []
        call("POST", "/runs/restore", {"run_id": run_id})
        got = call("GET", "/runs/get", {"run_id": run_id})["run"]
        assert got["info"]["run_name"] == "renamed" and got["info"]["status"] == "FINISHED"
        assert got["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "credit"

        mine = ours.get_run(run_id)
        assert [(d.name, d.digest, d.context, d.num_rows) for d in mine.inputs] == [
            ("credit", "abc123", "train", 10)
        ]
        assert mine.inputs[0].schema == {"x": "double"}

        call("POST", "/registered-models/create", {"name": "m", "description": "d"})
        call("POST", "/registered-models/set-tag", {"name": "m", "key": "team", "value": "risk"})
        call("DELETE", "/registered-models/delete-tag", {"name": "m", "key": "team"})
        call("PATCH", "/registered-models/update", {"name": "m", "description": "new"})
        model = call("GET", "/registered-models/get", {"name": "m"})["registered_model"]
        assert model["description"] == "new" and model["tags"] == []
        no_files = http.post(
            f"{API}/model-versions/create", json={"name": "m", "source": f"runs:/{run_id}/model"}
        )
        assert no_files.status_code == 400 and "MLmodel" in no_files.json()["message"]
        elsewhere = http.post(
            f"{API}/model-versions/create", json={"name": "m", "source": "s3://bucket/model"}
        )
        assert elsewhere.status_code == 400 and "source" in elsewhere.json()["message"]

        second = call("POST", "/runs/create", {"experiment_id": experiment})["run"]["info"][
            "run_id"
        ]
        folder = f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{second}/artifacts/model"
        for name, data in (("MLmodel", b"flavors: {}\n"), ("data/weights.bin", b"\x00\x01")):
            assert http.put(f"{folder}/{name}", content=data).status_code == 200
        version = call(
            "POST", "/model-versions/create", {"name": "m", "source": f"runs:/{second}/model"}
        )["model_version"]
        assert version["version"] == "1" and version["run_id"] == second
        uri = call("GET", "/model-versions/get-download-uri", {"name": "m", "version": "1"})
        assert uri["artifact_uri"] == "mlflow-artifacts:/models/m/1"
        pinned = "/api/2.0/mlflow-artifacts/artifacts/models/m/1"
        listed = http.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": "models/m/1"})
        assert listed.json()["files"] == [
            {"path": "MLmodel", "is_dir": False, "file_size": 12},
            {"path": "data", "is_dir": True},
        ]
        # a later upload to the run does not change the registered version's bytes
        assert http.put(f"{folder}/data/weights.bin", content=b"changed").status_code == 200
        assert http.get(f"{pinned}/data/weights.bin").content == b"\x00\x01"
        assert http.put(f"{pinned}/data/weights.bin", content=b"x").status_code == 400

        call("POST", "/registered-models/alias", {"name": "m", "alias": "champion", "version": "1"})
        found = call("GET", "/registered-models/alias", {"name": "m", "alias": "champion"})
        assert found["model_version"]["aliases"] == ["champion"]
        held = http.request(
            "DELETE", f"{API}/model-versions/delete", json={"name": "m", "version": "1"}
        )
        assert held.status_code == 400 and held.json()["error_code"] == "INVALID_STATE"
        call("DELETE", "/registered-models/alias", {"name": "m", "alias": "champion"})
        gone = http.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "champion"})
        assert gone.status_code == 404
        by_run = call("GET", "/model-versions/search", {"filter": f"run_id = '{second}'"})
        assert [v["version"] for v in by_run["model_versions"]] == ["1"]
        call("DELETE", "/model-versions/delete", {"name": "m", "version": "1"})
        assert call("GET", "/model-versions/search", {"filter": "name = 'm'"}) == {
            "model_versions": []
        }


def test_bodies_over_the_limit_are_413_before_parsing(tmp_path: Path) -> None:
    state = build_state(
        ServerConfig(
            backend_store_uri=f"sqlite:///{tmp_path / 'small.db'}",
            artifacts_destination=str(tmp_path / "artifacts"),
            auth="none",
            max_body_bytes=2000,
        )
    )
    metrics = [{"key": "k", "value": 1.0, "timestamp": 1, "step": i} for i in range(200)]
    with serve(create_app(state=state)) as url, httpx.Client(base_url=url) as http:
        answer = http.post(f"{API}/runs/log-batch", json={"run_id": "a" * 32, "metrics": metrics})
    assert answer.status_code == 413
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "2000" in answer.json()["message"]
