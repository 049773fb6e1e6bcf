"""Direct answers (``http/_direct.py``): ``modelyard serve``'s protocol answers a plain predict
request itself, with no ASGI request cycle. Over real sockets it must answer byte for byte
what the app answers (but for the request id and the date), count and log each request
once, keep connections, pipelines and ``Connection: close`` as uvicorn does, and hand every
other request to the app with its body."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from modelyard.http import hash_token
from modelyard.http._direct import DirectProtocol
from modelyard.http._timeouts import ReadTimeoutProtocol, with_timeouts
from modelyard.serving._app import ScoringServer

from .conftest import Registered, Running, credit_endpoint, deployment_file, until

URL = "/v1/endpoints/cancer/predict"


@pytest.fixture
def through_app(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the ASGI app's predict and invocations handlers were given."""
    seen: list[str] = []
    for handler in ("predict", "invocations", "v2_infer"):
        original = getattr(ScoringServer, handler)

        async def spy(self: ScoringServer, request: Any, original: Any = original) -> Any:
            seen.append(request.url.path)
            return await original(self, request)

        monkeypatch.setattr(ScoringServer, handler, spy)
    return seen


def _same(direct: httpx.Response, app: httpx.Response) -> None:
    assert direct.status_code == app.status_code, (direct.text, app.text)
    skip = {"x-request-id", "date"}
    assert [(k, v) for k, v in direct.headers.items() if k not in skip] == [
        (k, v) for k, v in app.headers.items() if k not in skip
    ]
    a, b = direct.json(), app.json()
    for body in (a, b):
        body.pop("request_id", None)
        error = body.get("error")
        if isinstance(error, dict):  # the native shape; v2's error is a string
            error.pop("request_id", None)
    assert a == b


def test_direct_answers_are_the_apps_answers(
    registered: Registered, serve: Callable[..., Running], through_app: list[str]
) -> None:
    direct = serve("models:/cancer@champion")
    app = serve("models:/cancer@champion", uvicorn_options={"http": ReadTimeoutProtocol})
    record = registered.rows(1)[0]
    rows = registered.rows(3)
    bodies: list[Any] = [
        {"records": registered.rows(1)},
        {"records": registered.rows(5, start=3)},
        {"records": [{k: v for k, v in record.items() if k != "mean radius"}]},  # 422
        {"records": [{**record, "mean radius": "wide"}]},  # 422
        {"columns": {k: [r[k] for r in rows] for k in rows[0]}},
        {"records": rows, "explain": False, "id": "a-1"},
        {"columns": {k: [r[k] for r in rows] for k in rows[0]}, "records": rows},  # 400: both
        {"records": rows, "explain": "yes"},  # 400
        {"records": []},  # 400: no rows
        {"rows": rows},  # 400: unknown field
        [record],  # 400: not an object
    ]
    for body in bodies:
        mine = direct.http.post(URL, json=body, headers={"x-request-id": "trace-1"})
        _same(mine, app.http.post(URL, json=body, headers={"x-request-id": "trace-1"}))
        assert mine.headers["x-client-request-id"] == "trace-1"
        if mine.status_code == 200:
            assert mine.headers["x-request-id"] == mine.json()["request_id"]
    assert through_app == [URL] * len(bodies)  # only the server run the usual way used the app
    # both counted each request once
    for running in (direct, app):
        running.server.tally.flush()
        lines = [
            x for x in running.http.get("/metrics").text.splitlines()
            if x.startswith("modelyard_requests_total{") and 'endpoint="cancer"' in x
        ]  # fmt: skip
        by_status = {x.split('status="')[1].split('"')[0]: float(x.rsplit(" ", 1)[1]) for x in lines}
        assert by_status == {"200": 4.0, "400": 4.0, "422": 3.0}, lines


