"""The scoring server as an ASGI app: native JSON, Open Inference Protocol v2, MLflow's
``/invocations``, feedback, ``/metrics`` and an OpenAPI document, over one ``Runtime``."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route as HttpRoute

from modelyard import __version__
from modelyard.core.errors import SchemaError, ValidationError
from modelyard.data._predlog import REASONS, LoggedRequest
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.http import (
    STATUS,
    PayloadTooLarge,
    cap_message,
    parse_json,
    read_body,
    receive_body,
    shown,
)
from modelyard.serving import _protocols as proto
from modelyard.serving._auth import Authenticator
from modelyard.serving._batcher import Batcher
from modelyard.serving._feedback import parse_feedback
from modelyard.serving._inputs import Batch
from modelyard.serving._metrics import Metrics
from modelyard.serving._openapi import openapi_document
from modelyard.serving._responder import PREDICT_PREFIX, PREDICT_SUFFIX, DirectResponder, named
from modelyard.serving._runtime import Endpoint, Route, Runtime
from modelyard.serving._scorer import Output, Scorer
from modelyard.serving._scoring import ClientError, ScoringPath
from modelyard.serving._tally import Tally
from modelyard.serving._wire import Answer, client_headers, head

log = logging.getLogger("modelyard.serving")
_JSON = "application/json"
_CSV = ("text/csv", "application/csv")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None, background: BackgroundTask | None = None) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type=_JSON,
        headers=headers,
        background=background,
    )


def _error(status: int, kind: str, message: str, request_id: str, headers: dict[str, str] | None = None) -> Response:
    return _json(
        {"error": {"type": kind, "message": cap_message(message), "request_id": request_id}},
        status,
        {"x-request-id": request_id, **(headers or {})},
    )


def _native_answer(request_id: str, endpoint: Endpoint, route: Route, scorer: Scorer, out: Output) -> dict[str, Any]:
    """The body of a native answer: who answered, then the predictions."""
    return {
        "request_id": request_id,
        "endpoint": endpoint.name,
        "route": route.label,
        "model": scorer.name,
        "version": scorer.label,
        **proto.native_answer(out),
    }


def _native_build(endpoint: Endpoint, layout: str, payload: Any) -> Callable[[Scorer], Batch]:
    """How a native payload becomes a scorer's batch: entity keys the model does not take
    are dropped first."""

    def build(scorer: Scorer) -> Batch:
        data = payload
        drop = [k for k in endpoint.entity_keys if k not in scorer.spec.name_set]
        if drop and layout == "records":
            data = [{k: v for k, v in r.items() if k not in drop} if isinstance(r, dict) else r for r in payload]
        elif drop and isinstance(payload, dict):
            data = {k: v for k, v in payload.items() if k not in drop}
        return proto.native_batch(scorer.spec, layout, data)

    return build


def _status_of(error: Exception) -> int | None:
    if isinstance(error, PayloadTooLarge):
        return 413
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status if status < 500 else None
    return None


class ScoringServer(ScoringPath):
    """Holds the runtime, the prediction log, metrics and auth; builds the Starlette app."""

    def __init__(self, target: str, *, tracking_uri: str | None = None, watch: bool = True) -> None:
        self.metrics = Metrics()
        self.tally = Tally(self.metrics)
        self.runtime = Runtime(
            target, tracking_uri=tracking_uri, on_swap=self._swapped, on_load=self._loaded
        )
        config = self.runtime.config
        self.config = config
        self.auth = Authenticator(config.auth)
        self.max_body = config.max_body_bytes
        self.offload_bytes = config.offload_bytes
        self._limiter = anyio.CapacityLimiter(config.score_threads)
        self._batchers: dict[str, Batcher] = {}
        log_config = config.prediction_log
        self.writer: PredictionLogWriter | None = (
            PredictionLogWriter(
                log_config.path,
                queue_size=log_config.queue_size,
                queue_bytes=log_config.queue_bytes,
                flush_seconds=log_config.flush_seconds,
                packing=True,
            )
            if log_config.enabled
            else None
        )
        self.watch = watch
        self._dropped_seen = dict.fromkeys(REASONS, 0)

    # -- hooks ----------------------------------------------------------------------------

    def _loaded(self, endpoint: Endpoint, route: Route, scorer: Scorer) -> None:
        self.metrics.load_seconds.labels(endpoint.name, route.label, scorer.label).set(scorer.load_seconds)

    def _swapped(self, endpoint: Endpoint, route: Route, scorer: Scorer) -> None:
        self._loaded(endpoint, route, scorer)
        self.metrics.swaps.labels(endpoint.name, route.label).inc()

    # -- lifecycle -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.start()
        try:
            yield
        finally:
            self.close()

    def start(self) -> None:
        self.tally.start()
        if self.writer is not None:
            self.writer.start()
        if self.watch:
            self.runtime.start(self.config.poll_seconds)

    def close(self) -> None:
        self.tally.close()
        self.runtime.close()
        if self.writer is not None:
            self.writer.close()

    # -- request plumbing ----------------------------------------------------------------

    def _check_auth(self, request: Request, scope: str | None) -> None:
        """401 without a valid token, 403 when it lacks ``scope`` (None: any valid token)."""
        if self.auth.enabled:
            self._authorize(request.headers.get("authorization"), scope)

    def _authorize(self, authorization: str | None, scope: str | None) -> None:
        """``_check_auth`` on the value of an ``Authorization`` header."""
        scopes = self.auth.scopes(authorization)
        if scopes is None:
            raise ClientError(
                401, "Unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)",
                {"www-authenticate": 'Bearer realm="modelyard"'},
            )
        if scope is not None and scope not in scopes:
            raise ClientError(403, "Forbidden", f"this token lacks the '{scope}' scope")

    async def _body(self, request: Request) -> bytes:
        return await read_body(request, self.max_body)

    def _endpoint(self, name: str) -> Endpoint:
        endpoint = self.runtime.endpoints.get(name)
        if endpoint is None:
            known = sorted(self.runtime.endpoints)
            raise ClientError(
                404, "NotFound", f"endpoint {shown(name)} does not exist; this server has {known}"
            )
        return endpoint

    def _request_id(self, request: Request | None) -> str:
        """The server chooses every request id (feedback is matched by it, so a client must not
        be able to take another's); a client's own ``x-request-id`` comes back as
        ``x-client-request-id`` for its tracing. 128 random bits as 32 hex digits (what
        ``uuid4().hex`` gave, without building a UUID object)."""
        return os.urandom(16).hex()

    @staticmethod
    def _client_id(request: Request) -> dict[str, str]:
        return client_headers(head(request.scope["headers"]).client_id)

    @classmethod
    def _require(cls, request: Request, *allowed: str, missing_ok: bool = False) -> str:
        """The media type of the body, which must be one of ``allowed`` (a 415 otherwise): a
        browser form or a ``text/plain`` fetch cannot reach a JSON route without a preflight."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        return cls._accept(media, allowed, missing_ok)

    @staticmethod
    def _accept(media: str, allowed: tuple[str, ...], missing_ok: bool = False) -> str:
        if (
            media in allowed
            or (media.endswith("+json") and _JSON in allowed)
            or (not media and missing_ok)
        ):
            return media
        got = f"got {shown(media)}" if media else "the request has no content-type"
        raise ClientError(
            415, "UnsupportedMediaType", f"send the body as {' or '.join(allowed)}; {got}"
        )

    async def _handle(
        self,
        request: Request,
        scope: str | None,
        work: Callable[[str, float], Awaitable[Response]],
    ) -> Response:
        request_id = self._request_id(request)
        started = time.perf_counter()
        try:
            self._check_auth(request, scope)
            return await work(request_id, started)
        except ClientDisconnect:  # gone mid-body (or closed by the read timeout): nobody to answer
            self._failed(request.path_params.get("name", ""), request.url.path, 408, request_id, started)
            return _error(408, "RequestTimeout", "the client went away before its body arrived", request_id)
        except Exception as error:
            return self._failure(
                error, request.path_params.get("name", ""), request.url.path, request.scope["headers"], request_id, started
            )

    def _failure(
        self,
        error: Exception,
        name: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        request_id: str,
        started: float,
    ) -> Response:
        """The error answer to a request to ``path`` (its ``{name}`` parameter: ``name``),
        counted and logged; the client's own request id comes back with every answer."""
        client = client_headers(head(headers).client_id)
        if isinstance(error, ClientError):
            self._failed(name, path, error.status, request_id, started, counted=error.status == 500)
            return _error(error.status, error.kind, str(error), request_id, {**error.headers, **client})
        status = _status_of(error)
        if status is not None:
            self._failed(name, path, status, request_id, started)
            return _error(status, type(error).__name__, str(error), request_id, client)
        self._failed(name, path, 500, request_id, started)
        log.error("request %s failed", request_id, exc_info=error)
        return _error(500, "InternalError", "the server failed; see its log", request_id, client)

    def _failed(self, name: str, path: str, status: int, request_id: str, started: float, counted: bool = False) -> None:
        """Count a failed request (a model error is counted where it happens) and log it, so
        that monitoring sees error rates; 401/403/404 to unknown endpoints are not logged."""
        if name not in self.runtime.endpoints:
            name = "" if path != "/invocations" else next(iter(self.runtime.endpoints))
        if not counted:
            self.metrics.requests.labels(name, "", "", str(status)).inc()
        if self.writer is not None and name and status not in (401, 403):
            self.writer.log(
                LoggedRequest(
                    request_id, time.time(), name, "", "", "", False, status,
                    (time.perf_counter() - started) * 1000.0, 1,
                )
            )

    # -- native API --------------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        async def work(request_id: str, started: float) -> Response:
            endpoint = self._endpoint(request.path_params["name"])
            given = head(request.scope["headers"])
            self._accept(given.media, (_JSON,))
            raw = await receive_body(request.receive, given.length, self.max_body)
            if self._plain(endpoint) and len(raw) <= self.offload_bytes:
                answered = self._predict_plain(endpoint, raw, request_id, started, given.client_id)
                if answered is not None:
                    return answered
            off = self._offload(raw)
            body = await off(parse_json, raw)
            layout, payload = proto.native_rows(body)
            proto.check_rows(proto.payload_rows(layout, payload), endpoint.config.max_rows)
            keys, payload = self._take_keys(endpoint, layout, payload)
            if endpoint.features is not None:
                lookup = self._lookup_via(endpoint, raw)
                layout, payload = "records", await lookup(self._enrich, endpoint, layout, payload, keys)
            route = endpoint.choose(keys[0] if keys and endpoint.config.sticky_key else None)
            explain = bool(body.get("explain"))
            if explain and not endpoint.config.explain:
                raise ClientError(403, "Forbidden", f"explanations are switched off for endpoint {endpoint.name!r}")

            build = _native_build(endpoint, layout, payload)
            scorer, batch, out = await self._score_via(off, endpoint, route, build, request_id, started, keys)
            answer = _native_answer(request_id, endpoint, route, scorer, out)
            if explain:
                frame = await self._off(scorer.explain, batch)
                answer["explanations"] = frame.to_dict(orient="records")
            return _json(
                answer,
                headers={"x-request-id": request_id, **client_headers(given.client_id)},
                background=self._shadow_task(endpoint, build, request_id, keys),
            )

        return await self._handle(request, "predict", work)

    @staticmethod
    def _plain(endpoint: Endpoint) -> bool:
        """Whether a request to ``endpoint`` needs nothing but its rows scored: no sticky key,
        features, shadows or batching (the common deployment, and the hot path)."""
        return (
            endpoint.features is None
            and not endpoint.shadows
            and not endpoint.config.sticky_key
            and endpoint.config.batching is None
        )

    @staticmethod
    def _enriched_now(endpoint: Endpoint) -> bool:
        """Whether a request to ``endpoint`` needs nothing but its features looked up in this
        process (SQLite) and its rows scored."""
        return (
            endpoint.local_features
            and not endpoint.shadows
            and not endpoint.config.sticky_key
            and endpoint.config.batching is None
        )

    def _records(self, endpoint: Endpoint, raw: bytes) -> list[Any] | None:
        """The rows of a ``{"records": [...]}`` body and nothing else (within ``max_rows``)."""
        body = parse_json(raw)
        if type(body) is not dict or len(body) != 1:
            return None
        records = body.get("records")
        if type(records) is not list or not 0 < len(records) <= endpoint.config.max_rows:
            return None
        return records

    def _predict_enriched(
        self, endpoint: Endpoint, raw: bytes, request_id: str, started: float, client_id: str | None
    ) -> Response | None:
        """A ``{"records": [...]}`` body to an endpoint of local features (``_enriched_now``):
        keys taken, features looked up and rows scored on the event loop, answered as the
        general path answers; None for any other body."""
        records = self._records(endpoint, raw)
        if records is None:
            return None
        keys, payload = self._take_keys(endpoint, "records", records)
        payload = self._enrich(endpoint, "records", payload, keys)
        route = endpoint.choose()
        build = _native_build(endpoint, "records", payload)
        scorer, _, out = self._score(endpoint, route, build, request_id, started, keys)
        return _json(
            _native_answer(request_id, endpoint, route, scorer, out),
            headers={"x-request-id": request_id, **client_headers(client_id)},
        )

    def _predict_plain(
        self, endpoint: Endpoint, raw: bytes, request_id: str, started: float, client_id: str | None
    ) -> Response | None:
        """The answer to a native request (``records`` or ``columns``) to a plain endpoint,
        scored on the event loop; the commonest, ``{"records": [...]}`` and nothing else, with
        no check it does not need. None for a request of explanations (computed in the pool):
        the general path answers it. Errors are raised as the general path raises them."""
        body = parse_json(raw)
        records = body.get("records") if type(body) is dict and len(body) == 1 else None
        if type(records) is list and 0 < len(records) <= endpoint.config.max_rows:
            layout, payload = "records", records
        else:
            layout, payload = proto.native_rows(body)
            if body.get("explain"):
                return None
            proto.check_rows(proto.payload_rows(layout, payload), endpoint.config.max_rows)
        route = endpoint.choose()
        scorer = route.scorer  # read once: a swap during this request does not affect it
        batch = proto.native_batch(scorer.spec, layout, payload)
        scorer, batch, out = self._score_checked(endpoint, route, scorer, batch, request_id, started, None)
        answer = _native_answer(request_id, endpoint, route, scorer, out)
        return Answer(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), request_id, client_id)

    def answer_now(
        self, name: str | None, path: str, headers: list[tuple[bytes, bytes]], body: bytes, *, v2: bool = False
    ) -> Response | None:
        """A scoring request answered from the HTTP protocol, with no ASGI request cycle
        (``http/_direct.py``): a predict request to endpoint ``name``, with ``v2`` an Open
        Inference Protocol infer request to it (JSON tensors), or, with ``name`` None, an
        ``/invocations`` request, to a plain endpoint or one of local features
        (``_enriched_now``). What the app answers such a request, errors included; None
        for any other request, before anything is counted or logged (the app then answers it
        from the start, as every request to a server run another way)."""
        endpoints = self.runtime.endpoints
        endpoint = next(iter(endpoints.values())) if name is None else endpoints.get(name)
        if endpoint is None or len(body) > self.offload_bytes:
            return None
        enriched = self._enriched_now(endpoint)
        if not (enriched or self._plain(endpoint)):
            return None
        given = head(headers)
        if v2:
            # Triton's and KServe's clients may send no content type; binary tensors (a
            # header giving the JSON part's length) are the app's
            if given.media not in (_JSON, "") or any(k == _BINARY_LENGTH for k, _ in headers):
                return None
        elif given.media != _JSON:
            return None
        if self.auth.enabled:
            # as Starlette's ``headers.get``: repeated headers joined with ", "
            token = ", ".join(v.decode("latin-1") for k, v in headers if k == b"authorization")
            try:
                self._authorize(token or None, "predict")
            except ClientError:
                return None  # the app answers 401 or 403, and counts them
        request_id = self._request_id(None)
        started = time.perf_counter()
        try:
            if name is None:
                return self._invocations_plain(endpoint, body, request_id, started, given.client_id)
            if v2:
                return self._v2_plain(endpoint, body, request_id, started, given.client_id)
            if enriched:
                return self._predict_enriched(endpoint, body, request_id, started, given.client_id)
            return self._predict_plain(endpoint, body, request_id, started, given.client_id)
        except Exception as error:
            failed = self._failure(error, name or "", path, headers, request_id, started)
            return proto.v2_errors(failed) if v2 else failed

    def _v2_plain(
        self, endpoint: Endpoint, body: bytes, request_id: str, started: float, client_id: str | None
    ) -> Response:
        """An Open Inference Protocol infer request of JSON tensors of at most ``offload_bytes``
        to a plain endpoint or one of local features, decoded (features looked up) and scored
        on the event loop."""
        data, tensors = proto.v2_request(body, None, endpoint.config.max_rows)
        keys: list[Any] | None = None
        if endpoint.features is not None:
            columns = proto.v2_columns([str(t["name"]) for t in data["inputs"]], tensors)
            keys, build = self._looked_up(endpoint, proto.columns_to_records(columns, "inputs"))
        else:

            def build(scorer: Scorer) -> Batch:
                return proto.v2_batch(scorer.spec, data, tensors)

        route = endpoint.choose()
        wanted = _v2_wanted(data)
        scorer, _, out = self._score(endpoint, route, build, request_id, started, keys)
        return _json(
            _v2_answer(endpoint, scorer, out, data, wanted),
            headers={"x-request-id": request_id, **client_headers(client_id)},
        )

    def _invocations_plain(
        self, endpoint: Endpoint, body: bytes, request_id: str, started: float, client_id: str | None
    ) -> Response:
        """An ``/invocations`` JSON body of at most ``offload_bytes`` to a plain endpoint or one
        of local features, decoded (features looked up) and scored on the event loop."""
        key, payload = proto.mlflow_payload(body, _JSON, endpoint.config.max_rows)
        keys: list[Any] | None = None
        if endpoint.features is not None:
            keys, build = self._looked_up(endpoint, proto.mlflow_records(key, payload))
        else:

            def build(scorer: Scorer) -> Batch:
                return proto.mlflow_batch(scorer.spec, key, payload)

        _, _, out = self._score(endpoint, endpoint.choose(), build, request_id, started, keys)
        return _json(
            {"predictions": proto.jsonable(out.predictions)},
            headers={"x-request-id": request_id, **client_headers(client_id)},
        )

    def _take_keys(self, endpoint: Endpoint, layout: str, payload: Any) -> tuple[list[Any] | None, Any]:
        """Entity keys (sticky key, feature join keys) out of a native payload: they route and
        look up features, and are logged, but are not model input unless the signature says so."""
        names = endpoint.entity_keys
        if not names:
            return None, payload
        key = names[0]
        if layout == "records" and isinstance(payload, list) and payload and all(isinstance(r, dict) for r in payload):
            keys = [r.get(key) for r in payload]
            if not any(k is None for k in keys):
                return keys, payload
        elif layout == "columns" and isinstance(payload, dict) and isinstance(payload.get(key), list):
            return list(payload[key]), payload
        if endpoint.features is None:
            return None, payload  # a sticky key is a preference: without it, routing goes by weight
        raise SchemaError(f"every row needs the entity key {key!r}: this endpoint looks features up by it")

    def _enrich(self, endpoint: Endpoint, layout: str, payload: Any, keys: list[Any] | None) -> list[dict[str, Any]]:
        store, service, join_keys = endpoint.features
        if layout == "columns":
            count = len(next(iter(payload.values())))
            records = [{k: v[i] for k, v in payload.items()} for i in range(count)]
        else:
            records = payload
        for i, record in enumerate(records):
            missing = [k for k in join_keys if k not in record]
            if missing:
                raise SchemaError(f"records[{i}] lacks the entity key{'s' if len(missing) > 1 else ''} {missing}")
        entity_rows = [{k: r[k] for k in join_keys} for r in records]
        found = store.get_online_features(service, entity_rows)
        enriched = []
        for record, row in zip(records, found.rows, strict=True):
            merged = {k: v for k, v in row.items() if k not in join_keys}
            merged.update(record)
            enriched.append(merged)
        return enriched

    def _looked_up(
        self, endpoint: Endpoint, records: list[Any]
    ) -> tuple[list[Any] | None, Callable[[Scorer], Batch]]:
        """Entity keys out of rows, features in (as the native route does), for /invocations
        and v2 on an endpoint that looks features up."""
        keys, records = self._take_keys(endpoint, "records", records)
        enriched = self._enrich(endpoint, "records", records, keys)

        def build(scorer: Scorer) -> Batch:
            drop = [k for k in endpoint.entity_keys if k not in scorer.spec.name_set]
            data = [{k: v for k, v in r.items() if k not in drop} for r in enriched] if drop else enriched
            return proto.native_batch(scorer.spec, "records", data)

        return keys, build

    # -- MLflow ------------------------------------------------------------------------------

    async def invocations(self, request: Request) -> Response:
        async def work(request_id: str, started: float) -> Response:
            endpoint = next(iter(self.runtime.endpoints.values()))
            media = self._require(request, _JSON, *_CSV)
            body = await self._body(request)
            now = self._plain(endpoint) or self._enriched_now(endpoint)
            if media == _JSON and now and len(body) <= self.offload_bytes:
                return self._invocations_plain(
                    endpoint, body, request_id, started, head(request.scope["headers"]).client_id
                )
            off = self._offload(body)
            key, payload = await off(proto.mlflow_payload, body, media, endpoint.config.max_rows)
            keys: list[Any] | None = None
            if endpoint.features is not None:
                keys, build = await self._lookup_via(endpoint, body)(
                    self._looked_up, endpoint, proto.mlflow_records(key, payload)
                )
            else:

                def build(scorer: Scorer) -> Batch:
                    return proto.mlflow_batch(scorer.spec, key, payload)

            route = endpoint.choose(keys[0] if keys and endpoint.config.sticky_key else None)
            _, _, out = await self._score_via(off, endpoint, route, build, request_id, started, keys)
            return _json(
                {"predictions": proto.jsonable(out.predictions)},
                headers={"x-request-id": request_id, **self._client_id(request)},
                background=self._shadow_task(endpoint, build, request_id, keys),
            )

        return await self._handle(request, "predict", work)

    # -- Open Inference Protocol v2 ------------------------------------------------------------

    async def v2_infer(self, request: Request) -> Response:
        async def work(request_id: str, started: float) -> Response:
            endpoint = self._endpoint(request.path_params["name"])
            wanted_version = request.path_params.get("version")
            # Triton's and KServe's clients send no content type; binary tensors come as octet-stream
            self._require(request, _JSON, "application/octet-stream", missing_ok=True)
            body = await self._body(request)
            off = self._offload(body)
            data, tensors = await off(
                proto.v2_request,
                body,
                request.headers.get("inference-header-content-length"),
                endpoint.config.max_rows,
            )
            keys: list[Any] | None = None
            if endpoint.features is not None:
                names = [str(t["name"]) for t in data["inputs"]]
                columns = proto.v2_columns(names, tensors)
                keys, build = await self._lookup_via(endpoint, body)(
                    self._looked_up, endpoint, proto.columns_to_records(columns, "inputs")
                )
            else:

                def build(scorer: Scorer) -> Batch:
                    return proto.v2_batch(scorer.spec, data, tensors)

            if wanted_version is not None:
                route = endpoint.route_for_version(wanted_version)
                if route is None:
                    served = [r.scorer.label for r in endpoint.routes]
                    raise ClientError(
                        404,
                        "NotFound",
                        f"model {endpoint.name!r} has no version {shown(wanted_version)} being served; served: {served}",
                    )
            else:
                route = endpoint.choose(keys[0] if keys and endpoint.config.sticky_key else None)
            wanted = _v2_wanted(data)
            scorer, _, out = await self._score_via(off, endpoint, route, build, request_id, started, keys)
            return _json(
                _v2_answer(endpoint, scorer, out, data, wanted),
                headers={"x-request-id": request_id, **self._client_id(request)},
                background=self._shadow_task(endpoint, build, request_id, keys),
            )

        return proto.v2_errors(await self._handle(request, "predict", work))

    async def v2_model(self, request: Request) -> Response:
        async def work(request_id: str, started: float) -> Response:
            endpoint = self._endpoint(request.path_params["name"])
            scorer = endpoint.routes[0].scorer
            version = request.path_params.get("version")
            if version is not None:
                route = endpoint.route_for_version(version)
                if route is None:
                    served = [r.scorer.label for r in endpoint.routes]
                    raise ClientError(
                        404,
                        "NotFound",
                        f"model {endpoint.name!r} has no version {shown(version)} being served; served: {served}",
                    )
                scorer = route.scorer
            signature = scorer.signature
            inputs = []
            if signature is not None:
                dtypes = {"float64": "FP64", "float32": "FP32", "int64": "INT64", "int32": "INT32", "bool": "BOOL"}
                inputs = [{"name": c.name, "datatype": dtypes.get(c.dtype.value, "BYTES"), "shape": [-1]} for c in signature.inputs]
            outputs = [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
            if scorer.classes is not None:
                outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(scorer.classes)]})
            return _json(
                {
                    "name": endpoint.name,
                    "versions": [r.scorer.label for r in endpoint.routes],
                    "platform": f"modelyard-{scorer.model.flavor.name}",
                    "inputs": inputs,
                    "outputs": outputs,
                }
            )

        return proto.v2_errors(await self._handle(request, "read", work))

    async def v2_model_ready(self, request: Request) -> Response:
        """Whether a model (version) is served: with auth on, any valid token, since the answer
        names what this server serves."""

        async def work(request_id: str, started: float) -> Response:
            name = request.path_params["name"]
            # a probe's 404 is answered, not counted or logged as a failed request
            if name not in self.runtime.endpoints:
                return _error(404, "NotFound", f"model {shown(name)} is not served here", request_id)
            version = request.path_params.get("version")
            if version is not None and self.runtime.endpoints[name].route_for_version(version) is None:
                return _error(404, "NotFound", f"model {name!r} version {shown(version)} is not served here", request_id)
            return _json({"name": name, "ready": True})

        return proto.v2_errors(await self._handle(request, None, work))

    async def v2_server(self, request: Request) -> Response:
        return _json({"name": "modelyard", "version": __version__, "extensions": ["binary_tensor_data"]})

    # -- the rest ------------------------------------------------------------------------------

    async def feedback(self, request: Request) -> Response:
        async def work(request_id: str, started: float) -> Response:
            self._require(request, _JSON)
            parsed = parse_feedback(
                parse_json(await self._body(request)), self.runtime.endpoints, time.time()
            )
            if self.writer is None:
                raise ClientError(409, "Conflict", "the prediction log is off on this server; feedback has nowhere to go")
            accepted = sum(1 for f in parsed if self.writer.feedback(f))
            return _json({"accepted": accepted, "dropped": len(parsed) - accepted}, 202 if accepted else 503)

        return await self._handle(request, "feedback", work)

    async def metrics_endpoint(self, request: Request) -> Response:
        async def work(request_id: str, started: float) -> Response:
            if self.writer is not None:
                self.metrics.log_depth.set(self.writer.depth)
                for reason, count in self.writer.dropped_by.items():
                    if count > self._dropped_seen[reason]:
                        self.metrics.log_dropped.labels(reason).inc(
                            count - self._dropped_seen[reason]
                        )
                        self._dropped_seen[reason] = count
            self.tally.flush()  # this worker's counts are exact; others' at most 0.5 s old
            return Response(self.metrics.render(), media_type=self.metrics.content_type)

        return await self._handle(request, "metrics", work)

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI document; with auth on, for any valid token (it names the endpoints)."""

        async def work(request_id: str, started: float) -> Response:
            return _json(openapi_document(sorted(self.runtime.endpoints)))

        return await self._handle(request, None, work)

    async def endpoints(self, request: Request) -> Response:
        async def work(request_id: str, started: float) -> Response:
            return _json(
                {
                    "endpoints": [
                        {
                            "name": e.name,
                            "routes": [
                                {"name": r.label, "model": r.config.model, "version": r.scorer.label, "weight": r.config.weight}
                                for r in e.routes
                            ],
                            "shadow": [{"name": r.label, "model": r.config.model, "version": r.scorer.label} for r in e.shadows],
                            "sticky_key": e.config.sticky_key,
                        }
                        for e in self.runtime.endpoints.values()
                    ]
                }
            )

        return await self._handle(request, "read", work)

    async def live(self, request: Request) -> Response:
        return _json({"live": True})

    async def ready(self, request: Request) -> Response:
        return _json({"ready": bool(self.runtime.endpoints)})

    async def ping(self, request: Request) -> Response:
        return Response(b"\n", media_type="text/plain")

    async def not_found(self, request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/v2"):
            return proto.v2_errors(await self._not_found(request, exc))
        return await self._not_found(request, exc)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return _error(
                405,
                "MethodNotAllowed",
                f"{shown(request.method)} is not allowed on {shown(request.url.path)}",
                self._request_id(request),
            )
        return _error(
            404,
            "NotFound",
            f"no route {shown(request.url.path)}; see /openapi.json",
            self._request_id(request),
        )

    def app(self) -> Starlette:
        routes = [
            HttpRoute("/v1/endpoints", self.endpoints, methods=["GET"]),
            HttpRoute("/v1/endpoints/{name}/predict", self.predict, methods=["POST"]),
            HttpRoute("/v1/feedback", self.feedback, methods=["POST"]),
            HttpRoute("/invocations", self.invocations, methods=["POST"]),
            HttpRoute("/ping", self.ping, methods=["GET"]),
            HttpRoute("/health", self.ready, methods=["GET"]),
            HttpRoute("/v2", self.v2_server, methods=["GET"]),
            HttpRoute("/v2/health/live", self.live, methods=["GET"]),
            HttpRoute("/v2/health/ready", self.ready, methods=["GET"]),
            HttpRoute("/v2/models/{name}", self.v2_model, methods=["GET"]),
            HttpRoute("/v2/models/{name}/versions/{version}", self.v2_model, methods=["GET"]),
            HttpRoute("/v2/models/{name}/ready", self.v2_model_ready, methods=["GET"]),
            HttpRoute("/v2/models/{name}/versions/{version}/ready", self.v2_model_ready, methods=["GET"]),
            HttpRoute("/v2/models/{name}/infer", self.v2_infer, methods=["POST"]),
            HttpRoute("/v2/models/{name}/versions/{version}/infer", self.v2_infer, methods=["POST"]),
            HttpRoute("/metrics", self.metrics_endpoint, methods=["GET"]),
            HttpRoute("/openapi.json", self.openapi, methods=["GET"]),
        ]
        app = (Starlette if self.config.cors_origins else _ScoringApp)(
            routes=routes,
            exception_handlers={404: self.not_found, 405: self.not_found},
            lifespan=self.lifespan,
        )
        if self.config.cors_origins:
            from starlette.middleware.cors import CORSMiddleware

            app.add_middleware(
                CORSMiddleware,
                allow_origins=list(self.config.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
            )
        app.state.server = self
        return app


_BINARY_LENGTH = b"inference-header-content-length"


def _v2_wanted(data: dict[str, Any]) -> list[str] | None:
    """The outputs an infer request names (all of them when it names none)."""
    if "outputs" not in data:
        return None
    outputs = data["outputs"]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
        raise ValidationError("'outputs' must be a list of objects with a 'name'")
    return [o["name"] for o in outputs]


def _v2_answer(endpoint: Endpoint, scorer: Scorer, out: Output, data: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "model_name": endpoint.name,
        "model_version": scorer.label,
        "outputs": proto.v2_answer(out, wanted),
    }
    if "id" in data:
        answer["id"] = data["id"]
    return answer


class _ScoringApp(Starlette):
    """The scoring server's app: a ``POST /v1/endpoints/{name}/predict`` goes straight to
    ``ScoringServer.predict``, past Starlette's error middleware, exception middleware and
    router (which match it against every route: ~10% of a small request's CPU); the handler
    answers every error itself. Anything else, and every app with CORS middleware, takes the
    usual way."""

    @property
    def direct_responder(self) -> DirectResponder | None:
        """What ``http/_direct.py``'s protocol answers without this app (``modelyard serve``)."""
        server = getattr(self.state, "server", None)
        return None if server is None else DirectResponder(server)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            name = named(scope["path"], PREDICT_PREFIX, PREDICT_SUFFIX)
            if name:
                scope["app"] = self
                scope["path_params"] = {"name": name}
                response = await self.state.server.predict(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(target: str, *, tracking_uri: str | None = None, watch: bool = True) -> Starlette:
    """The scoring app for a model URI, a bundle folder or a deployment YAML file."""
    return ScoringServer(target, tracking_uri=tracking_uri, watch=watch).app()

