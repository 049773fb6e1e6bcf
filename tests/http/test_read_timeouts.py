"""The read timeouts' deadlines: one sweep per event loop closes the connections whose
deadline has passed, never a connection that keeps sending whole requests, and stops when no
connection is open."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import uvicorn

from modelyard.http._timeouts import _Sweeper

from ..poll import until as _until


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
