"""Direct answers: a request the app can answer at once is answered by the HTTP protocol
itself, with no ASGI request cycle.

For every request uvicorn builds a request cycle, starts an asyncio task for the app, and
passes the body and the response through ``receive`` and ``send`` coroutines. For a small
request that the app answers without waiting for anything (a scoring request on the event
loop), that machinery costs more than the answer: ~22 µs a request on this project's
2-core machine, against ~8 µs for parsing the request and writing the response (an "ok"
app under wrk: 33,000 against 126,000 requests a second on one worker).

An ASGI app offers a :class:`Responder` as its ``direct_responder`` attribute (found through
uvicorn's middleware wrappers, ``.app`` by ``.app``). For a POST whose path the responder
accepts, with a ``content-length`` of at most ``max_bytes`` (no chunked body, no ``Expect:
100-continue``), and only while no other request of the connection is being answered, the
protocol keeps the body itself; when it is complete it calls the responder, and writes the
response it returns (status line, uvicorn's default headers, the response's headers and body:
one write). When the responder returns ``None`` the request goes to the app the usual way,
its body already read; a responder returns ``None`` only before it has done anything.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from modelyard.http._timeouts import ReadTimeoutProtocol

_POST = b"POST"
_CONTENT_LENGTH = b"content-length"
_CLOSE = b"connection: close\r\n"
_CRLF = b"\r\n"
_SEP = b": "


class Answered(Protocol):
    """What a responder answers with: a Starlette ``Response`` has all of it."""

    status_code: int
    raw_headers: list[tuple[bytes, bytes]]  # must hold content-length
    body: bytes
    background: Any  # None; anything else runs as a task after the response is written


class Responder(Protocol):
    max_bytes: int

    def accepts(self, path: str) -> bool:
        """Whether a POST to ``path`` may be answered directly (a cheap test of the path)."""

    def __call__(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Answered | None:
        """The response, or None for the app to answer the request the usual way."""


def responder_of(app: Any) -> Responder | None:
    """The responder an ASGI app offers, under up to eight middleware wrappers."""
    for _ in range(8):
        if app is None:
            return None
        responder = getattr(app, "direct_responder", None)
        if responder is not None:
            return responder  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
    return None


class _Failed:
    status_code = 500
    body = b'{"error":{"type":"InternalError","message":"the server failed; see its log"}}'
    raw_headers = [(b"content-type", b"application/json"), (_CONTENT_LENGTH, str(len(body)).encode())]
    background = None


class DirectProtocol(ReadTimeoutProtocol):
    """:class:`ReadTimeoutProtocol` that answers directly what the app's responder accepts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._responder = responder_of(self.app)
        self._direct: list[bytes] | None = None  # the body of a request answered directly
        self._direct_path = ""
        self._direct_keep_alive = True

    def on_message_begin(self) -> None:
        # a keep-alive timer armed by a direct answer earlier in the same read would close
        # the connection under this request
        self._unset_keepalive_if_required()
        self._direct = None
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        responder = self._responder
        if responder is not None and self._takes_directly(responder):
            self._direct = []
            self._deadline = self.loop.time() + self.body_timeout
            return
        super().on_headers_complete()

    def _takes_directly(self, responder: Responder) -> bool:
        parser = self.parser
        if (
            parser.get_method() != _POST
            or self.expect_100_continue
            or self.root_path
            or (self.cycle is not None and not self.cycle.response_complete)
            or self.pipeline
            or self.flow.write_paused
            or parser.should_upgrade()
            or (
                self.limit_concurrency is not None
                and (
                    len(self.connections) >= self.limit_concurrency
                    or len(self.tasks) >= self.limit_concurrency
                )
            )
        ):
            return False
        length = None
        for name, value in self.headers:
            if name == _CONTENT_LENGTH:
                if length is not None or not value.isdigit():
                    return False
                length = int(value)
        if length is None or length > responder.max_bytes:
            return False
        raw = httptools.parse_url(self.url).path
        if b"%" in raw:
            return False
        path = raw.decode("ascii")
        if not responder.accepts(path):
            return False
        self._direct_path = path
        version = parser.get_http_version()
        self._direct_keep_alive = version != "1.0" and parser.should_keep_alive()
        return True

    def on_body(self, body: bytes) -> None:
        direct = self._direct
        if direct is None:
            super().on_body(body)
        else:
            direct.append(body)

    def on_message_complete(self) -> None:
        direct = self._direct
        if direct is None:
            super().on_message_complete()
            return
        self._direct = None
        self._reading = False
        self._deadline = None
        body = b"".join(direct)
        responder = self._responder
        assert responder is not None
        try:
            answered = responder(self._direct_path, self.headers, body)
        except Exception:  # a responder answers its own errors: this is a bug in it
            self.logger.exception("the direct answer to POST %s failed", self._direct_path)
            self._direct_keep_alive = False
            answered = _Failed()
        if answered is None:
            self._to_app(body)
        else:
            self._write(answered)

    def shutdown(self) -> None:
        if self._direct is not None:  # a request being read: answer it, then close
            self._direct_keep_alive = False
            return
        super().shutdown()

    def _to_app(self, body: bytes) -> None:
        """The request, read whole, to the app the usual way (uvicorn's request cycle)."""
        super().on_headers_complete()
        ReadTimeoutProtocol.on_body(self, body)
        ReadTimeoutProtocol.on_message_complete(self)

    def _write(self, answered: Answered) -> None:
        status = answered.status_code
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content += (name, _SEP, value, _CRLF)
        for name, value in answered.raw_headers:
            content += (name, _SEP, value, _CRLF)
        keep_alive = self._direct_keep_alive
        if not keep_alive:
            content.append(_CLOSE)
        content += (_CRLF, answered.body)
        if self.access_log and self.access_logger.isEnabledFor(logging.INFO):  # uvicorn's line
            client = "%s:%d" % self.client if self.client else ""  # noqa: UP031
            self.access_logger.info(
                '%s - "POST %s HTTP/%s" %d',
                client,
                self.url.decode("ascii", "replace"),
                self.parser.get_http_version(),
                status,
            )
        transport = self.transport
        transport.write(b"".join(content))
        if answered.background is not None:
            self.loop.create_task(answered.background())
        self.server_state.total_requests += 1
        if not keep_alive:
            transport.close()
        elif not transport.is_closing():
            self.flow.resume_reading()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
