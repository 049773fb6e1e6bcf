"""The read timeouts' deadlines: one sweep per event loop closes the connections whose
deadline has passed, never a connection that keeps sending whole requests, and stops when no
connection is open."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from modelyard.http._timeouts import _Sweeper, with_timeouts


async def _app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


@pytest.fixture
def server() -> Iterator[tuple[int, uvicorn.Server]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app, http=with_timeouts(header_timeout=0.4, body_timeout=0.4), log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _until(lambda: running.started, "the server to start")
    yield sock.getsockname()[1], running
    running.should_exit = True
    thread.join(timeout=30)
    sock.close()


def _sweepers() -> list[_Sweeper]:
    return [s for loop, s in list(_Sweeper._of.items()) if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running()]


def test_a_connection_idle_between_whole_requests_is_not_timed_out(server: tuple[int, uvicorn.Server]) -> None:
    """Between requests a kept-alive connection is uvicorn's keep-alive timeout's (5 s), not
    the read timeout's: only a request begun and not read whole has a deadline."""
    port, _ = server
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.settimeout(30)
        for _ in range(3):
            client.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"ok"):
                chunk = client.recv(4096)
                assert chunk, "the server closed a connection that sent whole requests"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(0.8)  # idle for twice the read limit
        client.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ")  # then headers that never end
        received = b""
        while chunk := client.recv(4096):
            received += chunk
        assert received.startswith(b"HTTP/1.1 408")


def test_the_sweep_stops_when_no_connection_is_open(server: tuple[int, uvicorn.Server]) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port)) as idle:
        idle.settimeout(30)
        _until(lambda: any(s.watched for s in _sweepers()), "the connection to be watched")
        sweeper = next(s for s in _sweepers() if s.watched)
        assert sweeper._timer is not None and sweeper.period == pytest.approx(0.1)
        assert idle.recv(4096) == b""  # closed at its deadline, nothing sent
    _until(lambda: not sweeper.watched and sweeper._timer is None, "the sweep to stop")
