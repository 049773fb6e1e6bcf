"""Artifact bytes through the server: uploads and downloads streamed between the client and the
artifact store (a folder or a bucket the clients never see), addressed by their sha256.

An upload is hashed as it arrives and kept only if it hashes to the digest in its path; a
download is streamed in chunks (the client checks the sha256 at the end)."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from modelyard.core.errors import IntegrityError, NotFoundError
from modelyard.core.hashing import CHUNK_SIZE, check_digest
from modelyard.core.wire import BlobStored
from modelyard.server._operations import Access, Call, Operation, json_answer
from modelyard.server._uploads import received_file

API = "/api/v1"


async def upload(request: Request, call: Call) -> Response:
    digest = check_digest(call.path["digest"])
    state = call.state
    if await run_in_threadpool(state.blobs.exists, digest):
        return json_answer(BlobStored(digest=digest))
    async with received_file(request, state, "modelyard-upload-") as received:
        if received.sha256 != digest:
            raise IntegrityError(
                f"the uploaded bytes hash to {received.sha256}, not to the {digest} named in the "
                "path; nothing was stored"
            )
        stored, stored_size = await run_in_threadpool(state.blobs.put_file, received.path)
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
              response=BlobStored, access=Access("edit", "somewhere"), raw=upload,
              raw_body="application/octet-stream", tag="artifacts"),
    Operation("blob_exists", "HEAD", f"{API}/blobs/{{digest}}", "200 when the blob is stored, else 404",
              access=Access("read", "blob", "digest"), raw=exists, tag="artifacts"),
    Operation("download_blob", "GET", f"{API}/blobs/{{digest}}", "The blob's bytes, streamed",
              access=Access("read", "blob", "digest"), raw=download, tag="artifacts"),
]
