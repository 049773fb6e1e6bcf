"""The scoring server's trust boundary (security review 2026-11: D3, R2, R3, R6, R8, R13): no
request can stop the prediction log, JSON routes take only JSON, request ids are the
server's, auth covers what names the endpoints, and errors never carry much of the input."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest
import yaml

from modelyard.data._predlog import BAD_BATCH, QUEUE_BYTES, Feedback, LoggedRequest
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.serving import hash_token

from .conftest import Registered, Running, until

JSON = {"content-type": "application/json"}


def _deployment(tmp_path: Path, body: dict) -> str:
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(body))
    return str(path)


def _request(i: int, rows: int = 1, width: int = 1) -> LoggedRequest:
    return LoggedRequest(
        f"r{i}",
        1.7e9,
        "e",
        "r",
        "m",
        "1",
        False,
        200,
        1.0,
        rows,
        matrix=np.full((rows, width), float(i)),
        matrix_names=tuple(f"x{j}" for j in range(width)),
        predictions=np.ones(rows),
    )


# -- D3, R6, R13: the prediction log ------------------------------------------------------------


def test_feedback_fields_are_typed_and_bounded_at_the_edge(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    http = serve("models:/cancer@champion").http
    rid = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}).json()[
        "request_id"
    ]
    cases = [
        ({"request_id": rid, "label": 1, "row": 3_000_000_000}, "body.row"),
        ({"request_id": rid, "label": 1, "row": True}, "body.row"),
        ({"request_id": rid, "label": [1]}, "body.label"),
        ({"request_id": rid, "label": None}, "body.label"),
        ({"request_id": rid, "label": {"a": 1}}, "body.label"),
        ({"request_id": rid, "label": "x" * 1000}, "body.label"),
        ({"request_id": rid, "label": 2**60}, "body.label"),
        ({"request_id": "abc def", "label": 1}, "body.request_id"),
        ({"request_id": 7, "label": 1}, "body.request_id"),
        ({"label": 1, "request_id": rid, "endpoint": [1]}, "body.endpoint"),
        ({"label": 1, "request_id": rid, "endpoint": "other"}, "body.endpoint"),
        ({"label": 1, "entity_key": {"a": 1}}, "body.entity_key"),
        ({"label": 1, "request_id": rid, "colour": "red"}, "'colour'"),
        (
            {
                "feedback": [
                    {"request_id": rid, "label": 1},
                    {"request_id": rid, "label": 1, "row": -1},
                ]
            },
            "feedback[1].row",
        ),
        ({"feedback": {"request_id": rid}}, "'feedback'"),
        (5, "request body"),
        (None, "request body"),
        ([{"request_id": rid, "label": 1}], "request body"),
    ]
    for body, field in cases:
        answer = http.post("/v1/feedback", content=json.dumps(body), headers=JSON)
        assert answer.status_code == 400, (body, answer.text)
        assert field in answer.json()["error"]["message"], (body, answer.json())
    good = http.post(
        "/v1/feedback", json={"request_id": rid, "label": True, "row": 2**31 - 1, "entity_key": 12}
    )
    assert good.status_code == 202, good.text


def test_the_writer_survives_a_batch_that_fails(
    registered: Registered,
    serve: Callable[..., Running],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = _deployment(
        tmp_path,
        {
            "endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}],
            "prediction_log": {"path": str(tmp_path / "log"), "flush_seconds": 0.05},
        },
    )
    running = serve(target)
    writer = running.server.writer
    assert writer is not None and writer.flush_seconds == 0.05
    # values the HTTP edge refuses, queued directly: they make Arrow raise in the writer thread
    for _ in range(2):
        writer.feedback(Feedback(time.time(), 1, "abc", 3_000_000_000))
        writer.log(
            LoggedRequest(
                "bad",
                time.time(),
                "cancer",
                "r",
                "m",
                "1",
                False,
                200,
                1.0,
                2,
                predictions=np.ones(2),
                inputs={"x": np.ones(3)},
            )
        )
    until(lambda: writer.depth == 0, "the poisoned batches to be taken")
    answer = running.http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(3)})
    assert answer.status_code == 200
    logged = tmp_path / "log" / "requests"
    until(
        lambda: logged.is_dir() and any(logged.rglob("*.parquet")), "the next request to be written"
    )
    rows = ds.dataset(logged, format="parquet", partitioning="hive").to_table().to_pylist()
    assert {r["request_id"] for r in rows} == {answer.json()["request_id"]}
    assert writer.alive and writer.dropped_by[BAD_BATCH] >= 2
    metrics = running.http.get("/metrics").text
    dropped = [
        line
        for line in metrics.splitlines()
        if line.startswith("modelyard_prediction_log_dropped_total{")
    ]
    assert any('reason="bad_batch"' in line and not line.endswith(" 0.0") for line in dropped), (
        dropped
    )
    reports = [
        r
        for r in caplog.records
        if r.name == "modelyard.predictions" and r.levelno == logging.ERROR
    ]
    assert 1 <= len(reports) <= 2  # once per kind (bad feedback, bad request), not once per batch


def test_close_flushes_what_is_queued(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path / "log", flush_seconds=3600).start()
    writer.feedback(Feedback(1.7e9, 1, "abc", 3_000_000_000))  # a poisoned batch first
    writer._wake.set()
    until(lambda: writer.depth == 0, "the poisoned batch to be taken")
    for i in range(3):
        writer.log(_request(i))
    writer.close()
    table = ds.dataset(
        tmp_path / "log" / "requests", format="parquet", partitioning="hive"
    ).to_table()
    assert sorted(table.column("request_id").to_pylist()) == ["r0", "r1", "r2"]


def test_the_queue_is_bounded_in_bytes(tmp_path: Path) -> None:
    big = _request(0, rows=1000, width=30)  # 240 kB of inputs
    writer = PredictionLogWriter(tmp_path / "log", queue_bytes=600_000)
    assert [writer.log(big), writer.log(big), writer.log(big)] == [True, True, False]
    assert writer.dropped_by[QUEUE_BYTES] == 1 and writer.queued_bytes > 480_000
    writer.flush()
    assert writer.queued_bytes == 0 and writer.log(big)


def test_stale_temporary_parts_are_removed_at_start(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "log" / "requests" / "endpoint=e" / "date=2026-01-01"
    folder.mkdir(parents=True)
    stale = folder / f".part-1-{dead.pid}-0.parquet.tmp"
    mine = folder / f".part-1-{os.getpid()}-3.parquet.tmp"
    live = folder / ".part-1-1-0.parquet.tmp"  # pid 1 runs: another writer, still busy
    for temp in (stale, mine, live):
        temp.write_bytes(b"half a file")
    writer = PredictionLogWriter(tmp_path / "log").start()
    writer.close()
    assert not stale.exists() and not mine.exists() and live.exists()


# -- R2: JSON only; request ids are the server's -------------------------------------------------


def test_json_routes_refuse_other_content_types(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    running = serve("models:/cancer@champion")
    http = running.http
    rid = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}).json()[
        "request_id"
    ]
    feedback = b'{"request_id": "%s", "label": 0}' % rid.encode()
    predict = b'{"records": []}'
    for kind in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ):
        headers = (
            {"content-type": kind, "origin": "https://evil.example"}
            if kind
            else {"origin": "https://evil.example"}
        )
        for url, body in (
            ("/v1/feedback", feedback),
            ("/v1/endpoints/cancer/predict", predict),
            ("/invocations", predict),
        ):
            answer = http.post(url, content=body, headers=headers)
            assert answer.status_code == 415, (url, kind, answer.text)
            assert answer.json()["error"]["type"] == "UnsupportedMediaType"
        if kind is not None:
            assert (
                http.post("/v2/models/cancer/infer", content=predict, headers=headers).status_code
                == 415
            )
    writer = running.server.writer
    assert writer is not None
    writer.flush()  # the prediction, and the refusals (failed requests count for monitoring)
    assert not (writer.root / "feedback").exists()
    assert (
        http.post(
            "/v1/feedback",
            content=feedback,
            headers={"content-type": "application/json; charset=utf-8"},
        ).status_code
        == 202
    )


def test_clients_cannot_choose_request_ids(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    http = serve("models:/cancer@champion").http
    victim = http.post("/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}).json()[
        "request_id"
    ]
    attacker = http.post(
        "/v1/endpoints/cancer/predict",
        json={"records": registered.rows(1)},
        headers={"x-request-id": victim},
    )
    assert attacker.json()["request_id"] != victim
    assert (
        attacker.headers["x-client-request-id"] == victim
        and attacker.headers["x-request-id"] != victim
    )
    ids = {
        http.post(
            "/invocations",
            json={"instances": registered.X.head(1).to_numpy().tolist()},
            headers={"x-request-id": "mine"},
        ).headers["x-request-id"]
        for _ in range(2)
    }
    assert len(ids) == 2 and "mine" not in ids


# -- R3: what names the endpoints needs a token ---------------------------------------------------


def test_auth_covers_openapi_and_model_readiness(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    target = _deployment(
        tmp_path,
        {
            "endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}],
            "auth": {
                "tokens": [
                    {"name": "app", "sha256": hash_token("secret-app"), "scopes": ["predict"]}
                ]
            },
        },
    )
    http = serve(target).http
    token = {"authorization": "Bearer secret-app"}
    for path in (
        "/openapi.json",
        "/v2/models/cancer/ready",
        "/v2/models/cancer/versions/1/ready",
        "/v2/models/nope/ready",
    ):
        denied = http.get(path)
        assert denied.status_code == 401, path
        assert "cancer" not in denied.text
        assert http.get(path, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert http.get("/openapi.json", headers=token).status_code == 200
    assert http.get("/v2/models/cancer/ready", headers=token).json() == {
        "name": "cancer",
        "ready": True,
    }
    assert http.get("/v2/models/cancer/versions/1/ready", headers=token).status_code == 200
    assert http.get("/v2/models/cancer/versions/9/ready", headers=token).status_code == 404
    for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
        assert http.get(path).status_code == 200, path
    document = http.get("/openapi.json", headers=token).json()
    assert document["paths"]["/v2/health/live"]["get"]["security"] == []
    assert (
        "security" not in document["paths"]["/v2/models/{name}/ready"]["get"]
    )  # the global bearer


# -- R8: errors cap echoed names and never echo values ---------------------------------------------


def test_errors_cap_echoed_names(registered: Registered, serve: Callable[..., Running]) -> None:
    http = serve("models:/cancer@champion").http
    long_name = "<script>alert(1)</script>" * 40
    row = registered.rows(1)[0]
    answers = [
        http.post(f"/v1/endpoints/{'n' * 300}/predict", json={"records": [row]}),
        http.get("/v1/" + "x" * 2000),
        http.post("/v1/endpoints/cancer/predict", json={"records": [row], long_name: 1}),
        http.post("/v1/endpoints/cancer/predict", json={"records": [{**row, long_name: 1}]}),
        http.post("/v1/feedback", json={"request_id": "a", "label": 1, long_name: 1}),
        http.post("/v1/feedback", json={"request_id": "a", "label": 1, "endpoint": long_name}),
        http.post(
            "/v1/endpoints/cancer/predict", content=b"{}", headers={"content-type": long_name}
        ),
        http.post("/invocations", json={"dataframe_records": [row], long_name: 1}),
    ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, answer.text
        message = answer.json()["error"]["message"]
        assert "truncated" in message, message
        assert long_name not in message and "x" * 100 not in message and "n" * 100 not in message
        assert len(message) < 700
    secret = "s3cr3t-value-" * 3
    message = http.post(
        "/v1/endpoints/cancer/predict", json={"records": [{**row, "mean area": secret}]}
    ).json()["error"]["message"]
    assert "'mean area'" in message and secret not in message
