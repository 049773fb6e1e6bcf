"""The prediction log: every scored request, and later ground truth, as Parquet.

Layout under the log root (default ``<home>/predictions``)::

    requests/endpoint=<name>/date=<YYYY-MM-DD>/part-<time>-<pid>-<n>.parquet
    feedback/date=<YYYY-MM-DD>/part-<time>-<pid>-<n>.parquet

One row per scored record: ``request_id``, ``row``, ``timestamp`` (UTC), ``endpoint``,
``route``, ``model``, ``version``, ``shadow``, ``status``, ``latency_ms``, ``entity_key``,
``prediction`` (numbers) / ``prediction_label`` (text), ``score`` (positive-class
probability) and the inputs as ``input_<column>``. Files are written whole (temporary name,
then rename), so a reader never sees half a file.

Writes happen on a background thread in batches, every ``flush_seconds``; the queue in front
of it is bounded in count and in bytes, and requests that find it full are counted as dropped,
never silently lost. A batch that cannot be written (a full disk, a value Arrow refuses) is
counted as dropped by reason and logged once per reason; the thread carries on. Closing the
writer flushes what is queued. An unclean kill (``kill -9``) loses what was queued since the
last flush: at most one flush interval. Temporary files such a kill leaves behind are removed
when a writer starts.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.core.settings import home_dir

INPUT_PREFIX = "input_"
_seq = itertools.count()
log = logging.getLogger("modelyard.predictions")

# why an item was not logged: the labels of modelyard_prediction_log_dropped_total
QUEUE_FULL = "queue_full"
QUEUE_BYTES = "queue_bytes"
WRITE_FAILED = "write_failed"  # OSError: disk full, permissions
BAD_BATCH = "bad_batch"  # anything else: a value Arrow refuses, a bug
REASONS = (QUEUE_FULL, QUEUE_BYTES, WRITE_FAILED, BAD_BATCH)
_STALE_SECONDS = 3600.0  # no write takes an hour: an older temporary file is a leftover


def default_log_root() -> Path:
    return home_dir() / "predictions"


@dataclass(slots=True)
class LoggedRequest:
    # serving/_scoring.py builds this positionally (the hot path): keep the fields in order
    request_id: str
    timestamp: float
    endpoint: str
    route: str
    model: str
    version: str
    shadow: bool
    status: int
    latency_ms: float
    rows: int
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    predictions: np.ndarray | None = None
    scores: np.ndarray | None = None
    entity_keys: list[Any] | None = None
    # all-numeric inputs as one [rows, columns] array (cheaper to keep and to stack)
    matrix: np.ndarray | None = None
    matrix_names: tuple[str, ...] = ()

    def columns(self) -> dict[str, np.ndarray]:
        if self.matrix is not None and not self.inputs:
            return {n: self.matrix[:, j] for j, n in enumerate(self.matrix_names)}
        return self.inputs


@dataclass(slots=True)
class Feedback:
    timestamp: float
    label: Any
    request_id: str | None = None
    row: int | None = None
    entity_key: str | None = None
    endpoint: str | None = None


def _array_bytes(values: Any) -> int:
    if values is None:
        return 0
    if type(values) is not np.ndarray:
        return 64 * len(values)
    # object arrays hold pointers; count a modest string behind each
    return values.nbytes + 56 * values.size if values.dtype.hasobject else values.nbytes


def request_bytes(item: LoggedRequest) -> int:
    """About how much memory a queued request holds (its arrays, and a fixed overhead). On
    the response path: a few attribute reads for the usual request."""
    size = 256 + _array_bytes(item.matrix) + _array_bytes(item.predictions) + _array_bytes(item.scores)
    if item.inputs:
        for values in item.inputs.values():
            size += _array_bytes(values)
    if item.entity_keys is not None:
        size += 64 * len(item.entity_keys)
    return size


def feedback_bytes(item: Feedback) -> int:
    return (
        256 + (len(item.label) if isinstance(item.label, str) else 0) + len(item.entity_key or "")
    )


def clean_stale_temps(root: Path) -> int:
    """Remove ``.part-*.tmp`` files a killed writer left under ``root``: those of this process,
    of a process that no longer runs, or older than an hour. Returns how many went."""
    removed = 0
    if not root.is_dir():
        return 0
    now = time.time()
    for temp in root.rglob(".part-*.tmp"):
        parts = temp.name.split("-")
        pid = int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else None
        try:
            stale = (
                pid is None
                or pid == os.getpid()
                or not _alive(pid)
                or now - temp.stat().st_mtime > _STALE_SECONDS
            )
            if stale:
                temp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _part_name() -> str:
    return f"part-{int(time.time() * 1000)}-{os.getpid()}-{next(_seq)}.parquet"


_UNIQUE = frozenset({"request_id", "entity_key"})  # (nearly) one value per request


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding: all but floating-point ones and the ids. Measured
    floats (inputs, latencies, scores) and request ids rarely repeat, so Parquet's attempt at a
    dictionary is wasted: skipping it writes a single-row request's 45 columns in 0.7 µs a row
    instead of 2.0, and the file comes out smaller."""
    return [f.name for f in schema if not pa.types.is_floating(f.type) and f.name not in _UNIQUE]


