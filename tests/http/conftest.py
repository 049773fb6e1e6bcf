"""A real uvicorn server on port 0 with modelyard's HTTP protocol (read timeouts of 0.4 s,
a response's head written with its body), answering "ok" to anything."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from modelyard.http._timeouts import with_timeouts

from ..poll import until


async def _app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
    status = 204 if scope["path"] == "/empty" else 200
    headers = [] if status == 204 else [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if status == 204 else b"ok"})


@pytest.fixture
def server() -> Iterator[tuple[int, uvicorn.Server]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _app, http=with_timeouts(header_timeout=0.4, body_timeout=0.4), log_level="warning", lifespan="off"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    until(lambda: running.started, "the server to start")
    yield sock.getsockname()[1], running
    running.should_exit = True
    thread.join(timeout=30)
    sock.close()
