"""Deployments: weighted, sticky and shadow routes; access tokens; hot swaps under load."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow.dataset as ds
import yaml

from modelyard.serving import hash_token

from .conftest import Registered, Running, deployment_file, until


def _edit(target: str, text: str) -> int:
    """Replace the file whole (the watcher never reads it half-written) with an mtime later
    than the last one (the watcher compares st_mtime_ns); returns the new mtime."""
    path = Path(target)
    before = path.stat().st_mtime_ns
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text)
    if temp.stat().st_mtime_ns <= before:
        os.utime(temp, ns=(before + 1_000_000, before + 1_000_000))
    os.replace(temp, path)
    return path.stat().st_mtime_ns


def _log(running: Running) -> list[dict]:
    assert running.server.writer is not None
    running.server.writer.flush()
    folder = running.server.writer.root / "requests"
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()


def test_ab_split_sticky_keys_and_shadow_routes(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    target = deployment_file(
        tmp_path,
        {
            "endpoints": [
                {
                    "name": "credit",
                    "routes": [
                        {"name": "a", "model": "models:/cancer@champion", "weight": 3},
                        {"name": "b", "model": "models:/cancer@challenger", "weight": 1},
                    ],
                    "shadow": [{"name": "candidate", "model": "models:/cancer/2"}],
                    "sticky_key": "applicant_id",
                },
                {"name": "plain", "routes": [{"model": "models:/cancer/1"}, {"model": "models:/cancer/2"}]},
            ],
            "prediction_log": {"path": str(tmp_path / "log")},
        },
    )
    running = serve(target)
    http = running.http
    # weighted rotation without a key: 50/50 over 100 requests on the plain endpoint
    seen = Counter(http.post("/v1/endpoints/plain/predict", json={"records": registered.rows(1)}).json()["version"] for _ in range(100))
    assert seen == {"1": 50, "2": 50}
    # sticky: the same applicant always lands on the same route; the split follows the weights
    routes: dict[int, str] = {}
    for applicant in range(200):
        record = {**registered.rows(1)[0], "applicant_id": applicant}
        body = http.post("/v1/endpoints/credit/predict", json={"records": [record]}).json()
        routes[applicant] = body["route"]
        again = http.post("/v1/endpoints/credit/predict", json={"records": [record]}).json()
        assert again["route"] == body["route"]
        assert body["version"] == {"a": "1", "b": "2"}[body["route"]]
    share = Counter(routes.values())["a"] / 200
    assert 0.65 < share < 0.85
    # the shadow route scored every credit request, was logged, and never answered
    # (shadows run after the answer is sent: give the last one a moment)
    deadline = time.monotonic() + 10
    rows = [r for r in _log(running) if r["endpoint"] == "credit"]
    while len(rows) < 800 and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = [r for r in _log(running) if r["endpoint"] == "credit"]
    shadow = [r for r in rows if r["shadow"]]
    live = [r for r in rows if not r["shadow"]]
    assert len(live) == 400 and len(shadow) == 400
    assert {r["route"] for r in shadow} == {"candidate"} and {r["version"] for r in shadow} == {"2"}
    assert {r["request_id"] for r in shadow} == {r["request_id"] for r in live}
    assert {r["entity_key"] for r in live} == {str(i) for i in range(200)}
    assert all("input_applicant_id" not in r for r in rows)  # a routing key, not model input


def test_bearer_tokens_with_scopes(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    target = deployment_file(
        tmp_path,
        {
            "endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}],
            "auth": {
                "tokens": [
                    {"name": "app", "sha256": hash_token("secret-app"), "scopes": ["predict"]},
                    {"name": "ops", "sha256": hash_token("secret-ops"), "scopes": ["metrics", "read"]},
                ]
            },
        },
    )
    running = serve(target)
    http = running.http
    url, body = "/v1/endpoints/cancer/predict", {"records": registered.rows(1)}
    denied = http.post(url, json=body)
    assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
    assert http.post(url, json=body, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert http.post(url, json=body, headers={"authorization": "Bearer secret-ops"}).status_code == 403
    assert http.post(url, json=body, headers={"authorization": "Bearer secret-app"}).status_code == 200
    assert http.get("/metrics", headers={"authorization": "Bearer secret-app"}).status_code == 403
    assert http.get("/metrics", headers={"authorization": "Bearer secret-ops"}).status_code == 200
    assert http.post("/invocations", json={"dataframe_records": registered.rows(1)}).status_code == 401
    # health stays open for load balancers and probes
    for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
        assert http.get(path).status_code == 200, path


def test_alias_move_under_load_swaps_without_a_failed_request(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    target = deployment_file(
        tmp_path,
        {"endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}], "poll_seconds": 0.1},
    )
    running = serve(target)
    versions: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()
    body = {"records": registered.rows(1)}

    def load() -> None:
        with httpx.Client(base_url=running.base, timeout=30) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/v1/endpoints/cancer/predict", json=body)
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                if answer.status_code != 200:
                    failures.append(answer.text)
                else:
                    versions[answer.json()["version"]] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        until(lambda: versions["1"] >= 20, "requests to version 1", seconds=60)
        registered.client.set_registered_model_alias("cancer", "champion", 2, reason="test swap")
        until(lambda: versions["2"] >= 50, "requests to version 2", seconds=60)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert versions["1"] > 0 and versions["2"] >= 50
    assert running.server.runtime.swaps == 1
    assert 'modelyard_model_swaps_total{endpoint="cancer",route="champion"} 1.0' in running.http.get("/metrics").text


def test_editing_the_deployment_file_reloads_it(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    body = {"endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer/1"}]}], "poll_seconds": 0.1}
    target = deployment_file(tmp_path, body)
    running = serve(target)
    assert running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}).json()["version"] == "1"
    body["endpoints"][0]["routes"] = [{"model": "models:/cancer/2"}]
    _edit(target, yaml.safe_dump(body))
    deadline = time.monotonic() + 60
    version = "1"
    while version != "2" and time.monotonic() < deadline:
        time.sleep(0.05)
        version = running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}).json()["version"]
    assert version == "2"
    # a broken edit keeps the last good deployment serving: once the watcher has read it
    broken = _edit(target, "endpoints: [{name: cancer, routes: []}]")
    until(lambda: running.server.runtime._mtime == broken, "the watcher to read the broken edit", seconds=60)
    answer = running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1)})
    assert answer.status_code == 200 and answer.json()["version"] == "2"


def test_explanations_on_request(registered: Registered, serve: Callable[..., Running]) -> None:
    running = serve("models:/cancer@champion")
    answer = running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(2), "explain": True}).json()
    explanations = answer["explanations"]
    assert len(explanations) == 2 and "base_value" in explanations[0] and "mean radius" in explanations[0]
    refused = running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1), "explain": "yes"})
    assert refused.status_code == 400 and "'explain'" in refused.json()["error"]["message"]


def test_a_request_without_the_sticky_key_is_routed_by_weight(registered: Registered, serve: Callable[..., Running], tmp_path: Path) -> None:
    target = deployment_file(
        tmp_path,
        {"endpoints": [{"name": "ab", "sticky_key": "applicant_id", "routes": [{"model": "models:/cancer/1"}, {"model": "models:/cancer/2"}]}]},
    )
    running = serve(target)
    versions = Counter(running.http.post("/v1/endpoints/ab/predict", json={"records": registered.rows(1)}).json()["version"] for _ in range(10))
    assert versions == {"1": 5, "2": 5}
