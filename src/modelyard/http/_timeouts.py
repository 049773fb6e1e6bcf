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
import weakref
from typing import Any

from modelyard.core.extras import missing
from modelyard.http._head import HeadHeld

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


class _Sweeper:
    """One timer per event loop that closes the connections whose read deadline has passed.

    A timer per connection and per phase (``call_later`` when a request begins and again when
    its headers end, ``cancel`` when it is read) cost about 1.5 µs a request; a deadline is
    an attribute written, and this sweep, every ``period`` seconds while connections are
    open, reads them all. A deadline is honoured within one period."""

    _of: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweeper] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.period = _MAX_PERIOD
        self.watched: set[ReadTimeoutProtocol] = set()
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Sweeper:
        sweeper = cls._of.get(loop)
        if sweeper is None:
            sweeper = cls._of[loop] = cls(loop)
        return sweeper

    def watch(self, protocol: ReadTimeoutProtocol) -> None:
        self.watched.add(protocol)
        # a quarter of the shortest limit: a deadline is missed by at most a quarter of it
        self.period = max(_MIN_PERIOD, min(self.period, protocol.header_timeout / 4, protocol.body_timeout / 4))
        if self._timer is None:
            self._timer = self.loop.call_later(self.period, self.sweep)

    def forget(self, protocol: ReadTimeoutProtocol) -> None:
        self.watched.discard(protocol)

    def sweep(self) -> None:
        self._timer = None
        now = self.loop.time()
        for protocol in [p for p in self.watched if p._deadline is not None and p._deadline <= now]:
            protocol._read_timed_out()
        if self.watched:
            self._timer = self.loop.call_later(self.period, self.sweep)


_MAX_PERIOD = 1.0
_MIN_PERIOD = 0.05


class ReadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read timeouts, writing a response's
    head together with its body (``_head.py``)."""

    header_timeout: float = _seconds(HEADER_TIMEOUT_ENV, 10.0)
    body_timeout: float = _seconds(BODY_TIMEOUT_ENV, 30.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: float | None = None  # on the loop's clock; None while nothing is read
        self._reading = False  # a request has begun and has not been read whole
        self._previous: Any = None  # the cycle of the request before it (keep-alive)
        self._sweeper = _Sweeper.of(self.loop)
        self._held: HeadHeld | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._held = HeadHeld(transport)
        self._deadline = self.loop.time() + self.header_timeout  # a connection that never sends a byte is closed too
        self._sweeper.watch(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        self._sweeper.forget(self)
        if self._held is not None:
            self._held.forget()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = True
        self._previous = self.cycle
        self._deadline = self.loop.time() + self.header_timeout

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        self._deadline = self.loop.time() + self.body_timeout
        if self.cycle is not before and self.cycle is not None and self._held is not None:
            self.cycle.transport = self._held  # type: ignore[assignment]  # the head waits for the body

    def on_response_complete(self) -> None:
        if self._held is not None:
            self._held.flush()  # a response without a body: its head goes now
        super().on_response_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False
        self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # a request begun and not yet answered gets a 408; a connection that sent nothing is closed
        cycle = None if self.cycle is self._previous else self.cycle
        if self._reading and (cycle is None or not cycle.response_started):
            self.transport.write(_408)
        self.transport.close()


def with_timeouts(
    header_timeout: float, body_timeout: float, base: type[ReadTimeoutProtocol] = ReadTimeoutProtocol
) -> type[ReadTimeoutProtocol]:
    """A protocol class (``base`` or a subclass of it) with these limits, for servers started
    in this process."""
    return type(
        base.__name__,
        (base,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
