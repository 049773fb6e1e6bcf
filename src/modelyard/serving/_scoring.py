"""The scoring path of the scoring server: a checked batch scored by the route's model, on
the event loop, in the scoring thread pool or in a micro-batch, then counted and logged.

``ScoringServer`` (``_app.py``) takes the requests apart and answers them; what happens between
a request's rows and its answer lives here, shared by every protocol (native, MLflow, OIP v2).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.background import BackgroundTask

from modelyard.core.errors import SchemaError
from modelyard.data._predlog import LoggedRequest
from modelyard.data._predlog_lanes import LaneHeader
from modelyard.data._predlog_packed import layout
from modelyard.data._predlog_writer import PredictionLogWriter
from modelyard.serving._batcher import Batcher, QueueFull
from modelyard.serving._inputs import Batch
from modelyard.serving._metrics import Metrics
from modelyard.serving._runtime import Endpoint, Route
from modelyard.serving._scorer import Output, Scorer
from modelyard.serving._tally import Tally

log = logging.getLogger("modelyard.serving")
_T = TypeVar("_T")


def lane_header(endpoint: Endpoint, route: Route, scorer: Scorer, shadow: bool) -> LaneHeader:
    """What the prediction log's rows of a request scored by ``scorer`` share."""
    return LaneHeader(endpoint.name, route.label, scorer.name, scorer.label, shadow, scorer.spec.name_tuple)


