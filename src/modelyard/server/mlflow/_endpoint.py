"""One MLflow REST operation declared as data, and the Starlette endpoint that runs it.

Every request goes the same way: authenticate (a bearer token, as ``MLFLOW_TRACKING_TOKEN``
sends it) → for a write, the editor role somewhere, before any byte of the body is read →
the body (JSON, under the server's size and time limits; a GET's query string) parsed by its
pydantic model → the handler, in a worker thread, which checks the role on the experiment,
run or model it touches → a JSON answer or MLflow's error shape → the write audited.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import orjson
import pydantic
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from modelyard.core.errors import ValidationError
from modelyard.http import read_body
from modelyard.server._operations import Access, Operation
from modelyard.server._state import Principal, ServerState
from modelyard.server.mlflow._errors import UnsupportedMediaType, error_answer

Level = Literal["read", "edit"]
Answer = Mapping[str, Any] | None
_JSON_TYPES = ("application/json", "application/problem+json")

# Authorizer.authorize takes an Operation; these stand for "this level on that resource".
CHECKS = {
    (level, kind): Operation(
        f"mlflow_{level}_{kind}", "POST", "", "", access=Access(level, kind, "id")
    )
    for level in ("read", "edit")
    for kind in ("experiment", "run", "model", "somewhere")
}


@dataclass(frozen=True, slots=True)
class MlflowCall:
    """What a handler gets: the parsed body, who asks, and the server's services."""

    body: Any
    principal: Principal
    state: ServerState
    path: Mapping[str, str]

    @property
    def actor(self) -> str:
        return self.principal.name

    def require(self, level: Level, kind: str, resource_id: str) -> None:
        """Refuse (403) unless the caller has ``level`` on the experiment, run or model."""
        self.state.auth.authorize(self.principal, CHECKS[(level, kind)], {"id": resource_id})


Handler = Callable[[MlflowCall], Answer]


@dataclass(frozen=True)
class MlflowOp:
    name: str
    methods: tuple[str, ...]
    path: str  # under /api/2.0/mlflow
    handler: Handler
    body: type[pydantic.BaseModel]
    level: Level = "read"

    @property
    def writes(self) -> bool:
        return self.level == "edit"


def _list_fields(model: type[pydantic.BaseModel]) -> frozenset[str]:
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if typing.get_origin(info.annotation) is list
    )


def _message(error: pydantic.ValidationError) -> str:
    """Where the body is wrong and how, never what it held."""
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(body)"
        parts.append(f"{where[:120]}: {item['msg']}")
    return "invalid request: " + "; ".join(parts)


async def _parse(request: Request, op: MlflowOp, lists: frozenset[str], state: ServerState) -> Any:
    if request.method == "GET":
        query = request.query_params
        data: dict[str, Any] = {k: (query.getlist(k) if k in lists else query[k]) for k in query}
        try:
            return op.body.model_validate(data)
        except pydantic.ValidationError as error:
            raise ValidationError(_message(error)) from None
    try:
        with anyio.fail_after(state.config.body_timeout_seconds):
            raw = await read_body(request, state.config.max_body_bytes)
    except TimeoutError:
        raise ValidationError(
            f"the request body did not arrive within {state.config.body_timeout_seconds:g} s"
        ) from None
    if raw.strip():
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in _JSON_TYPES:
            raise UnsupportedMediaType(
                "send the body as JSON with 'Content-Type: application/json'"
                + (f" (got {kind[:60]!r})" if kind else " (no Content-Type was sent)")
            )
    try:
        return op.body.model_validate_json(raw.strip() or b"{}")
    except pydantic.ValidationError as error:
        raise ValidationError(_message(error)) from None


def answer(data: Answer) -> Response:
    return Response(
        orjson.dumps(data or {}, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )


_TARGET_FIELDS = (
    "experiment_id",
    "run_id",
    "run_uuid",
    "name",
    "version",
    "alias",
    "source_run_id",
)


def _target(body: Any, path: Mapping[str, str]) -> str:
    """What a write touched, for the audit: the ids in its path and body."""
    found = dict(path)
    for key in _TARGET_FIELDS:
        value = getattr(body, key, None)
        if value:
            found.setdefault(key, str(value))
    return ",".join(f"{k}={v[:120]}" for k, v in found.items())


def endpoint(op: MlflowOp, state: ServerState) -> Callable[[Request], Awaitable[Response]]:
    lists = _list_fields(op.body)
    edit_somewhere = CHECKS[("edit", "somewhere")]

    checks_tokens = getattr(state.auth, "enabled", True)

    def who(headers: Mapping[str, str]) -> Principal:
        principal = state.auth.authenticate(headers)
        if op.writes:  # the editor role somewhere, before any byte of the body is read
            state.auth.authorize(principal, edit_somewhere, {})
        return principal

    async def run(request: Request) -> Response:
        principal: Principal | None = None
        body: Any = None
        try:
            if checks_tokens:
                principal = await run_in_threadpool(who, request.headers)
            else:  # --auth none: no lookup, so no worker thread either
                principal = who(request.headers)
            body = await _parse(request, op, lists, state)
            call = MlflowCall(body, principal, state, dict(request.path_params))
            with anyio.fail_after(state.config.request_timeout_seconds):
                result = await run_in_threadpool(op.handler, call)
            response = answer(result)
        except Exception as error:
            response = error_answer(error, f"{request.method} {request.url.path[:200]}")
        status = response.status_code
        if op.writes:
            state.audit.add(
                principal.name if principal else "(unauthenticated)",
                f"mlflow.{op.name}",
                _target(body, request.path_params) or op.path,
                status,
            )
        return response

    return run
