"""The one table that turns modelyard errors into HTTP answers: a client's mistake is a 4xx
naming the field, never a 5xx, and input is never echoed back."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import orjson

from modelyard.core.extras import missing

try:
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response
    from starlette.types import Receive
except ImportError as error:  # a plain install: the servers are the serve extra
    raise missing("starlette", "modelyard's HTTP servers") from error

from modelyard.core.errors import (
    ArtifactIntegrityError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DataQualityError,
    GateFailedError,
    IntegrityError,
    InvalidStateError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    SchemaError,
    StoreError,
    UntrustedModelError,
    ValidationError,
)

log = logging.getLogger("modelyard.server")

STATUS: list[tuple[type[BaseException], int]] = [
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (UntrustedModelError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidStateError, 409),
    (GateFailedError, 409),
    (ArtifactIntegrityError, 500),
    (IntegrityError, 400),
    (StoreError, 503),
    (SchemaError, 422),
    (DataQualityError, 422),
    (ValidationError, 400),
    (ConfigurationError, 500),
    (ModelyardError, 500),
]


NAME_LIMIT = 64
MESSAGE_LIMIT = 600
# a quoted name as repr() writes it: after a space or bracket, not inside a word like "don't"
_QUOTED = re.compile(
    r"""(?<![A-Za-z0-9])('(?:[^'\\\n]|\\.){N,}'|"(?:[^"\\\n]|\\.){N,}")""".replace("N", str(NAME_LIMIT + 1))
)


def shown(name: object, limit: int = NAME_LIMIT) -> str:
    """A client-given name for an error message: quoted, and cut to ``limit`` characters
    (marked "truncated") so that a message never carries much of what the client sent."""
    text = str(name)
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... (truncated, {len(text)} characters)"


def cap_message(message: str) -> str:
    """Cut every quoted name in a message to NAME_LIMIT characters, and the message to
    MESSAGE_LIMIT: the last guard before an error goes back to a client."""

    def cut(match: re.Match[str]) -> str:
        text = match.group(0)
        return text[: NAME_LIMIT + 1] + text[0] + f"... (truncated, {len(text) - 2} characters)"

    capped = _QUOTED.sub(cut, message)
    if len(capped) > MESSAGE_LIMIT:
        capped = capped[:MESSAGE_LIMIT] + "... (truncated)"
    return capped


class PayloadTooLarge(ValidationError):
    """A body over the configured limit."""


def _refuse_declared(declared: str | None, limit: int) -> None:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")


def _refuse_read(size: int, limit: int) -> None:
    if size > limit:
        raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (PayloadTooLarge, a 413) as soon as it passes ``limit`` bytes:
    by its declared length before reading, else while streaming — never parsed in full."""
    _refuse_declared(request.headers.get("content-length"), limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        _refuse_read(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """``read_body`` straight from the ASGI ``receive`` of a request whose body nobody has
    read yet (the scoring server's hot path: a small body comes in one message, taken as is,
    without Starlette's stream). ``declared`` is its content-length header; a client gone
    before the end raises ``ClientDisconnect``."""
    _refuse_declared(declared, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        _refuse_read(size, limit)
        if not message.get("more_body", False):
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


def parse_json(body: bytes) -> Any:
    """A request body as JSON; a ValidationError (400) saying where it breaks, never echoing it."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ValidationError(f"request body is not valid JSON ({error.msg} at position {error.pos})") from None


def json_response(data: object, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


def error_response(request: Request, error: Exception) -> Response:
    if isinstance(error, PayloadTooLarge):
        return json_response(
            {"error": {"type": "PayloadTooLarge", "message": cap_message(str(error))}}, 413
        )
    for cls, status in STATUS:
        if isinstance(error, cls):
            if status >= 500:
                request_id = uuid.uuid4().hex
                log.error("request %s failed", request_id, exc_info=error)
                return json_response(
                    {
                        "error": {
                            "type": type(error).__name__,
                            "message": cap_message(str(error)),
                            "request_id": request_id,
                        }
                    },
                    status,
                )
            return json_response(
                {"error": {"type": type(error).__name__, "message": cap_message(str(error))}},
                status,
            )
    request_id = uuid.uuid4().hex
    log.error("request %s failed", request_id, exc_info=error)
    return json_response(
        {
            "error": {
                "type": "InternalError",
                "message": "the server failed; see its log",
                "request_id": request_id,
            }
        },
        500,
    )