class ClientError(Exception):
    """A 4xx answer with a JSON error naming the field."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.headers = headers or {}


class ScoringPath:
    """Scoring, counting and logging checked batches (mixed into ``ScoringServer``, which
    sets these attributes)."""

    metrics: Metrics
    tally: Tally
    writer: PredictionLogWriter | None
    offload_bytes: int
    _limiter: anyio.CapacityLimiter
    _batchers: dict[str, Batcher]

    # -- work off the event loop -----------------------------------------------------------

    async def _off(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn`` in the scoring thread pool (at most ``score_threads`` at once; the rest
        wait without holding the event loop), so health checks and small requests go on."""
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=self._limiter)

    @staticmethod
    async def _inline(fn: Callable[..., _T], *args: Any) -> _T:
        return fn(*args)

    def _offload(self, body: bytes) -> Callable[..., Awaitable[Any]]:
        """Where to decode and score a request: in the pool when its body is over
        ``offload_bytes`` (big batches), else on the loop (a thread hop would cost a small
        request more than its scoring)."""
        return self._off if len(body) > self.offload_bytes else self._inline

    def _lookup_via(self, endpoint: Endpoint, body: bytes) -> Callable[..., Awaitable[Any]]:
        """Where to look a request's features up: on the loop for a small request to an
        endpoint whose online store is in this process (a SQLite lookup takes tens of µs; the
        hop to the pool and back cost more), else in the pool (a Redis lookup waits on the
        network, a big one on the disk)."""
        return self._inline if endpoint.local_features and len(body) <= self.offload_bytes else self._off

    def _score(
        self,
        endpoint: Endpoint,
        route: Route,
        build: Callable[[Scorer], Batch],
        request_id: str,
        started: float,
        keys: list[Any] | None,
        *,
        want_proba: bool = True,
    ) -> tuple[Scorer, Batch, Output]:
        scorer = route.scorer  # read once: a swap during this request does not affect it
        batch = self._checked(endpoint, scorer, build)
        return self._score_checked(endpoint, route, scorer, batch, request_id, started, keys, want_proba)

    def _score_checked(
        self,
        endpoint: Endpoint,
        route: Route,
        scorer: Scorer,
        batch: Batch,
        request_id: str,
        started: float,
        keys: list[Any] | None,
        want_proba: bool = True,
    ) -> tuple[Scorer, Batch, Output]:
        try:
            out = scorer.score(batch, want_proba=want_proba)
        except Exception as error:
            raise self._model_failure(endpoint, route, scorer, request_id, error) from None
        self._scored(endpoint, route, scorer, batch, out, request_id, started, keys)
        return scorer, batch, out

    async def _score_via(
        self,
        off: Callable[..., Awaitable[Any]],
        endpoint: Endpoint,
        route: Route,
        build: Callable[[Scorer], Batch],
        request_id: str,
        started: float,
        keys: list[Any] | None,
    ) -> tuple[Scorer, Batch, Output]:
        """Score a request where ``off`` says, or, for a small request to an endpoint that
        batches, together with other requests (``_batcher.py``)."""
        batcher = self._batcher(endpoint) if off is self._inline else None
        if batcher is None:
            return await off(self._score, endpoint, route, build, request_id, started, keys)  # type: ignore[no-any-return]
        scorer = route.scorer  # read once: the batch is scored by the version it was checked against
        batch = self._checked(endpoint, scorer, build)
        if not batcher.joins(scorer, batch):
            return self._score_checked(endpoint, route, scorer, batch, request_id, started, keys)
        try:
            out = await batcher.score(scorer, batch)
        except QueueFull as error:
            raise ClientError(503, "Overloaded", str(error), {"retry-after": "1"}) from None
        except Exception as error:
            raise self._model_failure(endpoint, route, scorer, request_id, error) from None
        self._scored(endpoint, route, scorer, batch, out, request_id, started, keys)
        return scorer, batch, out

    def _batcher(self, endpoint: Endpoint) -> Batcher | None:
        """The endpoint's batching queue in this worker; a new one when a reloaded deployment
        changed its settings (the old one still answers what it holds)."""
        config = endpoint.config.batching
        if config is None:
            return None
        batcher = self._batchers.get(endpoint.name)
        if batcher is None or batcher.config != config:
            histogram = self.metrics.batch_rows.labels(endpoint.name)
            batcher = self._batchers[endpoint.name] = Batcher(config, self._off, histogram.observe)
        return batcher

    @staticmethod
    def _checked(endpoint: Endpoint, scorer: Scorer, build: Callable[[Scorer], Batch]) -> Batch:
        """The request's rows read against ``scorer``'s signature, within the row limit."""
        batch = build(scorer)
        if batch.rows > endpoint.config.max_rows:
            raise ClientError(
                413, "TooManyRows", f"the request holds {batch.rows} rows; this endpoint takes at most {endpoint.config.max_rows}"
            )
        return batch

    def _model_failure(self, endpoint: Endpoint, route: Route, scorer: Scorer, request_id: str, error: Exception) -> Exception:
        """What to raise when scoring raised ``error``: the model refusing the input
        (``ModelRejectedInput``) stays a 422; anything else is a model failure, counted and
        logged, answered 500 without details."""
        if isinstance(error, SchemaError):
            return error
        self.metrics.errors.labels(endpoint.name, route.label).inc()
        self.metrics.requests.labels(endpoint.name, route.label, scorer.label, "500").inc()
        log.error(
            "request %s: model %s version %s raised", request_id, scorer.name, scorer.label, exc_info=error
        )
        return ClientError(
            500, "ModelError", f"the model raised {type(error).__name__} while scoring; request {request_id} is in the server log"
        )

    def _scored(
        self,
        endpoint: Endpoint,
        route: Route,
        scorer: Scorer,
        batch: Batch,
        out: Output,
        request_id: str,
        started: float,
        keys: list[Any] | None,
    ) -> None:
        """Count and log one answered request."""
        elapsed = time.perf_counter() - started
        self.tally.add((endpoint.name, route.label, scorer.label), elapsed, batch.rows)
        self._log(endpoint, route, scorer, batch, out, request_id, started, elapsed, keys, shadow=False)

    def _log(
        self,
        endpoint: Endpoint,
        route: Route,
        scorer: Scorer,
        batch: Batch,
        out: Output,
        request_id: str,
        started: float,
        elapsed: float,
        keys: list[Any] | None,
        *,
        shadow: bool,
    ) -> None:
        """Queue one answered request for the prediction log; ``started`` and ``elapsed`` on
        ``time.perf_counter``'s clock."""
        writer = self.writer
        if writer is None:
            return
        matrix = batch.matrix
        if matrix is not None:
            queue = writer.packed  # online serving's usual request: its row's bytes and its answer, packed
            if batch.rows == 1 and len(queue) < queue.capacity:
                predictions, scores = out.predictions, out.scores
                made = route.log_header
                if made is None or made.scorer is not scorer:  # once per route and model version
                    header = lane_header(endpoint, route, scorer, shadow)
                    made = route.log_header = layout(scorer, header, matrix, predictions, scores)
                try:
                    if (
                        made.header is not None
                        and matrix.dtype is made.matrix
                        and matrix.nbytes == made.row_bytes
                        and predictions.dtype is made.prediction
                        and (None if scores is None else scores.dtype) is made.score
                    ):
                        # what ``_predlog_packed.tables`` reads; ``item`` raises unless one prediction and score
                        score = None if scores is None else scores.item()
                        queue.append((made.header, request_id, started, elapsed, matrix.tobytes(), predictions.item(), score, keys))
                        return
                except (AttributeError, ValueError):  # not arrays, or not one value a row: the lane or the general way
                    pass
            key = (endpoint.name, route.label, scorer, shadow)  # into its lane, as columns (a scorer is hashed by identity)
            lane = writer.lanes.get(key)
            if lane is None:
                lane = writer.lane(key, lane_header(endpoint, route, scorer, shadow))
            if lane.add(request_id, time.time(), elapsed * 1000.0, batch.rows, matrix, out.predictions, out.scores, keys):
                return
        # positional, in LoggedRequest's field order: keywords cost 0.8 µs a request here
        item = LoggedRequest(
            request_id,
            time.time(),
            endpoint.name,
            route.label,
            scorer.name,
            scorer.label,
            shadow,
            200,  # status
            elapsed * 1000.0,  # latency_ms
            batch.rows,
            {} if matrix is not None else batch.columns,  # inputs
            out.predictions,
            out.scores,
            keys,  # entity_keys
            matrix,
            scorer.spec.name_tuple if matrix is not None else (),  # matrix_names
        )
        writer.log(item)  # a full queue is counted by the writer and reported at /metrics

    def _shadow_task(
        self, endpoint: Endpoint, build: Callable[[Scorer], Batch], request_id: str, keys: list[Any] | None
    ) -> BackgroundTask | None:
        if not endpoint.shadows:
            return None

        def run() -> None:
            for route in endpoint.shadows:
                started = time.perf_counter()
                scorer = route.scorer
                try:
                    batch = build(scorer)
                    out = scorer.score(batch)
                except Exception as error:
                    self.metrics.errors.labels(endpoint.name, route.label).inc()
                    log.warning("shadow %s/%s failed on request %s: %s", endpoint.name, route.label, request_id, error)
                    continue
                self.metrics.requests.labels(endpoint.name, route.label, scorer.label, "shadow").inc()
                self._log(endpoint, route, scorer, batch, out, request_id, started, time.perf_counter() - started, keys, shadow=True)

        return BackgroundTask(run)