def test_mlflow_invocations_are_answered_directly_as_the_app_answers_them(
    registered: Registered, serve: Callable[..., Running], through_app: list[str]
) -> None:
    direct = serve("models:/cancer@champion")
    app = serve("models:/cancer@champion", uvicorn_options={"http": ReadTimeoutProtocol})
    rows = registered.rows(3)
    columns = list(rows[0])
    bodies: list[Any] = [
        {"dataframe_split": {"columns": columns, "data": [list(r.values()) for r in rows]}},
        {"dataframe_records": rows},
        {"inputs": {c: [r[c] for r in rows] for c in columns}},
        {"dataframe_records": [{k: v for k, v in rows[0].items() if k != "mean radius"}]},  # 422
        {"dataframe_split": {"columns": columns}, "inputs": {}},  # 400: two formats
    ]
    for body in bodies:
        mine = direct.http.post("/invocations", json=body, headers={"x-request-id": "trace-2"})
        _same(mine, app.http.post("/invocations", json=body, headers={"x-request-id": "trace-2"}))
        assert mine.headers["x-client-request-id"] == "trace-2"
    assert mine.status_code == 400
    assert through_app == ["/invocations"] * len(bodies)  # the app's server only
    csv = ",".join(columns) + "\n" + ",".join(str(v) for v in rows[0].values()) + "\n"
    answer = direct.http.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1
    assert through_app[-1] == "/invocations" and len(through_app) == len(bodies) + 1  # CSV: the app


def test_open_inference_protocol_requests_are_answered_directly_as_the_app_answers_them(
    registered: Registered, serve: Callable[..., Running], through_app: list[str]
) -> None:
    """JSON tensors to ``/v2/models/{name}/infer``, with or without a content type, answers and
    errors (in the protocol's shape) alike; binary tensors and a version in the path go to the
    app."""
    direct = serve("models:/cancer@champion")
    app = serve("models:/cancer@champion", uvicorn_options={"http": ReadTimeoutProtocol})
    rows = registered.X.head(3).to_numpy()
    v2 = "/v2/models/cancer/infer"
    whole = {"name": "input-0", "shape": [3, 30], "datatype": "FP64", "data": rows.flatten().tolist()}
    per_column = [
        {"name": c, "shape": [3], "datatype": "FP64", "data": registered.X[c].head(3).tolist()}
        for c in registered.X.columns
    ]
    bodies: list[Any] = [
        {"id": "r1", "inputs": [whole]},
        {"inputs": [whole], "outputs": [{"name": "predict"}]},
        {"inputs": per_column},
        {"inputs": [{**whole, "shape": [3, 29]}]},  # 400: shape and data disagree
        {"inputs": [whole], "outputs": "predict"},  # 400: outputs not a list of objects
        {"inputs": [{**whole, "datatype": "BYTES", "data": ["x"] * 90}]},  # 400: not numbers
    ]
    for body in bodies:
        for headers in ({"x-request-id": "trace-3"}, {"x-request-id": "trace-3", "content-type": "application/json"}):
            content = json.dumps(body).encode()
            mine = direct.http.post(v2, content=content, headers={**headers})
            theirs = app.http.post(v2, content=content, headers={**headers})
            _same(mine, theirs)
            assert mine.headers["x-client-request-id"] == "trace-3"
    assert [json.loads(direct.http.post(v2, json=b).text).get("id") for b in bodies[:1]] == ["r1"]
    assert through_app == [v2] * len(bodies) * 2  # the app's server only
    answered = direct.http.post(v2, json=bodies[0]).json()
    assert answered["model_name"] == "cancer" and answered["model_version"] == "1"
    assert [o["name"] for o in answered["outputs"]] == ["predict"]
    assert direct.http.post(v2, json=bodies[3]).json()["error"]  # the protocol's error shape
    # a version in the path, binary tensors: the app's
    versioned = direct.http.post("/v2/models/cancer/versions/1/infer", json=bodies[0])
    assert versioned.status_code == 200 and versioned.json()["outputs"] == answered["outputs"]
    assert through_app[-1] == "/v2/models/cancer/versions/1/infer"
    binary = direct.http.post(
        v2, content=json.dumps(bodies[0]).encode(), headers={"inference-header-content-length": "9999"}
    )
    assert binary.status_code == 400 and through_app[-1] == v2
    # each request was counted once, by the server that answered it
    count = len(bodies) * 2 + 5  # and the five requests after the loop
    for running, expected in ((direct, count), (app, len(bodies) * 2)):
        running.server.tally.flush()
        lines = [
            x for x in running.http.get("/metrics").text.splitlines()
            if x.startswith("modelyard_requests_total{") and 'endpoint="cancer"' in x
        ]  # fmt: skip
        assert sum(float(x.rsplit(" ", 1)[1]) for x in lines) == expected, lines


