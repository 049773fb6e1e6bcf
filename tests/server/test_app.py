"""The team server's skeleton over real HTTP: OpenAPI from the models, limits, content types,
errors that name the field without echoing it, retried writes done once."""

from __future__ import annotations

import uuid

import pytest

from modelyard.core.errors import ConfigurationError
from modelyard.server import ServerConfig, build_state, create_app
from modelyard.server.api import OPERATIONS

from .conftest import Live
from .live import serve


def _run(http, experiment: str = "e") -> str:  # type: ignore[no-untyped-def]
    experiment_id = http.post("/api/v1/experiments", json={"name": experiment}).json()["experiment_id"]
    run_id = uuid.uuid4().hex
    answer = http.post(
        f"/api/v1/experiments/{experiment_id}/runs",
        json={"run_id": run_id, "run_name": "r", "start_time": 1},
    )
    assert answer.status_code == 200, answer.text
    return run_id


def test_openapi_lists_every_operation_with_schemas_from_the_models(open_server: Live) -> None:
    with open_server.http() as http:
        document = http.get("/openapi.json").json()
    operations = {
        item["operationId"] for path in document["paths"].values() for item in path.values()
    }
    assert operations == {op.name for op in OPERATIONS}
    log_metric = document["paths"]["/api/v1/runs/{run_id}/metrics"]["post"]
    assert log_metric["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LogMetric"
    }
    schema = document["components"]["schemas"]["LogMetric"]
    assert set(schema["required"]) == {"key", "value", "timestamp"}
    assert schema["additionalProperties"] is False


def test_auth_none_is_refused_off_loopback() -> None:
    with pytest.raises(ConfigurationError, match="--auth none is refused on host '0.0.0.0'"):
        ServerConfig(host="0.0.0.0", auth="none")
    assert ServerConfig(host="::1", auth="none").auth == "none"


def test_a_body_that_is_not_json_is_415_and_a_bad_field_is_400_without_echo(
    open_server: Live,
) -> None:
    with open_server.http() as http:
        run_id = _run(http)
        plain = http.post(
            f"/api/v1/runs/{run_id}/metrics",
            content=b"key=x",
            headers={"content-type": "text/plain"},
        )
        assert plain.status_code == 415
        assert "application/json" in plain.json()["error"]["message"]
        secret = "s3cr3t-value-never-echoed"
        bad = http.post(
            f"/api/v1/runs/{run_id}/metrics",
            json={"key": "x", "value": secret, "timestamp": 1},
        )
        assert bad.status_code == 400
        assert "value" in bad.json()["error"]["message"]
        assert secret not in bad.text
        broken = http.post(
            f"/api/v1/runs/{run_id}/metrics",
            content=b'{"key": ',
            headers={"content-type": "application/json"},
        )
        assert broken.status_code == 400
        assert "Invalid JSON" in broken.json()["error"]["message"]


def test_a_body_over_the_limit_is_413_before_it_is_parsed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = build_state(
        ServerConfig(backend_store_uri=str(tmp_path / "s"), auth="none", max_body_bytes=1000)
    )
    with serve(create_app(state=state)) as url:
        import httpx

        with httpx.Client(base_url=url) as http:
            run_id = _run(http)
            big = http.post(
                f"/api/v1/runs/{run_id}/batch",
                content=b'{"metrics": [' + b" " * 5000 + b"]}",
                headers={"content-type": "application/json"},
            )
    assert big.status_code == 413


def test_a_retried_write_with_the_same_request_id_is_done_once(open_server: Live) -> None:
    with open_server.http() as http:
        run_id = _run(http)
        point = {"key": "loss", "value": 0.5, "timestamp": 10, "step": 1}
        for _ in range(3):
            answer = http.post(
                f"/api/v1/runs/{run_id}/metrics", json=point, headers={"x-request-id": "req-0000001"}
            )
            assert answer.status_code == 200
        http.post(f"/api/v1/runs/{run_id}/metrics", json=point, headers={"x-request-id": "req-0000002"})
        batch = {"metrics": [{"key": "acc", "value": 1.0, "timestamp": 1, "step": 0}]}
        for _ in range(2):
            http.post(f"/api/v1/runs/{run_id}/batch", json=batch, headers={"x-request-id": "req-0000003"})
        history = http.get(f"/api/v1/runs/{run_id}/metrics", params={"key": "loss"}).json()
        accuracy = http.get(f"/api/v1/runs/{run_id}/metrics", params={"key": "acc"}).json()
        create = {"name": "again"}
        first = http.post("/api/v1/experiments", json=create, headers={"x-request-id": "req-0000004"})
        retry = http.post("/api/v1/experiments", json=create, headers={"x-request-id": "req-0000004"})
        other = http.post("/api/v1/experiments", json=create, headers={"x-request-id": "req-0000005"})
    assert len(history["metrics"]) == 2
    assert len(accuracy["metrics"]) == 1
    assert first.json() == retry.json()
    assert other.status_code == 409


def test_unknown_routes_and_methods_answer_json(open_server: Live) -> None:
    with open_server.http() as http:
        missing = http.get("/api/v1/nothing-here")
        wrong = http.delete("/api/v1/experiments")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "MethodNotAllowed"


def test_a_missing_run_is_404_and_a_finished_run_refuses_points_with_409(
    open_server: Live,
) -> None:
    with open_server.http() as http:
        assert http.get(f"/api/v1/runs/{uuid.uuid4().hex}").status_code == 404
        run_id = _run(http)
        http.patch(f"/api/v1/runs/{run_id}", json={"status": "FINISHED", "end_time": 5})
        late = http.post(
            f"/api/v1/runs/{run_id}/metrics", json={"key": "x", "value": 1, "timestamp": 6}
        )
    assert late.status_code == 409
    assert "no longer accepts data" in late.json()["error"]["message"]
