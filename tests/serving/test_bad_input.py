"""Every client mistake is a 4xx whose JSON error names the field; a model that raises is a
500 carrying the request id that the server log holds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelyard.flavors import PythonModel

from .conftest import Registered, Running


def _error(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["request_id"]
    return str(error["message"])


JSON = {"content-type": "application/json"}


def _v2_error(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str), body
    return str(body["error"])


def test_client_mistakes_are_4xx_naming_the_field(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    running = serve("models:/cancer@champion")
    http = running.http
    url = "/v1/endpoints/cancer/predict"
    row = registered.rows(1)[0]

    assert "not valid JSON" in _error(http.post(url, content=b'{"records": [1,', headers=JSON), 400)
    assert "records" in _error(http.post(url, json={"rows": [row]}), 400)
    missing = {k: v for k, v in row.items() if k != "mean radius"}
    assert "missing column 'mean radius'" in _error(http.post(url, json={"records": [missing]}), 422)
    assert "unexpected column 'zip'" in _error(http.post(url, json={"records": [{**row, "zip": 1}]}), 422)
    message = _error(http.post(url, json={"records": [row, {**row, "mean area": "big"}]}), 422)
    assert "'mean area'" in message and "string" in message and "row 1" in message
    message = _error(http.post(url, json={"records": [{**row, "mean texture": None}]}), 422)
    assert "'mean texture'" in message and "missing values" in message
    assert "same length" in _error(http.post(url, json={"columns": {"mean radius": [1.0, 2.0], "mean area": [1.0]}}), 422)
    assert "'nope' does not exist" in _error(http.post("/v1/endpoints/nope/predict", json={"records": [row]}), 404)
    assert "no route" in _error(http.get("/v1/nothing"), 404)
    assert "not allowed" in _error(http.get(url), 405)
    big = b'{"records": [' + b" " * (5 << 20) + b"]}"
    assert "limit" in _error(http.post(url, content=big, headers=JSON), 413)
    # MLflow and OIP mistakes
    assert "exactly one of" in _error(http.post("/invocations", json={"data": [[1]]}), 400)
    assert "application/json or text/csv" in _error(
        http.post("/invocations", content=b"x", headers={"content-type": "text/plain"}), 415
    )
    assert "30 values" in _error(http.post("/invocations", json={"instances": [[1.0, 2.0]]}), 422)
    # v2 answers in the protocol's shape: {"error": "<string>"}, 400 for input mistakes
    v2 = "/v2/models/cancer/infer"
    assert "'inputs'" in _v2_error(http.post(v2, json={"outputs": []}), 400)
    assert "datatype" in _v2_error(http.post(v2, json={"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP99", "data": [0.0] * 30}]}), 400)
    assert "needs 30" in _v2_error(http.post(v2, json={"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [0.0] * 29}]}), 400)
    assert "unknown" in _v2_error(http.post(v2, json={"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [0.0] * 30}], "outputs": [{"name": "logits"}]}), 400)
    # nothing above was echoed back, and nothing was a 5xx
    metrics = http.get("/metrics").text
    assert 'status="500"' not in metrics
    assert 'status="422"' in metrics and 'status="413"' in metrics


def test_row_limit_per_endpoint(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(
        "endpoints:\n  - name: small\n    max_rows: 5\n    routes: [{model: 'models:/cancer@champion'}]\n"
    )
    running = serve(str(deployment))
    url = "/v1/endpoints/small/predict"
    assert running.http.post(url, json={"records": registered.rows(5)}).status_code == 200
    assert "at most 5" in _error(running.http.post(url, json={"records": registered.rows(6)}), 413)


class Exploding(PythonModel):
    def predict(self, model_input: Any, params: Any = None) -> Any:
        if (model_input["x"] > 100).any():
            raise RuntimeError("boom inside the model")
        return model_input["x"] * 2


def test_a_model_that_raises_is_a_500_with_the_request_id_in_the_log(
    registered: Registered, serve: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    import pandas as pd

    registered.client.register_model("exploding", Exploding(), input_example=pd.DataFrame({"x": [1.0]}))
    running = serve("models:/exploding/1")
    with caplog.at_level(logging.ERROR, logger="modelyard.serving"):
        answer = running.http.post("/v1/endpoints/exploding/predict", json={"records": [{"x": 1000.0}]})
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["type"] == "ModelError" and error["request_id"] in error["message"]
    logged = [r for r in caplog.records if error["request_id"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None and "boom inside the model" in str(logged[0].exc_info[1])
    assert 'modelyard_model_errors_total{endpoint="exploding",route="1"} 1.0' in running.http.get("/metrics").text