def test_an_endpoint_of_local_features_is_answered_directly_as_the_app_answers_it(
    registered: Registered, serve: Callable[..., Running], through_app: list[str], tmp_path: Path
) -> None:
    """Entity keys in, features looked up in a SQLite online store, scored: answered by the
    protocol, the same bytes, counts and log rows as the app's; other bodies and the other
    protocols go to the app."""
    deployment, _ = credit_endpoint(registered, tmp_path, str(tmp_path / "online.db"))
    direct = serve(str(deployment))
    app = serve(str(deployment), uvicorn_options={"http": ReadTimeoutProtocol})
    url = "/v1/endpoints/credit/predict"
    bodies: list[Any] = [
        {"records": [{"applicant_id": 1}, {"applicant_id": 2}]},
        {"records": [{"applicant_id": 2, "income": 7.0}]},  # a feature given in the request is used as given
        {"records": [{"applicant_id": 99}]},  # 422: never materialized, no features
        {"records": [{"income": 1.0}]},  # 422: no entity key
        {"records": [[1]]},  # 422: not a record
    ]
    v2 = "/v2/models/credit/infer"
    others: list[tuple[str, Any]] = [
        ("/invocations", {"dataframe_records": [{"applicant_id": 2}, {"applicant_id": 1}]}),
        ("/invocations", {"inputs": {"applicant_id": [1]}}),
        ("/invocations", {"dataframe_records": [{"applicant_id": 99}]}),  # 422
        (v2, {"inputs": [{"name": "applicant_id", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}),
        (v2, {"inputs": [{"name": "income", "shape": [1], "datatype": "FP64", "data": [1.0]}]}),  # 400
    ]
    for path, body in [(url, b) for b in bodies] + others:
        mine = direct.http.post(path, json=body, headers={"x-request-id": "trace-4"})
        _same(mine, app.http.post(path, json=body, headers={"x-request-id": "trace-4"}))
        assert mine.headers["x-client-request-id"] == "trace-4"
    assert through_app == [url] * len(bodies) + [p for p, _ in others]  # the app's server only
    assert direct.http.post(url, json={"records": [{"applicant_id": 1}], "explain": True}).status_code == 200
    assert through_app[-1] == url and len(through_app) == len(bodies) + len(others) + 1  # explanations: the app
    # both servers log into the same folder (one home): each request once
    assert direct.server.writer is not None and app.server.writer is not None
    assert direct.server.writer.root == app.server.writer.root
    direct.server.writer.flush()
    app.server.writer.flush()
    files = sorted((direct.server.writer.root / "requests").rglob("*.parquet"))
    logged = pd.concat(pd.read_parquet(f) for f in files)
    # answered rows, per server: applicant 1 four times, 2 four times (one with its own income);
    # and applicant 1 once more, explained by the direct server's app
    ok = logged[logged.status == 200]
    assert ok.entity_key.value_counts().to_dict() == {"1": 9, "2": 8}
    assert set(ok[ok.entity_key == "1"].input_income) == {5000.0}
    assert sorted(ok[ok.entity_key == "2"].input_income) == [7.0, 7.0] + [200.0] * 6
    assert logged.status.value_counts().to_dict() == {200: 17, 422: 10}  # v2 answers its 422s as 400


def test_other_requests_go_to_the_app_with_their_body(
    registered: Registered, serve: Callable[..., Running], through_app: list[str]
) -> None:
    running = serve("models:/cancer@champion")
    records = registered.rows(2)
    body = json.dumps({"records": records}).encode()
    cases: list[tuple[dict[str, str], bytes, int]] = [
        ({"content-type": "text/plain"}, body, 415),  # the app's 415
        ({"content-type": "application/vnd.api+json"}, body, 200),  # JSON by suffix: the app's
        ({"content-type": "application/json"}, json.dumps({"records": records, "explain": True}).encode(), 200),
    ]
    for headers, content, status in cases:
        answer = running.http.post(URL, content=content, headers=headers)
        assert answer.status_code == status, answer.text
    assert len(through_app) == 3
    # a chunked body and an unknown endpoint go to the app too
    chunked = running.http.post(URL, content=iter([body[:10], body[10:]]), headers={"content-type": "application/json"})
    assert chunked.status_code == 200 and len(chunked.json()["predictions"]) == 2
    unknown = running.http.post("/v1/endpoints/nope/predict", json={"records": records})
    assert unknown.status_code == 404 and "does not exist" in unknown.text
    assert len(through_app) == 5
    # a body over the size the protocol keeps: the app reads it (the pool path)
    many = registered.rows(200)
    assert len(json.dumps({"records": many})) > running.server.offload_bytes
    big = running.http.post(URL, json={"records": many})
    assert big.status_code == 200 and len(big.json()["predictions"]) == 200
    assert len(through_app) == 6


def _read_responses(sock: socket.socket, count: int) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """``count`` HTTP responses read off ``sock`` (each with a content-length)."""
    data = b""
    out: list[tuple[bytes, dict[bytes, bytes], bytes]] = []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
        length = int(headers[b"content-length"])
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        out.append((lines[0], headers, data[:length]))
        data = data[length:]
    return out


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _post(body: bytes, extra: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    return (
        b"POST " + URL.encode() + b" " + version + b"\r\nhost: x\r\ncontent-type: application/json\r\n"
        + b"content-length: %d\r\n" % len(body) + extra + b"\r\n" + body
    )  # fmt: skip


def test_keep_alive_pipelines_and_close_behave_as_uvicorns(
    registered: Registered, serve: Callable[..., Running], through_app: list[str]
) -> None:
    running = serve("models:/cancer@champion")
    port = int(running.base.rsplit(":", 1)[1])
    body = json.dumps({"records": registered.rows(1)}).encode()
    explain = json.dumps({"records": registered.rows(1), "explain": False}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        # three requests in one write: direct, the app's (a GET), the app's (a non-plain
        # body), direct again; answered in order on one connection
        sock.sendall(_post(body) + b"GET /ping HTTP/1.1\r\nhost: x\r\n\r\n" + _post(explain) + _post(body))
        answers = _read_responses(sock, 4)
        assert [a[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 4
        assert [b"predictions" in a[2] for a in answers] == [True, False, True, True]
        assert answers[0][1][b"x-request-id"] != answers[3][1][b"x-request-id"]
        assert b"connection" not in answers[0][1] and b"server" in answers[0][1] and b"date" in answers[0][1]
        # the connection stays open for more
        sock.sendall(_post(body))
        assert _read_responses(sock, 1)[0][0] == b"HTTP/1.1 200 OK"
        # Connection: close is answered, then the server closes
        sock.sendall(_post(body, b"connection: close\r\n"))
        status, headers, _ = _read_responses(sock, 1)[0]
        assert status == b"HTTP/1.1 200 OK" and headers[b"connection"] == b"close"
        assert _closed(sock)
    with socket.create_connection(("127.0.0.1", port)) as sock:  # HTTP/1.0: closed after
        sock.sendall(_post(body, version=b"HTTP/1.0"))
        assert _read_responses(sock, 1)[0][1][b"connection"] == b"close"
        assert _closed(sock)
    with socket.create_connection(("127.0.0.1", port)) as sock:  # a body that comes in pieces
        request = _post(body)
        for i in range(0, len(request), 300):
            sock.sendall(request[i : i + 300])
        assert b"predictions" in _read_responses(sock, 1)[0][2]
    # the body with "explain"; and the request behind it when it came in the same read (while
    # the app answers one request of a connection, the next waits in uvicorn's pipeline)
    assert through_app in ([URL], [URL, URL])


def test_the_log_gets_each_direct_request_once(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path, through_app: list[str]
) -> None:
    import pyarrow.dataset as ds

    deployment = {
        "endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}],
        "prediction_log": {"enabled": True, "path": str(tmp_path / "log"), "flush_seconds": 3600},
    }
    running = serve(deployment_file(tmp_path, deployment))
    ids = [running.http.post(URL, json={"records": registered.rows(2, start=i)}).json()["request_id"] for i in range(5)]
    assert through_app == []
    assert running.server.writer is not None
    running.server.writer.flush()
    table = ds.dataset(tmp_path / "log" / "requests", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("request_id").to_pylist()) == sorted(i for i in ids for _ in range(2))


def test_tokens_are_checked_before_a_direct_answer(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path, through_app: list[str]
) -> None:
    deployment = {
        "endpoints": [{"name": "cancer", "routes": [{"model": "models:/cancer@champion"}]}],
        "auth": {
            "tokens": [
                {"name": "app", "sha256": hash_token("secret-app"), "scopes": ["predict"]},
                {"name": "ops", "sha256": hash_token("secret-ops"), "scopes": ["metrics"]},
            ]
        },
    }
    running = serve(deployment_file(tmp_path, deployment))
    body = {"records": registered.rows(1)}
    allowed = running.http.post(URL, json=body, headers={"authorization": "Bearer secret-app"})
    assert allowed.status_code == 200 and through_app == []
    for headers, status in (({}, 401), ({"authorization": "Bearer wrong"}, 401), ({"authorization": "Bearer secret-ops"}, 403)):
        denied = running.http.post(URL, json=body, headers=headers)
        assert denied.status_code == status, denied.text
    assert len(through_app) == 3  # every refusal is the app's


def test_a_failing_responder_answers_500_and_closes(
    registered: Registered, serve: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    running = serve("models:/cancer@champion")

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ScoringServer, "answer_now", broken)
    port = int(running.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_post(json.dumps({"records": registered.rows(1)}).encode()))
        status, headers, content = _read_responses(sock, 1)[0]
        assert status.startswith(b"HTTP/1.1 500") and b"InternalError" in content
        assert headers[b"connection"] == b"close" and _closed(sock)
    until(lambda: running.http.get("/ping").status_code == 200, "the server to go on answering")


def test_a_body_that_does_not_come_gets_the_read_timeouts_408(
    registered: Registered, serve: Callable[..., Running], through_app: list[str]
) -> None:
    running = serve(
        "models:/cancer@champion",
        uvicorn_options={"http": with_timeouts(header_timeout=5.0, body_timeout=0.3, base=DirectProtocol)},
    )
    port = int(running.base.rsplit(":", 1)[1])
    body = json.dumps({"records": registered.rows(1)}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_post(body)[: -len(body) // 2])  # half the body, then nothing
        status, _, content = _read_responses(sock, 1)[0]
        assert status.startswith(b"HTTP/1.1 408") and b"RequestTimeout" in content
        assert _closed(sock)
    assert through_app == []
    assert running.http.post(URL, json={"records": registered.rows(1)}).status_code == 200
