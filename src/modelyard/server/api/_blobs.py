"""Artifact bytes through the server: uploads and downloads streamed between the client and the
artifact store (a folder or a bucket the clients never see), addressed by their sha256.

An upload is hashed as it arrives and kept only if it hashes to the digest in its path; a
download is streamed in chunks (the client checks the sha256 at the end)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from modelyard.core.errors import IntegrityError, NotFoundError
from modelyard.core.hashing import CHUNK_SIZE, check_digest
from modelyard.core.wire import BlobStored
from modelyard.http import PayloadTooLarge
from modelyard.server._operations import Access, Call, Operation, RequestTimeout, json_answer

API = "/api/v1"


async def upload(request: Request, call: Call) -> Response:
    digest = check_digest(call.path["digest"])
    state = call.state
    if await run_in_threadpool(state.blobs.exists, digest):
        return json_answer(BlobStored(digest=digest))
    limit = state.config.max_artifact_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the file is {declared} bytes; this server takes at most {limit}")
    hasher = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix="modelyard-upload-")
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
        if hasher.hexdigest() != digest:
            raise IntegrityError(
                f"the uploaded bytes hash to {hasher.hexdigest()}, not to the {digest} named in the "
                "path; nothing was stored"
            )
        stored, stored_size = await run_in_threadpool(state.blobs.put_file, tmp_name)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return json_answer(BlobStored(digest=stored, size=stored_size))


async def exists(request: Request, call: Call) -> Response:
    digest = check_digest(call.path["digest"])
    found = await run_in_threadpool(call.state.blobs.exists, digest)
    return Response(status_code=200 if found else 404)


async def download(request: Request, call: Call) -> Response:
    digest = check_digest(call.path["digest"])
    blobs = call.state.blobs
    if not await run_in_threadpool(blobs.exists, digest):
        raise NotFoundError(f"blob {digest[:12]}... is not in the artifact store")
    handle = await run_in_threadpool(blobs.open_blob, digest)

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")


OPERATIONS = [
    Operation("upload_blob", "PUT", f"{API}/blobs/{{digest}}",
              "Upload an artifact file's bytes (application/octet-stream), checked against the sha256 in the path",
              response=BlobStored, access=Access("edit"), raw=upload,
              raw_body="application/octet-stream", tag="artifacts"),
    Operation("blob_exists", "HEAD", f"{API}/blobs/{{digest}}", "200 when the blob is stored, else 404",
              access=Access("read", "blob", "digest"), raw=exists, tag="artifacts"),
    Operation("download_blob", "GET", f"{API}/blobs/{{digest}}", "The blob's bytes, streamed",
              access=Access("read", "blob", "digest"), raw=download, tag="artifacts"),
]
