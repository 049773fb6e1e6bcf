"""The remote store's HTTP plumbing: one kept-alive ``httpx.Client`` per server, bodies as the
``core.wire`` models, retries with back-off, and the server's JSON errors raised again as the
classes the local store raises.

A write carries an ``X-Request-Id`` that stays the same on every retry of it; the server claims
the id in the write's own transaction, so a write whose answer was lost (a dropped connection,
a server killed after committing) is retried without being done twice.

Retried: failures to connect or to read the answer, and 503 (the server is busy or its store
is). Not retried: every other answer, which is the server's word on the request.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import pydantic

from modelyard.core import errors as E
from modelyard.core.wire import Wire

W = TypeVar("W", bound=Wire)

API = "/api/v1"
_RETRY_STATUS = frozenset({502, 503, 504})
_BY_NAME: dict[str, type[E.ModelyardError]] = {}


def _collect(cls: type[E.ModelyardError]) -> None:
    _BY_NAME[cls.__name__] = cls
    for sub in cls.__subclasses__():
        if sub.__module__ == E.__name__:
            _collect(sub)


_collect(E.ModelyardError)
_BY_NAME.update(
    {
        "PayloadTooLarge": E.ValidationError,
        "UnsupportedMediaType": E.ValidationError,
        "RequestTimeout": E.ValidationError,
        "Timeout": E.ServerUnavailableError,
        "InternalError": E.ModelyardError,
    }
)
_BY_STATUS: dict[int, type[E.ModelyardError]] = {
    400: E.ValidationError,
    401: E.AuthenticationError,
    403: E.PermissionDeniedError,
    404: E.NotFoundError,
    405: E.ValidationError,
    408: E.ValidationError,
    409: E.ConflictError,
    413: E.ValidationError,
    415: E.ValidationError,
    422: E.ValidationError,
}


def error_for(response: httpx.Response) -> E.ModelyardError:
    """The exception a failed answer stands for: the class the server named (the same one the
    local store raises), else one chosen by the status code."""
    kind, message = "", ""
    try:
        payload = response.json()
        detail = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(detail, dict):
            kind = str(detail.get("type", ""))
            message = str(detail.get("message", ""))
            if detail.get("request_id"):
                message += f" (server request id {detail['request_id']})"
    except ValueError:
        pass
    cls = _BY_NAME.get(kind) or _BY_STATUS.get(response.status_code) or E.ModelyardError
    if not message:
        message = f"the server answered {response.status_code} to {response.request.method} {response.request.url.path}"
    if cls is E.GateFailedError:
        return E.GateFailedError(message, checks=[])
    if cls is E.DataQualityError:
        return E.DataQualityError(message, failures=[])
    for klass in cls.__mro__:  # a class that needs more than a message: its nearest base
        if issubclass(klass, E.ModelyardError):
            try:
                return klass(message)
            except TypeError:
                continue
    return E.ModelyardError(message)


def wire(model: type[W], **fields: Any) -> W:
    """A request body, checked here as the server will check it (a ValidationError naming
    the field, never a pydantic one)."""
    try:
        return model(**fields)
    except pydantic.ValidationError as error:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)[:5]
        )
        raise E.ValidationError(f"{model.__name__}: {where}") from None


def retry_seconds() -> float:
    raw = os.environ.get("MODELYARD_HTTP_RETRY_SECONDS", "120")
    try:
        value = float(raw)
    except ValueError:
        raise E.ConfigurationError(
            f"MODELYARD_HTTP_RETRY_SECONDS={raw!r} is not a number of seconds"
        ) from None
    return max(0.0, value)


class Transport:
    """Requests to one team server, retried until ``retry_for`` seconds have passed."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retry_for: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"user-agent": "modelyard-client", "accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self._retry_for = retry_seconds() if retry_for is None else retry_for
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        self._http.close()

    def _send(self, build: Callable[[], httpx.Request], *, stream: bool = False) -> httpx.Response:
        deadline = self._clock() + self._retry_for
        attempt = 0
        while True:
            failure: str
            try:
                response = self._http.send(build(), stream=stream)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code not in _RETRY_STATUS:
                    return response
                if stream:
                    response.read()
                failure = str(error_for(response))
                response.close()
            pause = min(2.0, 0.02 * 2**attempt) * (0.5 + random.random() / 2)
            if self._clock() + pause > deadline:
                raise E.ServerUnavailableError(
                    f"the team server {self.base_url} cannot be reached after {attempt + 1} "
                    f"attempts over {self._retry_for:g} s ({failure[:300]}); check that it runs, "
                    "or raise MODELYARD_HTTP_RETRY_SECONDS"
                )
            self._sleep(pause)
            attempt += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Wire | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | Callable[[], Iterator[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send and answer; a 4xx/5xx raises the error the server named. Writes (anything but
        GET and HEAD) carry one request id over all their retries. ``content`` may be a
        function returning chunks, called again for each attempt (a file streamed anew)."""
        sent: dict[str, str] = dict(headers or {})
        if method not in ("GET", "HEAD"):
            sent["x-request-id"] = uuid.uuid4().hex
        data = content
        if body is not None:
            data = body.model_dump_json(exclude_unset=True).encode()
            sent["content-type"] = "application/json"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._send(
            lambda: self._http.build_request(
                method,
                API + path,
                content=data() if callable(data) else data,
                params=clean,
                headers=sent,
            )
        )
        if response.status_code >= 400 and not (method == "HEAD" and response.status_code == 404):
            raise error_for(response)
        return response

    def call(
        self,
        method: str,
        path: str,
        answer: type[W],
        *,
        body: Wire | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> W:
        response = self.request(method, path, body=body, params=params)
        return answer.model_validate_json(response.content)

    @contextmanager
    def stream(self, path: str) -> Iterator[httpx.Response]:
        """A GET whose answer is read in chunks (blob downloads)."""
        response = self._send(lambda: self._http.build_request("GET", API + path), stream=True)
        try:
            if response.status_code >= 400:
                response.read()
                raise error_for(response)
            yield response
        finally:
            response.close()
