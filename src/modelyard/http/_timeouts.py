"""Read timeouts for uvicorn's HTTP protocol: a client gets ``header_timeout`` seconds from
its first byte (or from connecting) to the end of its headers, and ``body_timeout`` seconds
from there to the end of its body; past that it gets a 408 and the connection is closed.

uvicorn has a keep-alive timeout but no read timeout, so a slow client (slowloris: a header
byte a second) holds its connection, and a file descriptor, forever. The ASGI app cannot see
a request before its headers are complete; the protocol can, so the limit lives here.

``modelyard serve`` passes :class:`ReadTimeoutProtocol` as uvicorn's ``http``; worker
processes read the limits from ``MODELYARD_HEADER_TIMEOUT`` and ``MODELYARD_BODY_TIMEOUT``
(seconds). :func:`with_timeouts` makes a protocol with other limits in this process.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from modelyard.core.extras import missing

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError as error:  # a plain install: the servers are the serve extra
    raise missing("uvicorn", "modelyard's HTTP servers") from error

HEADER_TIMEOUT_ENV = "MODELYARD_HEADER_TIMEOUT"
BODY_TIMEOUT_ENV = "MODELYARD_BODY_TIMEOUT"
_408_BODY = b'{"error":{"type":"RequestTimeout","message":"the request did not arrive within the time limit"}}'
_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_408_BODY), _408_BODY)
)


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


class ReadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read timeouts."""

    header_timeout: float = _seconds(HEADER_TIMEOUT_ENV, 10.0)
    body_timeout: float = _seconds(BODY_TIMEOUT_ENV, 30.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._reading = False  # a request has begun and has not been read whole
        self._previous: Any = None  # the cycle of the request before it (keep-alive)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = True
        self._previous = self.cycle
        self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False
        self._disarm()

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        # a request begun and not yet answered gets a 408; a connection that sent nothing is closed
        cycle = None if self.cycle is self._previous else self.cycle
        if self._reading and (cycle is None or not cycle.response_started):
            self.transport.write(_408)
        self.transport.close()


def with_timeouts(header_timeout: float, body_timeout: float) -> type[ReadTimeoutProtocol]:
    """A protocol class with these limits (for servers started in this process)."""
    return type(
        "ReadTimeoutProtocol",
        (ReadTimeoutProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
