"""A response's head is written with the first part of its body (one writev), and whatever is
held is always written, in order: a response without a body, an interim 100 Continue, a
closed connection, pipelined requests."""

from __future__ import annotations

import socket

import pytest

from modelyard.http._head import HeadHeld


class _Recorder:
    """What reached the socket, call by call (the real transports cannot tell)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[bytes, ...]]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", (data,)))

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.calls.append(("writelines", tuple(parts)))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_the_head_goes_with_the_first_part_of_the_body() -> None:
    socket_ = _Recorder()
    held = HeadHeld(socket_)  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim: at once
    held.write(HEAD)
    assert socket_.calls == [("write", (b"HTTP/1.1 100 Continue\r\n\r\n",))]
    held.write(b"o")
    held.write(b"k")  # a second part: straight through
    assert socket_.calls[1:] == [("writelines", (HEAD, b"o")), ("write", (b"k",))]
    held.flush()
    assert len(socket_.calls) == 3  # nothing was held


def test_a_head_without_a_body_goes_at_completion_or_close() -> None:
    socket_ = _Recorder()
    held = HeadHeld(socket_)  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    held.flush()
    held.write(HEAD)
    held.close()
    assert socket_.calls == [("write", (b"HTTP/1.1 204 No Content\r\n\r\n",)), ("write", (HEAD,))]
    assert socket_.closed and held.is_closing()


def _read_all(sock: socket.socket, responses: int) -> bytes:
    received = b""
    while received.count(b"HTTP/1.1 ") < responses or not received.endswith((b"ok", b"\r\n\r\n")):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {received!r}"
        received += chunk
    return received


@pytest.mark.parametrize(
    ("request_", "answer"),
    [
        (b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", b"HTTP/1.1 200 OK"),
        (b"HEAD / HTTP/1.1\r\nhost: x\r\n\r\n", b"HTTP/1.1 200 OK"),  # a head and no body
        (b"GET /empty HTTP/1.1\r\nhost: x\r\n\r\n", b"HTTP/1.1 204 No Content"),
    ],
)
def test_answers_through_a_real_server(server: tuple[int, object], request_: bytes, answer: bytes) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.settimeout(30)
        for _ in range(2):  # one after the other: each answer whole before the next request
            client.sendall(request_)
            assert _read_all(client, 1).startswith(answer)
        client.sendall(request_ + request_)  # pipelined: two answers, in order
        received = _read_all(client, 2)
        assert received.startswith(answer) and received.count(answer) == 2


def test_an_expected_continue_comes_before_the_body_is_sent(server: tuple[int, object]) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.settimeout(30)
        client.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n")
        interim = client.recv(4096)  # would wait for ever if the interim answer were held
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        client.sendall(b"{}")
        received = interim + _read_all(client, 2 - interim.count(b"HTTP/1.1 "))
        assert b"HTTP/1.1 200 OK" in received and received.endswith(b"ok")