def _write_atomic(table: pa.Table, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / _part_name()
    temp = folder / f".{final.name}.tmp"
    # snappy: the cheapest on the CPU the server shares
    pq.write_table(table, temp, use_dictionary=_dictionary_columns(table.schema))
    os.replace(temp, final)
    return final


def _date(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d")


def _flat(values: np.ndarray | None, rows: int) -> np.ndarray:
    if values is None or len(values) != rows:
        return np.full(rows, np.nan)
    return values if values.ndim == 1 else values[:, 0]


def _inputs(items: list[LoggedRequest]) -> dict[str, pa.Array]:
    """The input columns of some requests. Requests that came as one numeric matrix with
    the same columns (the common case) are stacked in one call."""
    first = items[0]
    if first.matrix is not None and all(
        r.matrix is not None and r.matrix_names == first.matrix_names for r in items
    ):
        stacked = np.concatenate([r.matrix for r in items])  # each is [rows, columns]
        return {INPUT_PREFIX + name: pa.array(stacked[:, j]) for j, name in enumerate(first.matrix_names)}
    names: list[str] = []
    for r in items:
        for name in r.columns():
            if name not in names:
                names.append(name)
    out: dict[str, pa.Array] = {}
    for name in names:
        parts = []
        for r in items:
            values = r.columns().get(name)
            parts.append(np.asarray(values) if values is not None else np.full(r.rows, None, dtype=object))
        if {p.dtype.kind for p in parts} <= {"f", "i", "u", "b"}:
            out[INPUT_PREFIX + name] = pa.array(np.concatenate(parts), from_pandas=True)
        else:
            merged = np.concatenate([p.astype(object) for p in parts])
            out[INPUT_PREFIX + name] = pa.array(
                [None if v is None else (v if isinstance(v, str) else str(v)) for v in merged.tolist()],
                pa.string(),
            )
    return out


def _joined(values: list[Any], counts: np.ndarray) -> np.ndarray | None:
    """The requests' 1-D numeric arrays end to end when each holds exactly its request's rows
    (what a model returns: the usual case, joined in one call); None for anything else."""
    try:
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        merged = np.concatenate(values)
    except (TypeError, ValueError):  # a None, a scalar, arrays of different dimensions
        return None
    if merged.ndim != 1 or merged.dtype.kind not in "fiub" or not np.array_equal(lengths, counts):
        return None
    return merged.astype(np.float64, copy=False)


def requests_table(items: list[LoggedRequest]) -> pa.Table:
    """The rows of some logged requests as one Arrow table."""
    n = len(items)
    counts = np.fromiter((r.rows for r in items), dtype=np.int64, count=n)
    total = int(counts.sum())
    single = n > 0 and int(counts.min()) == 1 == int(counts.max())  # online serving's usual batch

    def strings(values: list[Any]) -> pa.Array:
        return pa.array(values if single else np.repeat(np.asarray(values, dtype=object), counts), pa.string())

    def numbers(values: list[Any], dtype: Any) -> np.ndarray:
        array = np.asarray(values, dtype=dtype)
        return array if single else np.repeat(array, counts)

    if single:
        row = np.zeros(total, np.int64)
    else:
        row = np.concatenate([np.arange(c, dtype=np.int64) for c in counts.tolist()]) if total else np.zeros(0, np.int64)
    columns: dict[str, Any] = {
        "request_id": strings([r.request_id for r in items]),
        "row": pa.array(row),
        "timestamp": pa.array(
            (numbers([r.timestamp for r in items], np.float64) * 1e6).astype("int64"),
            pa.timestamp("us", tz="UTC"),
        ),
        "endpoint": strings([r.endpoint for r in items]),
        "route": strings([r.route for r in items]),
        "model": strings([r.model for r in items]),
        "version": strings([r.version for r in items]),
        "shadow": pa.array(numbers([r.shadow for r in items], bool)),
        "status": pa.array(numbers([r.status for r in items], np.int16)),
        "latency_ms": pa.array(numbers([r.latency_ms for r in items], np.float64)),
    }
    if any(r.entity_keys is not None for r in items):
        keys: list[Any] = []
        for r in items:
            keys.extend(r.entity_keys if r.entity_keys is not None else [None] * r.rows)
        columns["entity_key"] = pa.array([None if k is None else str(k) for k in keys], pa.string())
    else:
        columns["entity_key"] = pa.nulls(total, pa.string())
    joined = _joined([r.predictions for r in items], counts)
    if joined is not None:
        columns["prediction"] = pa.array(joined, from_pandas=True)
        columns["prediction_label"] = pa.nulls(total, pa.string())
    else:
        predictions = [_flat(r.predictions, r.rows) for r in items]
        if all(p.dtype.kind in "fiub" for p in predictions):
            merged = np.concatenate(predictions).astype(np.float64) if predictions else np.zeros(0)
            columns["prediction"] = pa.array(merged, from_pandas=True)
            columns["prediction_label"] = pa.nulls(total, pa.string())
        else:
            merged = np.concatenate([p.astype(object) for p in predictions])
            numeric = [float(v) if isinstance(v, int | float) else None for v in merged.tolist()]
            columns["prediction"] = pa.array(numeric, pa.float64())
            columns["prediction_label"] = pa.array([None if v is None else str(v) for v in merged.tolist()], pa.string())
    joined = _joined([r.scores for r in items], counts)
    if joined is None:
        scores = [r.scores if r.scores is not None and len(r.scores) == r.rows else np.full(r.rows, np.nan) for r in items]
        joined = np.concatenate(scores).astype(np.float64) if scores else np.zeros(0)
    columns["score"] = pa.array(joined, from_pandas=True)
    columns.update(_inputs(items))
    return pa.table(columns)


def feedback_table(items: list[Feedback]) -> pa.Table:
    labels = [f.label for f in items]
    numeric = [float(v) if isinstance(v, int | float) else None for v in labels]  # booleans too
    return pa.table(
        {
            "timestamp": pa.array(
                (np.asarray([f.timestamp for f in items]) * 1e6).astype("int64"),
                pa.timestamp("us", tz="UTC"),
            ),
            "request_id": pa.array([f.request_id for f in items], pa.string()),
            "row": pa.array([f.row for f in items], pa.int32()),
            "entity_key": pa.array([f.entity_key for f in items], pa.string()),
            "endpoint": pa.array([f.endpoint for f in items], pa.string()),
            "label": pa.array(numeric, pa.float64()),
            "label_text": pa.array([None if v is None else str(v) for v in labels], pa.string()),
        }
    )


class PredictionLogWriter:
    """Appends requests and feedback to the log from a background thread, in batches.

    The queue is bounded by ``queue_size`` items and ``queue_bytes`` bytes (an estimate of the
    arrays a request holds); an item that does not fit is dropped and counted. A batch that
    fails to write is dropped, counted under its reason in ``dropped_by`` and logged once per
    reason; the thread never dies of it."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        queue_size: int = 100_000,
        queue_bytes: int = 256 << 20,
        flush_seconds: float = 1.0,
        max_batch: int = 50_000,
    ) -> None:
        self.root = Path(root) if root is not None else default_log_root()
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self.dropped_by: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.written_rows = 0
        self.failed_writes = 0
        self._requests: deque[tuple[LoggedRequest, int]] = deque()
        self._feedback: deque[tuple[Feedback, int]] = deque()
        self._bytes = 0
        self._count = (
            threading.Lock()
        )  # held for a few instructions: the byte total and drop counts
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._reported: set[str] = set()

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by.values())

    # -- the response path: O(1), never blocks for long -----------------------------------

    def _admit(self, queue: deque[Any], size: int) -> bool:
        with self._count:
            if len(queue) >= self.queue_size:
                self.dropped_by[QUEUE_FULL] += 1
                return False
            if self._bytes + size > self.queue_bytes:
                self.dropped_by[QUEUE_BYTES] += 1
                return False
            self._bytes += size
            return True

    def log(self, item: LoggedRequest) -> bool:
        """Queue a request; False (and counted as dropped) when the queue is full."""
        size = request_bytes(item)
        if not self._admit(self._requests, size):
            return False
        self._requests.append((item, size))
        return True

    def feedback(self, item: Feedback) -> bool:
        size = feedback_bytes(item)
        if not self._admit(self._feedback, size):
            return False
        self._feedback.append((item, size))
        return True

    @property
    def depth(self) -> int:
        return len(self._requests) + len(self._feedback)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    # -- the background side -------------------------------------------------------------

    def start(self) -> PredictionLogWriter:
        if self._thread is None:
            try:
                clean_stale_temps(self.root)
            except OSError as error:  # an unreadable folder: the writes will say more
                log.warning(
                    "prediction log: could not clean temporary files under %s: %s", self.root, error
                )
            self._thread = threading.Thread(
                target=self._loop, name="modelyard-prediction-log", daemon=True
            )
            self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self._flush_safely()
        self._flush_safely()

    def _flush_safely(self) -> None:
        try:
            self.flush()
        except Exception as error:  # flush drops failed batches itself; this is a last guard
            self._report(BAD_BATCH, error)

    def _take(self, queue: deque[tuple[Any, int]]) -> list[Any]:
        count = min(self.max_batch, len(queue))
        taken = [queue.popleft() for _ in range(count)]
        with self._count:
            self._bytes -= sum(size for _, size in taken)
        return [item for item, _ in taken]

    def flush(self) -> int:
        """Write everything queued so far; returns the number of rows written."""
        with self._lock:
            written = 0
            while self._requests:
                written += self._write_requests(self._take(self._requests))
            while self._feedback:
                items: list[Feedback] = self._take(self._feedback)
                groups: dict[str, list[Feedback]] = {}
                for item in items:
                    groups.setdefault(_date(item.timestamp), []).append(item)
                for date, group in groups.items():
                    if self._safe_write(
                        partial(feedback_table, group),
                        self.root / "feedback" / f"date={date}",
                        len(group),
                    ):
                        written += len(group)
            self.written_rows += written
            return written

    def _write_requests(self, batch: list[LoggedRequest]) -> int:
        groups: dict[tuple[str, str, tuple[str, ...]], list[LoggedRequest]] = {}
        dates: dict[int, str] = {}
        for item in batch:
            second = int(item.timestamp)
            date = dates.get(second)
            if date is None:
                date = dates[second] = _date(item.timestamp)
            key = (item.endpoint, date, item.matrix_names or tuple(item.inputs))
            groups.setdefault(key, []).append(item)
        rows = 0
        for (endpoint, date, _), items in groups.items():
            folder = self.root / "requests" / f"endpoint={endpoint}" / f"date={date}"
            if self._safe_write(partial(requests_table, items), folder, len(items)):
                rows += sum(r.rows for r in items)
        return rows

    def _safe_write(self, make: Callable[[], pa.Table], folder: Path, count: int) -> bool:
        """Build and write one table; on any failure the ``count`` items are dropped, counted
        and the reason logged (once per reason), and the caller goes on with the next batch."""
        try:
            _write_atomic(make(), folder)
        except OSError as error:
            self.failed_writes += 1
            self._drop(WRITE_FAILED, count, error)
            return False
        except Exception as error:
            self.failed_writes += 1
            self._drop(BAD_BATCH, count, error)
            return False
        return True

    def _drop(self, reason: str, count: int, error: BaseException) -> None:
        with self._count:
            self.dropped_by[reason] += count
        self._report(reason, error)

    def _report(self, reason: str, error: BaseException) -> None:
        kind = f"{reason}:{type(error).__name__}"
        if kind in self._reported:
            return
        self._reported.add(kind)
        log.error(
            "prediction log: a batch was dropped (%s, %s); counted in modelyard_prediction_log_dropped_total, "
            "reported once per kind",
            reason,
            type(error).__name__,
            exc_info=error,
        )

    def close(self) -> None:
        """Stop the thread and write what is still queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._flush_safely()


def write_requests(root: str | os.PathLike[str], items: list[LoggedRequest]) -> Path:
    """Write one partition file directly (batch scoring)."""
    first = items[0]
    folder = Path(root) / "requests" / f"endpoint={first.endpoint}" / f"date={_date(first.timestamp)}"
    return _write_atomic(requests_table(items), folder)
