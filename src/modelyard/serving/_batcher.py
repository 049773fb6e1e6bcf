"""Adaptive micro-batching: concurrent small requests to one endpoint scored by one model call.

Why: a tree ensemble costs about as much for one row as for thirty (scikit-learn's input
checks and per-call setup dominate), so under concurrency most of a worker's time goes to
repeating that overhead. Scoring the rows of many requests in one call pays it once.

How: a request already checked against the signature of the scorer it was routed to (so a bad
request never joins) waits in the endpoint's queue with its rows. The queue is cut

- at once when no batch of this endpoint is being scored: a lone request waits for nothing,
  and under load batches grow by themselves to what arrived while the last one ran;
- when the waiting rows reach ``max_batch``;
- ``max_wait_ms`` after the first waiting request, even while another batch is scored.

A cut is scored in the thread pool (the event loop keeps accepting), as one model call per
scorer — after a hot swap, requests checked against the old version and the new one may
share a cut, and each is scored by the version it was checked against. Every request gets
exactly its own rows back. If the joint call raises, each request is scored alone, so only
the bad one errs. Beyond ``max_queue`` requests waiting or being scored, ``score`` raises
``QueueFull`` (the server answers 503 with Retry-After).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.serving._config import BatchingConfig
from modelyard.serving._inputs import Batch
from modelyard.serving._scorer import Output, Scorer

Runner = Callable[..., Awaitable[Any]]  # runs a function in the server's scoring thread pool
Result = Output | Exception


class QueueFull(Exception):
    """The endpoint's batching queue holds ``max_queue`` requests: the server is overloaded."""


@dataclass(slots=True)
class _Waiting:
    scorer: Scorer
    batch: Batch
    want_proba: bool
    future: asyncio.Future[Output]


class Batcher:
    """The batching queue of one endpoint in one worker (used from its event loop only)."""

    def __init__(self, config: BatchingConfig, run: Runner, observe: Callable[[int], None]) -> None:
        self.config = config
        self._run = run
        self._observe = observe  # rows of each model call, for the batch-size histogram
        self._waiting: deque[_Waiting] = deque()
        self._rows = 0  # rows waiting
        self._busy = 0  # cuts being scored
        self._queued = 0  # requests waiting or being scored
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def joins(self, scorer: Scorer, batch: Batch) -> bool:
        """Whether a request is batched: a model that scores rows independently, numeric
        input, and fewer rows than a batch holds (a bigger request gains nothing)."""
        return (
            scorer.batchable
            and batch.matrix is not None
            and (batch.rows < self.config.max_batch or batch.rows == 1)
        )

    @property
    def queued(self) -> int:
        return self._queued

    async def score(self, scorer: Scorer, batch: Batch, *, want_proba: bool = True) -> Output:
        """The output for ``batch`` alone, scored together with whatever else is waiting."""
        if self._queued >= self.config.max_queue:
            raise QueueFull(
                f"this endpoint has {self._queued} requests waiting to be scored (batching.max_queue); retry shortly"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Output] = loop.create_future()
        self._waiting.append(_Waiting(scorer, batch, want_proba, future))
        self._rows += batch.rows
        self._queued += 1
        try:
            if self._busy == 0 or self._rows >= self.config.max_batch:
                self._cut()
            elif self._timer is None:
                self._timer = loop.call_later(self.config.max_wait_ms / 1000.0, self._cut)
            return await future
        finally:
            self._queued -= 1

    def _cut(self) -> None:
        """Send everything waiting to be scored, in cuts of at most ``max_batch`` rows (a
        request is never split)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        limit = self.config.max_batch
        while self._waiting:
            items = [self._waiting.popleft()]
            rows = items[0].batch.rows
            while self._waiting and rows + self._waiting[0].batch.rows <= limit:
                item = self._waiting.popleft()
                items.append(item)
                rows += item.batch.rows
            self._rows -= rows
            self._busy += 1
            task = asyncio.get_running_loop().create_task(self._score_cut(items))
            self._tasks.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._tasks.discard)

    async def _score_cut(self, items: list[_Waiting]) -> None:
        try:
            results, sizes = await self._run(score_items, items)
        except Exception as error:  # the pool itself failed: every waiting request hears it
            results, sizes = [error] * len(items), []
        except BaseException:  # shutting down
            for item in items:
                item.future.cancel()
            raise
        finally:
            self._busy -= 1
        for size in sizes:
            self._observe(size)
        for item, result in zip(items, results, strict=True):
            if item.future.done():  # its client went away
                continue
            if isinstance(result, Exception):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)
        if self._busy == 0 and self._waiting:
            self._cut()


def score_items(items: list[_Waiting]) -> tuple[list[Result], list[int]]:
    """Outputs (or the errors) of ``items`` in order, one model call per scorer and
    ``want_proba``; also the rows of each call made. Runs in a worker thread."""
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault((id(item.scorer), item.want_proba), []).append(i)
    results: list[Result | None] = [None] * len(items)
    sizes: list[int] = []
    for indices in groups.values():
        group = [items[i] for i in indices]
        for i, result in zip(indices, _score_group(group, sizes), strict=True):
            results[i] = result
    return [r for r in results if r is not None], sizes


def _score_group(group: list[_Waiting], sizes: list[int]) -> list[Result]:
    scorer, want_proba = group[0].scorer, group[0].want_proba
    batches = [item.batch for item in group]
    counts = [b.rows for b in batches]
    if len(group) > 1:
        total = sum(counts)
        try:
            out = scorer.score(_joined(scorer, batches, total), want_proba=want_proba)
        except Exception:  # some request the model refuses: scored alone below
            out = None
        sizes.append(total)
        if out is not None and len(out.predictions) == total:
            return _split(out, counts)
    results: list[Result] = []
    for batch in batches:
        sizes.append(batch.rows)
        try:
            results.append(scorer.score(batch, want_proba=want_proba))
        except Exception as error:
            results.append(error)
    return results


def _joined(scorer: Scorer, batches: list[Batch], rows: int) -> Batch:
    matrices = [b.matrix for b in batches if b.matrix is not None]
    return Batch(None, rows, np.vstack(matrices), scorer.spec.names)


def _split(out: Output, counts: list[int]) -> list[Result]:
    parts: list[Result] = []
    start = 0
    proba = out.probabilities
    for count in counts:
        end = start + count
        parts.append(
            Output(
                out.predictions[start:end], None if proba is None else proba[start:end], out.classes
            )
        )
        start = end
    return parts
