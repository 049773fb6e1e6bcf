"""The scoring server's direct answers: what ``http/_direct.py``'s protocol asks before it
hands a request to the app. It takes ``POST /v1/endpoints/{name}/predict``, ``POST
/v2/models/{name}/infer`` and ``POST /invocations``; the server answers those its short paths
take (``ScoringServer.answer_now``) and declines the rest, which the app then answers."""

from __future__ import annotations

from typing import Any, Protocol

PREDICT_PREFIX = "/v1/endpoints/"
PREDICT_SUFFIX = "/predict"
INVOCATIONS = "/invocations"
V2_PREFIX = "/v2/models/"
V2_SUFFIX = "/infer"


def named(path: str, prefix: str, suffix: str) -> str:
    """The ``{name}`` of ``prefix{name}suffix`` (one path segment, as the route matches it), or ""."""
    if path.startswith(prefix) and path.endswith(suffix) and len(path) > len(prefix) + len(suffix):
        name = path[len(prefix) : -len(suffix)]
        return "" if "/" in name else name
    return ""


class Answering(Protocol):
    """What the responder needs of the scoring server."""

    offload_bytes: int
    max_body: int

    def answer_now(
        self, name: str | None, path: str, headers: list[tuple[bytes, bytes]], body: bytes, *, v2: bool = False
    ) -> Any: ...


class DirectResponder:
    """A :class:`modelyard.http._direct.Responder` for the scoring server: bodies up to its
    ``offload_bytes`` (and ``max_body``) on the three scoring routes."""

    __slots__ = ("max_bytes", "server")

    def __init__(self, server: Answering) -> None:
        self.server = server
        self.max_bytes = min(server.offload_bytes, server.max_body)

    def accepts(self, path: str) -> bool:
        return path == INVOCATIONS or bool(named(path, PREDICT_PREFIX, PREDICT_SUFFIX) or named(path, V2_PREFIX, V2_SUFFIX))

    def __call__(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Any:
        if path == INVOCATIONS:
            return self.server.answer_now(None, path, headers, body)
        name = named(path, PREDICT_PREFIX, PREDICT_SUFFIX)
        if name:
            return self.server.answer_now(name, path, headers, body)
        return self.server.answer_now(named(path, V2_PREFIX, V2_SUFFIX), path, headers, body, v2=True)
