"""Adaptive micro-batching: concurrent small requests scored together, each answered with
exactly its own rows; a bad request fails alone; a full queue is a 503; hot swaps lose
nothing; the prediction log and metrics stay per request."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from modelyard.core.errors import ValidationError
from modelyard.serving import parse_deployment

from .conftest import Registered, Running, deployment_file, until

POISON = -1.0  # a Picky model raises on this value
HOLD = -2.0  # a Picky model waits for GATE on this value
GATE = threading.Event()


class Picky(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier that records the rows of every call, raises on POISON and, on HOLD,
    waits until the test opens GATE (so the test decides when a batch is in flight)."""

    def fit(self, X: pd.DataFrame, y: Any) -> Picky:
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.calls_: list[list[float]] = []
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        x = np.asarray(X, dtype=float)[:, 0]
        self.calls_.append(x.tolist())
        if (x == HOLD).any():
            GATE.wait(60)
        if (x == POISON).any():
            raise RuntimeError("poisoned row")
        p = 1.0 / (1.0 + np.exp(-x))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.predict_proba(X).argmax(axis=1))


def _deployment(tmp_path: Path, endpoints: list[dict[str, Any]], **extra: Any) -> str:
    return deployment_file(tmp_path, {"endpoints": endpoints, **extra})


def _concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread, all released at once; results in order."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _post(base: str, path: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=60) as http:
        return http.post(path, json=body)


def _picky(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path, **batching: Any
) -> Running:
    X = pd.DataFrame({"x": [0.5, -0.5], "y": [1.0, 2.0]})
    registered.client.register_model("picky", Picky().fit(X, [0, 1]), input_example=X)
    GATE.clear()
    target = _deployment(
        tmp_path,
        [{"name": "picky", "routes": [{"model": "models:/picky/1"}], "batching": batching}],
    )
    return serve(target)


def _queued(running: Running, name: str) -> int:
    batcher = running.server._batchers.get(name)
    return 0 if batcher is None else batcher.queued


def test_config_is_off_by_default_and_checked_naming_the_field() -> None:
    plain = parse_deployment({"endpoints": [{"name": "a", "routes": [{"model": "models:/m/1"}]}]})
    assert plain.endpoints[0].batching is None
    on = parse_deployment(
        {"endpoints": [{"name": "a", "routes": [{"model": "models:/m/1"}], "batching": {}}]}
    )
    assert on.endpoints[0].batching is not None and on.endpoints[0].batching.max_batch == 64
    for batching, field in [
        ({"max_batch": 0}, "endpoints.0.batching.max_batch"),
        ({"max_wait_ms": -1}, "endpoints.0.batching.max_wait_ms"),
        ({"max_queue": "many"}, "endpoints.0.batching.max_queue"),
        ({"max_wait": 2}, "endpoints.0.batching.max_wait"),
    ]:
        with pytest.raises(ValidationError, match=field.replace(".", r"\.")):
            parse_deployment(
                {
                    "endpoints": [
                        {"name": "a", "routes": [{"model": "models:/m/1"}], "batching": batching}
                    ]
                }
            )
    with pytest.raises(ValidationError, match=r"endpoints\.0\.batching"):
        parse_deployment(
            {"endpoints": [{"name": "a", "routes": [{"model": "models:/m/1"}], "batching": 64}]}
        )


