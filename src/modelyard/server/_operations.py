"""One operation of the team server's API, declared as data: its route, the pydantic models of
its body and answer (which also write the OpenAPI document), the role it needs on what, and a
plain function that does the work in a worker thread.

The order of every request is fixed here, so no route can skip a step:
authenticate → authorize (before any byte of the body is read) → read the body under its
size and time limits → parse it with its model → run the handler (a write inside its
request-id scope, so a retry is done once) → answer JSON → audit the write.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import pydantic
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from modelyard.core.errors import ValidationError
from modelyard.core.wire import Empty, Wire
from modelyard.http import error_response, json_response, read_body
from modelyard.server._state import Principal, ServerState
from modelyard.store import request_scope

Level = Literal["read", "edit", "admin"]
Resource = Literal["global", "somewhere", "experiment", "run", "model", "blob"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_JSON_TYPES = ("application/json", "application/problem+json")


@dataclass(frozen=True, slots=True)
class Access:
    """The role an operation needs: ``read`` (viewer), ``edit`` (editor) or ``admin``, on
    the whole server (the global role), ``somewhere`` (the global role or a grant on any one
    experiment or model: creating a new experiment or model, uploading bytes) or on the
    experiment / run / model / blob named by the path ``param``."""

    level: Level = "read"
    resource: Resource = "global"
    param: str = ""


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: path and query parameters, the parsed body, who asks, the services."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    principal: Principal
    state: ServerState
    query_lists: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return self.principal.name


Handler = Callable[[Call], Wire | Response | None]
RawHandler = Callable[[Request, Call], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    summary: str
    handler: Handler | None = None
    body: type[Wire] | None = None
    response: type[Wire] = Empty
    access: Access = Access()
    raw: RawHandler | None = None  # streams its own body / answer (artifacts)
    raw_body: str | None = None  # the content type a raw operation reads, for the OpenAPI doc
    tag: str = "tracking"

    @property
    def writes(self) -> bool:
        return self.access.level != "read" or self.method not in ("GET", "HEAD")


def _pydantic_message(error: pydantic.ValidationError, what: str) -> str:
    """Where the body is wrong and how, never what it held."""
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(body)"
        parts.append(f"{where[:120]}: {item['msg']}")
    more = f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return f"{what}: " + "; ".join(parts) + more


def parse_model(model: type[Wire], raw: bytes, what: str = "request body") -> Any:
    try:
        return model.model_validate_json(raw or b"{}")
    except pydantic.ValidationError as error:
        raise ValidationError(_pydantic_message(error, what)) from None


def _require_json(request: Request) -> None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _JSON_TYPES:
        raise UnsupportedMediaType(
            "send the body as JSON with 'Content-Type: application/json'"
            + (f" (got {kind[:60]!r})" if kind else " (no Content-Type was sent)")
        )


class UnsupportedMediaType(ValidationError):
    """A body of a content type the route does not take (415)."""


class RequestTimeout(ValidationError):
    """The client did not send its body within the time limit (408)."""


def json_answer(model: Wire | None) -> Response:
    body = (model or Empty()).model_dump_json().encode()
    return Response(body, media_type="application/json")


def endpoint(op: Operation, state: ServerState) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint that runs ``op`` with every step in order."""

    async def run(request: Request) -> Response:
        principal: Principal | None = None
        status = 500
        try:
            principal = await run_in_threadpool(state.auth.authenticate, request.headers)
            params = dict(request.path_params)
            await run_in_threadpool(state.auth.authorize, principal, op, params)
            call = Call(
                path=params,
                query=dict(request.query_params),
                body=None,
                principal=principal,
                state=state,
                query_lists={k: request.query_params.getlist(k) for k in request.query_params},
            )
            if op.raw is not None:
                with anyio.fail_after(state.config.request_timeout_seconds):
                    response = await op.raw(request, call)
            else:
                if op.body is not None:
                    _require_json(request)
                    try:
                        with anyio.fail_after(state.config.body_timeout_seconds):
                            raw = await read_body(request, state.config.max_body_bytes)
                    except TimeoutError:
                        raise RequestTimeout(
                            f"the request body did not arrive within {state.config.body_timeout_seconds:g} s"
                        ) from None
                    call = Call(
                        call.path, call.query, parse_model(op.body, raw), principal, state,
                        call.query_lists,
                    )
                with anyio.fail_after(state.config.request_timeout_seconds):
                    result = await run_in_threadpool(_invoke, op, call, request)
                response = result if isinstance(result, Response) else json_answer(result)
            status = response.status_code
            return response
        except TimeoutError:
            status = 503
            return _timeout(request, state)
        except Exception as error:
            response = _error(request, error)
            status = response.status_code
            return response
        finally:
            if op.writes:
                state.audit.add(
                    principal.name if principal else "(unauthenticated)",
                    op.name,
                    _target(op, request),
                    status,
                )

    return run


def _invoke(op: Operation, call: Call, request: Request) -> Wire | Response | None:
    assert op.handler is not None
    request_id = request.headers.get("x-request-id")
    if op.writes and request_id and _REQUEST_ID.match(request_id):
        with request_scope(request_id, call.actor, op.name):
            return op.handler(call)
    return op.handler(call)


def _target(op: Operation, request: Request) -> str:
    params = request.path_params
    return ",".join(f"{k}={str(v)[:120]}" for k, v in params.items()) or op.path


def _error(request: Request, error: Exception) -> Response:
    if isinstance(error, UnsupportedMediaType):
        status, kind = 415, "UnsupportedMediaType"
    elif isinstance(error, RequestTimeout):
        status, kind = 408, "RequestTimeout"
    else:
        response = error_response(request, error)
        if response.status_code == 401:
            response.headers["www-authenticate"] = 'Bearer realm="modelyard"'
        return response
    return json_response({"error": {"type": kind, "message": str(error)}}, status)


def _timeout(request: Request, state: ServerState) -> Response:
    return json_response(
        {
            "error": {
                "type": "Timeout",
                "message": f"the request took longer than {state.config.request_timeout_seconds:g} s; "
                "retry it (writes carry a request id, so a retry is never done twice)",
            }
        },
        503,
    )
