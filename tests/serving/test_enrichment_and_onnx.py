"""Endpoints that look features up in the online store, and routes scored by ONNX Runtime."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from modelyard.features import FeatureStore

from ..features.conftest import redis_url
from .conftest import Registered, Running, credit_endpoint


def test_entity_keys_in_features_out(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    deployment, model = credit_endpoint(registered, tmp_path, str(tmp_path / "online.db"))
    running = serve(str(deployment))
    answer = running.http.post("/v1/endpoints/credit/predict", json={"records": [{"applicant_id": 1}, {"applicant_id": 2}]})
    assert answer.status_code == 200, answer.text
    expected = model.predict_proba(pd.DataFrame({"income": [5000.0, 200.0], "debt_ratio": [0.1, 0.9], "open_loans": [0, 6]}))
    assert np.allclose(answer.json()["probabilities"], expected)
    # the entity key is logged, the looked-up features are logged as inputs
    writer = running.server.writer
    assert writer is not None
    writer.flush()
    logged = pd.read_parquet(next((writer.root / "requests").rglob("*.parquet")))
    assert logged.entity_key.tolist() == ["1", "2"] and logged["input_income"].tolist() == [5000.0, 200.0]
    # an applicant never materialized has no features: this model takes no missing values
    unknown = running.http.post("/v1/endpoints/credit/predict", json={"records": [{"applicant_id": 99}]})
    assert unknown.status_code == 422 and "missing values" in unknown.json()["error"]["message"]
    no_key = running.http.post("/v1/endpoints/credit/predict", json={"records": [{"income": 1.0}]})
    assert no_key.status_code == 422 and "applicant_id" in no_key.json()["error"]["message"]
    # /invocations and Open Inference Protocol v2 take the entity key too, and look features up
    labels = model.predict(pd.DataFrame({"income": [5000.0, 200.0], "debt_ratio": [0.1, 0.9], "open_loans": [0, 6]}))
    for body in (
        {"dataframe_split": {"columns": ["applicant_id"], "data": [[1], [2]]}},
        {"dataframe_records": [{"applicant_id": 1}, {"applicant_id": 2}]},
        {"inputs": {"applicant_id": [1, 2]}},
    ):
        mlflow = running.http.post("/invocations", json=body)
        assert mlflow.status_code == 200, mlflow.text
        assert mlflow.json()["predictions"] == labels.tolist()
    assert running.http.post("/invocations", json={"instances": [[1], [2]]}).status_code == 422
    v2 = running.http.post(
        "/v2/models/credit/infer",
        json={"inputs": [{"name": "applicant_id", "shape": [2], "datatype": "INT64", "data": [1, 2]}], "outputs": [{"name": "predict_proba"}]},
    )
    assert v2.status_code == 200, v2.text
    assert np.allclose(np.reshape(v2.json()["outputs"][0]["data"], (2, 2)), expected)
    v2_no_key = running.http.post(
        "/v2/models/credit/infer", json={"inputs": [{"name": "income", "shape": [1], "datatype": "FP64", "data": [1.0]}]}
    )
    assert v2_no_key.status_code == 400 and "applicant_id" in v2_no_key.json()["error"]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_small_lookups_in_a_local_store_stay_on_the_event_loop(
    registered: Registered,
    serve: Callable[..., Running],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forget: list[tuple[str, str]],
    backend: str,
) -> None:
    """A SQLite lookup takes tens of µs, less than the hop to the scoring pool and back: a
    small request's features are looked up on the event loop, on every protocol. A big body,
    or a Redis store (a lookup waits on the network), keeps the pool."""
    repo_name = f"credit_{uuid.uuid4().hex[:8]}"
    online = str(tmp_path / "online.db") if backend == "sqlite" else redis_url()
    forget.append((online, repo_name))
    deployment, _ = credit_endpoint(registered, tmp_path, online, repo_name)
    threads: list[str] = []
    original = FeatureStore.get_online_features

    def spy(self: FeatureStore, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FeatureStore, "get_online_features", spy)
    running = serve(str(deployment))
    assert running.server.runtime.endpoints["credit"].local_features is (backend == "sqlite")
    small = [
        ("/v1/endpoints/credit/predict", {"records": [{"applicant_id": 1}]}),
        ("/invocations", {"dataframe_records": [{"applicant_id": 2}]}),
        ("/v2/models/credit/infer", {"inputs": [{"name": "applicant_id", "shape": [1], "datatype": "INT64", "data": [1]}]}),
    ]
    for path, body in small:
        assert running.http.post(path, json=body).status_code == 200
    many = {"records": [{"applicant_id": 1 + i % 2} for i in range(2_000)]}
    assert len(str(many)) > running.server.offload_bytes
    assert running.http.post("/v1/endpoints/credit/predict", json=many).status_code == 200
    pool = "AnyIO worker thread"
    assert len(threads) == 4
    if backend == "sqlite":
        assert all(pool not in t for t in threads[:3]) and pool in threads[3], threads
    else:
        assert all(pool in t for t in threads), threads


def test_onnx_route(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = registered.X, registered.y
    model = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0).fit(X, y)
    registered.client.register_model("cancer-onnx", model, input_example=X.head(5), onnx=True)
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(yaml.safe_dump({"endpoints": [{"name": "fast", "routes": [{"model": "models:/cancer-onnx/1", "engine": "onnx"}]}]}))
    running = serve(str(deployment))
    answer = running.http.post("/v1/endpoints/fast/predict", json={"records": registered.rows(20)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == model.predict(X.head(20)).tolist()
    assert np.allclose(body["probabilities"], model.predict_proba(X.head(20)), atol=1e-5)
    assert running.server.runtime.endpoints["fast"].routes[0].scorer.model.flavor.name == "onnx"
