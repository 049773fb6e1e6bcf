"""MLflow's proxied artifact API (``/api/2.0/mlflow-artifacts/artifacts``) over modelyard's
content-addressed artifact store: what ``mlflow.log_artifact`` and ``log_model`` upload with
``mlflow-artifacts:`` URIs, and what ``load_model`` downloads.

Two kinds of location, both checked before anything is read:

    <experiment>/<run>/artifacts/<path>   a run's files (uploads are hashed and recorded
                                          on the run, so modelyard's client sees them)
    models/<name>/<version>/<path>        a registered version's files (read-only)

A path with ``..``, an absolute path, a drive, control characters, a backslash or a
percent sign (an encoded path that would decode again) is refused with a 400."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from modelyard.core import validation as v
from modelyard.core.errors import NotFoundError, ValidationError
from modelyard.core.hashing import CHUNK_SIZE
from modelyard.server._state import Principal, ServerState
from modelyard.server._uploads import received_file
from modelyard.server.mlflow._endpoint import CHECKS, answer
from modelyard.server.mlflow._errors import error_answer


@dataclass(frozen=True, slots=True)
class Location:
    kind: str  # "run" or "version"
    owner: str  # run id, or model name
    version: int
    path: str  # inside the run's artifacts or the version's files ('' for the root)
    experiment: str = ""  # a run's experiment, as the path names it


def parse_location(raw: str) -> Location:
    """Where ``raw`` (the part after ``.../mlflow-artifacts/artifacts/``) points."""
    if "%" in raw or "\\" in raw:
        raise ValidationError(
            "artifact path may not hold '%' or '\\' (encoded or Windows-style paths are refused)"
        )
    path = v.check_artifact_path(raw)
    parts = path.split("/") if path else []
    if len(parts) >= 3 and parts[0].isdigit() and parts[2] == "artifacts":
        return Location("run", parts[1], 0, "/".join(parts[3:]), parts[0])
    if len(parts) >= 3 and parts[0] == "models" and parts[2].isdigit():
        return Location("version", parts[1], int(parts[2]), "/".join(parts[3:]))
    raise ValidationError(
        "artifact path must be '<experiment_id>/<run_id>/artifacts/<path>' (a run's files) or "
        "'models/<name>/<version>/<path>' (a registered version's files)"
    )


def _files(state: ServerState, loc: Location) -> list[tuple[str, str, int]]:
    """(path inside the location's root, sha256, size) of every file under ``loc.path``."""
    if loc.kind == "run":
        return state.store.artifact_rows(loc.owner, loc.path)
    version = state.store.registry.get_version(loc.owner, loc.version)
    prefix = loc.path
    return sorted(
        (p, d, s)
        for p, (d, s) in version.files.items()
        if not prefix or p == prefix or p.startswith(prefix + "/")
    )


def _require(state: ServerState, principal: Principal, level: str, loc: Location) -> None:
    kind = "run" if loc.kind == "run" else "model"
    state.auth.authorize(principal, CHECKS[(level, kind)], {"id": loc.owner})
    if loc.kind == "run" and state.store.get_run(loc.owner).info.experiment_id != loc.experiment:
        raise NotFoundError(
            f"run {loc.owner[:64]!r} is not in experiment {loc.experiment[:32]!r}; use the run's "
            "artifact_uri"
        )


def list_files(state: ServerState, loc: Location) -> dict[str, object]:
    """The entries right under ``loc.path``, named relative to it (as MLflow answers)."""
    entries: dict[str, dict[str, object]] = {}
    base = loc.path + "/" if loc.path else ""
    for path, _, size in _files(state, loc):
        if path == loc.path:
            name = path.rsplit("/", 1)[-1]
            entries[name] = {"path": name, "is_dir": False, "file_size": size}
            continue
        rest = path[len(base) :]
        head, sep, _ = rest.partition("/")
        entries[head] = (
            {"path": head, "is_dir": True}
            if sep
            else {"path": head, "is_dir": False, "file_size": size}
        )
    return {"files": [entries[k] for k in sorted(entries)]}


async def _receive(request: Request, state: ServerState) -> tuple[str, int]:
    """Stream the body into the artifact store; its (sha256, size)."""
    async with received_file(request, state, "modelyard-mlflow-upload-") as received:
        return await run_in_threadpool(state.blobs.put_file, received.path)


def artifact_routes_endpoint(state: ServerState) -> Callable[[Request], Awaitable[Response]]:
    """One endpoint for GET (download or list), PUT (upload) and DELETE (refused)."""

    async def run(request: Request) -> Response:
        principal: Principal | None = None
        writes = request.method in ("PUT", "DELETE")
        try:
            principal = await run_in_threadpool(state.auth.authenticate, request.headers)
            listing = "path" not in request.path_params
            raw = request.query_params.get("path", "") if listing else request.path_params["path"]
            loc = parse_location(raw)
            await run_in_threadpool(_require, state, principal, "edit" if writes else "read", loc)
            if request.method == "DELETE":
                raise ValidationError(
                    "modelyard keeps artifacts once logged (they are content-addressed and may be "
                    "shared by model versions); delete the run instead"
                )
            if listing:
                response = answer(await run_in_threadpool(list_files, state, loc))
            elif request.method == "PUT":
                if loc.kind != "run" or not loc.path:
                    raise ValidationError(
                        "uploads go to '<experiment_id>/<run_id>/artifacts/<path>'"
                    )
                digest, size = await _receive(request, state)
                await run_in_threadpool(
                    state.store.record_artifacts, loc.owner, [(loc.path, digest, size)]
                )
                response = answer({})
            else:
                response = await _download(state, loc)
        except Exception as error:
            response = error_answer(error, f"{request.method} {request.url.path[:200]}")
        if writes:
            state.audit.add(
                principal.name if principal else "(unauthenticated)",
                f"mlflow.artifacts.{request.method.lower()}",
                request.url.path[:200],
                response.status_code,
            )
        return response

    return run


async def _download(state: ServerState, loc: Location) -> Response:
    rows = await run_in_threadpool(_files, state, loc)
    found = next((d for p, d, _ in rows if p == loc.path), None)
    if found is None:
        raise NotFoundError(f"no artifact file at {loc.path[:200]!r}")
    handle = await run_in_threadpool(state.blobs.open_blob, found)

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")
