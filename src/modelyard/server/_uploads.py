"""An upload's body streamed into a temporary file: size limit (declared and counted), a time
limit on each chunk, and the sha256 computed on the way. Used by the native blob route and the
MLflow artifact route, which then hand the file to the artifact store."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from starlette.requests import Request

from modelyard.http import PayloadTooLarge
from modelyard.server._operations import RequestTimeout
from modelyard.server._state import ServerState


@dataclass(frozen=True, slots=True)
class Received:
    path: str  # the temporary file holding the body
    sha256: str
    size: int


@contextlib.asynccontextmanager
async def received_file(request: Request, state: ServerState, prefix: str) -> AsyncIterator[Received]:
    """The request body in a temporary file, removed when the block ends. Over
    ``max_artifact_bytes`` is a 413 (before reading when the length is declared); a chunk that
    does not arrive within ``body_timeout_seconds`` is a 408."""
    limit = state.config.max_artifact_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the file is {declared} bytes; this server takes at most {limit}")
    hasher = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as sink:
            stream = request.stream().__aiter__()
            while True:
                try:
                    with anyio.fail_after(state.config.body_timeout_seconds):
                        chunk = await stream.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise RequestTimeout(
                        f"no bytes of the upload arrived for {state.config.body_timeout_seconds:g} s"
                    ) from None
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the file exceeds this server's limit of {limit} bytes")
                hasher.update(chunk)
                sink.write(chunk)
        yield Received(tmp_name, hasher.hexdigest(), size)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
