"""The plain path (``ScoringServer._predict_plain``): a native request (``records`` or
``columns``) to an endpoint with no sticky key, features, shadows or batching skips the
general path's steps. It must answer exactly what the general path answers, raise the same
errors, log and count the same, and leave requests of explanations to the general path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelyard.serving._app import ScoringServer

from .conftest import Registered, Running, deployment_file


def _without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many requests each path answered."""
    calls = {"plain": 0, "answered": 0}
    plain = ScoringServer._predict_plain

    def spy(self: ScoringServer, *args: Any) -> Any:
        calls["plain"] += 1
        answer = plain(self, *args)
        calls["answered"] += answer is not None
        return answer

    monkeypatch.setattr(ScoringServer, "_predict_plain", spy)
    return calls


def test_plain_and_general_paths_answer_alike(
    registered: Registered, serve: Callable[..., Running], counted: dict[str, int]
) -> None:
    running = serve("models:/cancer@champion")
    url = "/v1/endpoints/cancer/predict"
    for rows in (1, 7):
        records = registered.rows(rows, start=rows)
        plain = running.http.post(url, json={"records": records})
        general = running.http.post(url, json={"records": records, "explain": True})
        assert plain.status_code == general.status_code == 200, (plain.text, general.text)
        explained = general.json()
        assert len(explained.pop("explanations")) == rows
        assert _without_id(plain.json()) == _without_id(explained)
        assert len(plain.json()["predictions"]) == rows
        assert plain.headers["x-request-id"] == plain.json()["request_id"]
    # the bodies asking for explanations parse, then go on: tried by the protocol's direct
    # answer (http/_direct.py), then by the app, on the general path
    assert counted == {"plain": 6, "answered": 2}
    # both paths counted at /metrics and logged alike
    running.server.tally.flush()
    metrics = running.http.get("/metrics").text
    line = next(
        x
        for x in metrics.splitlines()
        if x.startswith("modelyard_requests_total{")
        and 'status="200"' in x
        and 'endpoint="cancer"' in x
    )
    assert line.endswith(" 4.0"), line


def test_plain_path_errors_are_the_general_paths(
    registered: Registered, serve: Callable[..., Running], counted: dict[str, int]
) -> None:
    running = serve("models:/cancer@champion")
    url = "/v1/endpoints/cancer/predict"
    record = registered.rows(1)[0]
    missing = {k: v for k, v in record.items() if k != "mean radius"}
    cases: list[tuple[Any, int, str]] = [
        ({"records": [missing]}, 422, "'mean radius'"),  # checked on the plain path: records[0]
        ({"records": [{**record, "mean radius": True}]}, 422, "mean radius"),
        ({"records": [{**record, "mean radius": None}]}, 422, "mean radius"),
        ({"records": []}, 422, "records"),  # left to the general path
        ({"rows": [record]}, 400, "unknown field"),
        ([record], 400, "JSON object"),
    ]
    for body, status, said in cases:
        answer = running.http.post(url, json=body)
        assert answer.status_code == status, (body if len(str(body)) < 300 else "...", answer.text)
        assert said in answer.json()["error"]["message"], answer.text
    bad_json = running.http.post(
        url, content=b'{"records": [', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]["message"]
    assert counted["answered"] == 0


def test_weighted_routes_take_the_plain_path_and_rotate(
    registered: Registered, serve: Callable[..., Running], counted: dict[str, int], tmp_path: Path
) -> None:
    endpoint = {
        "name": "cancer",
        "max_rows": 3,
        "routes": [
            {"model": "models:/cancer@champion", "weight": 50},
            {"model": "models:/cancer@challenger", "weight": 50},
        ],
    }
    running = serve(deployment_file(tmp_path, {"endpoints": [endpoint]}))
    routes = [
        running.http.post(
            "/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}
        ).json()["version"]
        for _ in range(10)
    ]
    assert sorted(set(routes)) == ["1", "2"] and routes.count("1") == 5
    assert counted["answered"] == 10
    # over the endpoint's row limit: the general path's 413
    over = running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(4)})
    assert over.status_code == 413 and "4 rows" in over.json()["error"]["message"], over.text
    assert counted["answered"] == 10


def test_an_endpoint_with_a_sticky_key_takes_the_general_path(
    registered: Registered, serve: Callable[..., Running], counted: dict[str, int], tmp_path: Path
) -> None:
    endpoint = {"name": "cancer", "sticky_key": "customer", "routes": [{"model": "models:/cancer@champion"}]}
    running = serve(deployment_file(tmp_path, {"endpoints": [endpoint]}))
    records = [{**r, "customer": f"c{i}"} for i, r in enumerate(registered.rows(2))]
    answer = running.http.post("/v1/endpoints/cancer/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    assert counted["plain"] == 0
