"""The scoring server's three protocols, on a real loopback socket: native JSON, MLflow's
scoring formats and the Open Inference Protocol v2 (driven by tritonclient from PyPI)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .conftest import Registered, Running


def _expected(registered: Registered, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    model = registered.client.load_model("models:/cancer/1")
    X = registered.X.head(n)
    return model.predict(X), model.predict_proba(X)


def test_native_records_and_columns(registered: Registered, serve: Callable[..., Running]) -> None:
    running = serve("models:/cancer@champion")
    labels, proba = _expected(registered)
    answer = running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(3)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == labels.tolist()
    assert np.allclose(body["probabilities"], proba)
    assert body["classes"] == [0, 1]
    assert (body["endpoint"], body["route"], body["model"], body["version"]) == ("cancer", "champion", "cancer", "1")
    assert answer.headers["x-request-id"] == body["request_id"]
    columns = registered.X.head(3).to_dict(orient="list")
    by_columns = running.http.post("/v1/endpoints/cancer/predict", json={"columns": columns})
    assert by_columns.json()["predictions"] == labels.tolist()
    # the server chooses request ids (feedback matches on them); the client's comes back for tracing
    tagged = running.http.post(
        "/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}, headers={"x-request-id": "req-42"}
    )
    assert (
        tagged.json()["request_id"] != "req-42"
        and tagged.headers["x-client-request-id"] == "req-42"
    )


def test_mlflow_scoring_formats(registered: Registered, serve: Callable[..., Running]) -> None:
    running = serve("models:/cancer@champion")
    labels, _ = _expected(registered)
    X = registered.X.head(3)
    bodies = [
        {"dataframe_split": {"columns": list(X.columns), "data": X.to_numpy().tolist()}},
        {"dataframe_split": {"columns": list(X.columns)[::-1], "data": X[X.columns[::-1]].to_numpy().tolist()}},
        {"dataframe_records": X.to_dict(orient="records")},
        {"instances": X.to_numpy().tolist()},
        {"instances": X.to_dict(orient="records")},
        {"inputs": X.to_dict(orient="list")},
        {"inputs": X.to_numpy().tolist()},
    ]
    for body in bodies:
        answer = running.http.post("/invocations", json=body)
        assert answer.status_code == 200, (list(body), answer.text)
        assert answer.json() == {"predictions": labels.tolist()}
    csv = running.http.post("/invocations", content=X.to_csv(index=False), headers={"content-type": "text/csv"})
    assert csv.json() == {"predictions": labels.tolist()}
    assert running.http.get("/ping").status_code == 200


def test_open_inference_protocol_with_tritonclient(registered: Registered, serve: Callable[..., Running]) -> None:
    import tritonclient.http as triton

    running = serve("models:/cancer@champion")
    labels, proba = _expected(registered, 4)
    client = triton.InferenceServerClient(url=running.base.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("cancer")
    metadata = client.get_model_metadata("cancer")
    assert metadata["versions"] == ["1"] and len(metadata["inputs"]) == 30
    data = registered.X.head(4).to_numpy()
    for binary in (False, True):
        tensor = triton.InferInput("input-0", list(data.shape), "FP64")
        tensor.set_data_from_numpy(data, binary_data=binary)
        outputs = [triton.InferRequestedOutput("predict", binary_data=False), triton.InferRequestedOutput("predict_proba", binary_data=False)]
        result = client.infer("cancer", [tensor], outputs=outputs, request_id="r1")
        assert result.as_numpy("predict").tolist() == labels.tolist()
        assert np.allclose(result.as_numpy("predict_proba"), proba)
        assert result.get_response()["model_version"] == "1"
    # one tensor per column, and a specific version
    per_column = []
    for name in registered.X.columns:
        t = triton.InferInput(name, [4], "FP64")
        t.set_data_from_numpy(registered.X[name].head(4).to_numpy(), binary_data=False)
        per_column.append(t)
    result = client.infer("cancer", per_column, model_version="1")
    assert result.as_numpy("predict").tolist() == labels.tolist()
    raw = running.http.post(
        "/v2/models/cancer/versions/9/infer",
        json={"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": data[0].tolist()}]},
    )
    assert raw.status_code == 404 and "version '9'" in raw.json()["error"]
    assert running.http.get("/v2/health/live").json() == {"live": True}
    assert running.http.get("/v2/models/nope/ready").status_code == 404


def test_openapi_document_lists_every_route(registered: Registered, serve: Callable[..., Running]) -> None:
    running = serve("models:/cancer@champion")
    doc = running.http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/endpoints/{name}/predict", "/invocations", "/v2/models/{name}/infer", "/v1/feedback", "/metrics"):
        assert path in doc["paths"], path
    predict = doc["paths"]["/v1/endpoints/{name}/predict"]["post"]
    assert predict["parameters"][0]["schema"]["enum"] == ["cancer"]
    assert {"400", "404", "413", "422", "500"} <= set(predict["responses"])
