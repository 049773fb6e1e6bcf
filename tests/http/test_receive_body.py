"""Reading a request body straight from ASGI ``receive`` (the scoring server's hot path):
whole in one message or in parts, refused past the limit by its declared length or while
reading, and a client gone mid-body is a disconnect, not an empty body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from starlette.requests import ClientDisconnect

from modelyard.http import PayloadTooLarge, receive_body


def _receiving(*messages: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def _read(receive: Callable[[], Awaitable[dict[str, Any]]], declared: str | None, limit: int = 10) -> bytes:
    return anyio.run(receive_body, receive, declared, limit)


def test_one_message_and_parts() -> None:
    assert _read(_receiving({"type": "http.request", "body": b"abc"}), "3") == b"abc"
    parts = _receiving(
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    )
    assert _read(parts, None) == b"abcd"
    assert _read(_receiving({"type": "http.request"}), "0") == b""


def test_over_the_limit_by_declared_length_or_while_reading() -> None:
    never = _receiving()  # nothing is read when the declared length is over
    with pytest.raises(PayloadTooLarge, match="11 bytes; the limit is 10"):
        _read(never, "11")
    lying = _receiving(
        {"type": "http.request", "body": b"x" * 8, "more_body": True},
        {"type": "http.request", "body": b"x" * 8, "more_body": False},
    )
    with pytest.raises(PayloadTooLarge, match="exceeds the limit of 10 bytes"):
        _read(lying, "4")


def test_a_client_gone_mid_body() -> None:
    gone = _receiving({"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"})
    with pytest.raises(ClientDisconnect):
        _read(gone, None)