def test_many_concurrent_clients_each_get_their_own_rows(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    target = _deployment(
        tmp_path,
        [
            {
                "name": "cancer",
                "routes": [{"model": "models:/cancer/2"}],
                "batching": {"max_batch": 16, "max_wait_ms": 5},
            }
        ],
        prediction_log={"path": str(tmp_path / "log")},
    )
    running = serve(target)
    model = running.server.runtime.endpoints["cancer"].routes[0].scorer.model.raw
    expected = model.predict_proba(registered.X)
    clients, per_client = 48, 6

    def client(c: int) -> Callable[[], list[tuple[list[int], Any]]]:
        def run() -> list[tuple[list[int], Any]]:
            answers = []
            with httpx.Client(base_url=running.base, timeout=60) as http:
                for k in range(per_client):
                    start = (c * per_client + k) % 560
                    rows = 1 if k % 3 else 3  # mostly single rows, some of three
                    protocol = (c + k) % 3
                    indices = list(range(start, start + rows))
                    records = registered.X.iloc[indices].to_dict(orient="records")
                    if protocol == 0:
                        answer = http.post(
                            "/v1/endpoints/cancer/predict", json={"records": records}
                        )
                    elif protocol == 1:
                        split = {
                            "columns": list(registered.X.columns),
                            "data": registered.X.iloc[indices].to_numpy().tolist(),
                        }
                        answer = http.post("/invocations", json={"dataframe_split": split})
                    else:
                        inputs = [
                            {
                                "name": name,
                                "shape": [rows],
                                "datatype": "FP64",
                                "data": registered.X[name].iloc[indices].tolist(),
                            }
                            for name in registered.X.columns
                        ]
                        wanted = [{"name": "predict_proba"}]
                        answer = http.post(
                            "/v2/models/cancer/infer", json={"inputs": inputs, "outputs": wanted}
                        )
                    assert answer.status_code == 200, answer.text
                    answers.append((indices, answer.json()))
            return answers

        return run

    results = _concurrently([client(c) for c in range(clients)])
    count = 0
    for answers in results:
        for indices, body in answers:
            count += 1
            if "probabilities" in body:  # native
                assert body["probabilities"] == expected[indices].tolist()
            elif "outputs" in body:  # OIP v2
                proba = next(o for o in body["outputs"] if o["name"] == "predict_proba")
                assert np.reshape(proba["data"], (-1, 2)).tolist() == expected[indices].tolist()
            else:  # /invocations
                assert body["predictions"] == model.predict(registered.X.iloc[indices]).tolist()
    assert count == clients * per_client
    # the prediction log and the request metrics are per request, whatever the batches were
    writer = running.server.writer
    assert writer is not None
    writer.flush()
    logged = (
        ds.dataset(writer.root / "requests", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )
    assert len(logged) == clients * (2 * 3 + 4 * 1)  # one log row per scored row
    assert len({r["request_id"] for r in logged}) == count
    metrics = running.http.get("/metrics").text
    assert (
        f'modelyard_requests_total{{endpoint="cancer",route="2",status="200",version="2"}} {float(count)}'
        in metrics
    )
    assert 'modelyard_batch_rows_count{endpoint="cancer"}' in metrics


def test_one_bad_request_in_a_batch_fails_alone(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    running = _picky(registered, serve, tmp_path, max_batch=6, max_wait_ms=10_000)
    scorer = running.server.runtime.endpoints["picky"].routes[0].scorer
    hold = threading.Thread(
        target=_post,
        args=(running.base, "/v1/endpoints/picky/predict", {"records": [{"x": HOLD, "y": 0.0}]}),
    )
    hold.start()
    until(
        lambda: HOLD in [v for call in scorer.model.raw.calls_ for v in call],
        "the held request to be scored",
    )
    # while one batch is being scored, six requests queue and are cut together at max_batch
    values = [0.1, 0.2, POISON, 0.3, 0.4, 0.5]
    answers = _concurrently(
        [
            lambda v=v: _post(
                running.base, "/v1/endpoints/picky/predict", {"records": [{"x": v, "y": 1.0}]}
            )
            for v in values
        ]
    )
    GATE.set()
    hold.join()
    for value, answer in zip(values, answers, strict=True):
        if value == POISON:
            assert answer.status_code == 500 and answer.json()["error"]["type"] == "ModelError"
        else:
            assert answer.status_code == 200, answer.text
            assert answer.json()["probabilities"][0][1] == pytest.approx(
                1.0 / (1.0 + np.exp(-value))
            )
    calls = scorer.model.raw.calls_
    joint = [c for c in calls if len(c) == len(values)]
    # one call for all six, then each alone
    assert len(joint) == 1 and sorted(joint[0]) == sorted(values)
    assert sorted(v for c in calls if len(c) == 1 and c[0] in values for v in c) == sorted(values)
    metrics = running.http.get("/metrics").text
    assert 'modelyard_model_errors_total{endpoint="picky",route="1"} 1.0' in metrics
    assert 'modelyard_batch_rows_bucket{endpoint="picky",le="8.0"}' in metrics


def test_a_full_queue_is_a_503_with_retry_after_and_only_then(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    running = _picky(registered, serve, tmp_path, max_batch=64, max_wait_ms=10_000, max_queue=2)
    path = "/v1/endpoints/picky/predict"
    held = threading.Thread(
        target=_post, args=(running.base, path, {"records": [{"x": HOLD, "y": 0.0}]})
    )
    held.start()
    until(lambda: _queued(running, "picky") == 1, "the held request")
    answers: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            _post(running.base, path, {"records": [{"x": 0.5, "y": 0.0}]})
        )
    )
    waiting.start()
    until(lambda: _queued(running, "picky") == 2, "the second request to queue")
    refused = running.http.post(path, json={"records": [{"x": 0.5, "y": 0.0}]})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "batching.max_queue" in refused.json()["error"]["message"]
    GATE.set()
    held.join()
    waiting.join()
    assert [a.status_code for a in answers] == [200]
    assert running.http.post(path, json={"records": [{"x": 0.5, "y": 0.0}]}).status_code == 200
    assert (
        'modelyard_requests_total{endpoint="picky",route="",status="503",version=""} 1.0'
        in running.http.get("/metrics").text
    )


def test_bad_input_is_refused_before_it_joins(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    running = _picky(registered, serve, tmp_path)
    answer = running.http.post(
        "/v1/endpoints/picky/predict", json={"records": [{"x": "high", "y": 0.0}]}
    )
    assert answer.status_code == 422 and "'x'" in answer.json()["error"]["message"]
    assert _queued(running, "picky") == 0


def test_hot_swap_while_batching_loses_nothing(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    target = _deployment(
        tmp_path,
        [
            {
                "name": "cancer",
                "routes": [{"model": "models:/cancer@champion"}],
                "batching": {"max_batch": 8, "max_wait_ms": 2},
            }
        ],
        poll_seconds=0.1,
    )
    running = serve(target)
    expected = {
        version: registered.client.load_model(f"models:/cancer/{version}")
        .raw.predict_proba(registered.X)
        .tolist()
        for version in ("1", "2")
    }
    versions: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def load(offset: int) -> None:
        with httpx.Client(base_url=running.base, timeout=60) as http:
            i = offset
            while not stop.is_set():
                i = (i + 7) % len(registered.X)
                answer = http.post(
                    "/v1/endpoints/cancer/predict", json={"records": registered.rows(1, i)}
                )
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                body = answer.json()
                if body["probabilities"][0] != expected[body["version"]][i]:
                    failures.append(f"row {i} scored wrong by version {body['version']}")
                versions[body["version"]] += 1

    threads = [threading.Thread(target=load, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    until(lambda: versions["1"] >= 50, "requests to version 1")
    registered.client.set_registered_model_alias(
        "cancer", "champion", 2, reason="swap while batching"
    )
    until(lambda: versions["2"] >= 50, "requests to version 2")
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert running.server.runtime.swaps == 1


def test_a_request_as_big_as_a_batch_is_scored_alone(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    running = _picky(registered, serve, tmp_path, max_batch=2)
    scorer = running.server.runtime.endpoints["picky"].routes[0].scorer
    records = [{"x": v, "y": 0.0} for v in (0.1, 0.2, 0.3)]
    answer = running.http.post("/v1/endpoints/picky/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    assert [p[1] for p in answer.json()["probabilities"]] == pytest.approx(
        [1.0 / (1.0 + np.exp(-v)) for v in (0.1, 0.2, 0.3)]
    )
    assert scorer.model.raw.calls_[-1] == [0.1, 0.2, 0.3]
    assert _queued(running, "picky") == 0
    assert 'modelyard_batch_rows_count{endpoint="picky"} 0.0' in running.http.get("/metrics").text
