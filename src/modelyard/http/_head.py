"""A response's head written with its body: one ``writev`` and one TCP segment, not two.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and its body when the app sends ``http.response.body``: two socket
writes, two segments on the wire, two reads for the client. For a small JSON answer the
second write is as dear as the first (under wrk, the two ``write`` calls took 37% of a
scoring worker's samples). :class:`HeadHeld` stands between uvicorn's request cycle and the
socket: it holds a response's head until the first part of its body, then writes both in one
``writelines`` (uvloop and asyncio send a list of buffers with one ``writev``).

What is held is always written, in order: with the next write, when the response completes
(a HEAD request, a 204: no body), or when the connection is closed. Only a final response's
head is held; an interim ``100 Continue`` goes out at once.
"""

from __future__ import annotations

import asyncio

_STATUS = b"HTTP/1.1 "


class HeadHeld:
    """The transport uvicorn's request cycle writes to (``write``, ``close``, ``is_closing``)."""

    __slots__ = ("_head", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self.transport.writelines((head, data))
        elif data[:9] == _STATUS and data[9:10] != b"1":  # a final response's head: wait for its body
            self._head = data
        else:
            self.transport.write(data)

    def flush(self) -> None:
        """Write what is held (a response with no body has completed)."""
        head = self._head
        if head is not None:
            self._head = None
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def forget(self) -> None:
        """The connection is gone: nothing held can be written."""
        self._head = None
