"""Limits before work, work off the event loop (security review 2026-11: D4, R4): model calls run
in a thread pool, so health checks answer while big batches are scored; slow clients are closed
by read timeouts and do not stop others."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

from modelyard.flavors import PythonModel
from modelyard.http._timeouts import with_timeouts

from .conftest import Registered, Running, until

GATE = threading.Event()  # the test opens it; until then the model holds every marked batch
ENTERED: list[int] = []  # one entry per model call waiting at the gate


class Gated(PythonModel):
    """Doubles x; a batch whose first x is -1 waits for GATE (warm-up calls pass)."""

    def predict(self, model_input: Any, params: Any = None) -> Any:
        if float(model_input["x"].iloc[0]) == -1.0:
            ENTERED.append(len(model_input))
            GATE.wait(60)
        return model_input["x"] * 2


def test_health_answers_while_four_maximum_batches_are_scored(
    registered: Registered, serve: Callable[..., Running], tmp_path: Path
) -> None:
    registered.client.register_model("gated", Gated(), input_example=pd.DataFrame({"x": [1.0]}))
    target = tmp_path / "deployment.yaml"
    target.write_text(
        yaml.safe_dump({"endpoints": [{"name": "gated", "routes": [{"model": "models:/gated/1"}]}]})
    )
    running = serve(str(target))
    max_rows = running.server.runtime.endpoints["gated"].config.max_rows
    body = {"columns": {"x": [-1.0] * max_rows}}
    GATE.clear()
    ENTERED.clear()
    answers: list[int] = []

    def score() -> None:
        with httpx.Client(base_url=running.base, timeout=120) as http:
            answers.append(http.post("/v1/endpoints/gated/predict", json=body).status_code)

    clients = [threading.Thread(target=score) for _ in range(4)]
    try:
        for client in clients:
            client.start()
        until(lambda: len(ENTERED) == 4, "four batches inside the model at once")
        assert [max_rows] * 4 == ENTERED
        with httpx.Client(base_url=running.base, timeout=30) as http:
            assert http.get("/v2/health/live").json() == {"live": True}
            assert http.get("/v2/health/ready").status_code == 200
            small = http.post("/v1/endpoints/gated/predict", json={"records": [{"x": 2.0}]})
            assert small.json()["predictions"] == [4.0]
        assert answers == []  # the health checks came back while all four were still being scored
    finally:
        GATE.set()
        for client in clients:
            client.join(timeout=60)
    assert answers == [200] * 4


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed the connection (after a 408, or at once)."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
            sock.received += data  # type: ignore[attr-defined]
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


class _Slow(socket.socket):
    received = b""


def test_slow_clients_are_closed_and_do_not_stop_others(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    running = serve(
        "models:/cancer@champion",
        uvicorn_options={
            "http": with_timeouts(header_timeout=1.0, body_timeout=1.0),
            "limit_concurrency": 1000,
        },
    )
    port = int(running.base.rsplit(":", 1)[1])
    slow: list[_Slow] = []
    for i in range(200):
        sock = _Slow(socket.AF_INET, socket.SOCK_STREAM)
        sock.connect(("127.0.0.1", port))
        if i % 2:  # headers that never end
            sock.sendall(b"POST /v1/endpoints/cancer/predict HTTP/1.1\r\nhost: x\r\nx-slow: ")
        else:  # a body that never ends
            sock.sendall(
                b"POST /v1/endpoints/cancer/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"content-length: 100000\r\n\r\n{"
            )
        sock.setblocking(False)
        slow.append(sock)
    stop = threading.Event()

    def trickle() -> None:  # a byte per connection every 50 ms, for as long as it stays open
        while not stop.is_set():
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b" ")
            stop.wait(0.05)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        # a normal client is served while all 200 trickle
        answer = running.http.post(
            "/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}
        )
        assert answer.status_code == 200
        # and every slow connection is closed, though it keeps sending
        until(
            lambda: all(_closed(sock) for sock in slow), "the server to close every slow connection"
        )
        assert sum(sock.received.startswith(b"HTTP/1.1 408") for sock in slow) >= 150
        assert (
            running.http.post(
                "/v1/endpoints/cancer/predict", json={"records": registered.rows(1)}
            ).status_code
            == 200
        )
    finally:
        stop.set()
        trickler.join()
        for sock in slow:
            sock.close()


def test_an_idle_connection_is_closed_without_an_answer(
    registered: Registered, serve: Callable[..., Running]
) -> None:
    running = serve(
        "models:/cancer@champion",
        uvicorn_options={"http": with_timeouts(header_timeout=2.0, body_timeout=2.0)},
    )
    port = int(running.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as idle:
        idle.settimeout(30)
        assert idle.recv(4096) == b""  # closed, and nothing was sent: no request, no 408
    with socket.create_connection(
        ("127.0.0.1", port)
    ) as kept:  # a second request on a kept-alive connection
        kept.settimeout(30)
        kept.sendall(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\nx-slow: ")
        received = b""
        while chunk := kept.recv(4096):
            received += chunk
        assert received.startswith(b"HTTP/1.1 408")
