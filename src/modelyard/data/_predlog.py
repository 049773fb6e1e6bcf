"""The prediction log: every scored request, and later ground truth, as Parquet.

Layout under the log root (default ``<home>/predictions``)::

    requests/endpoint=<name>/date=<YYYY-MM-DD>/part-<time>-<pid>-<n>.parquet
    feedback/date=<YYYY-MM-DD>/part-<time>-<pid>-<n>.parquet

One row per scored record: ``request_id``, ``row``, ``timestamp`` (UTC), ``endpoint``,
``route``, ``model``, ``version``, ``shadow``, ``status``, ``latency_ms``, ``entity_key``,
``prediction`` (numbers) / ``prediction_label`` (text), ``score`` (positive-class
probability) and the inputs as ``input_<column>``. Files are written whole (temporary name,
then rename), so a reader never sees half a file.

Writes happen on a background thread in batches; the queue in front of it is bounded and
requests that find it full are counted as dropped, never silently lost.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.core.settings import home_dir

INPUT_PREFIX = "input_"
_seq = itertools.count()


def default_log_root() -> Path:
    return home_dir() / "predictions"


@dataclass(slots=True)
class LoggedRequest:
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


def _part_name() -> str:
    return f"part-{int(time.time() * 1000)}-{os.getpid()}-{next(_seq)}.parquet"


def _write_atomic(table: pa.Table, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / _part_name()
    temp = folder / f".{final.name}.tmp"
    pq.write_table(table, temp)  # snappy: the cheapest on the CPU the server shares
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
        stacked = np.vstack([r.matrix for r in items])  # type: ignore[misc]
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


def requests_table(items: list[LoggedRequest]) -> pa.Table:
    """The rows of some logged requests as one Arrow table."""
    counts = np.fromiter((r.rows for r in items), dtype=np.int64, count=len(items))
    total = int(counts.sum())

    def repeat(values: list[Any], dtype: Any = None) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype=dtype), counts)

    if total and int(counts.max()) == 1:
        row = np.zeros(total, np.int64)
    else:
        row = np.concatenate([np.arange(n, dtype=np.int64) for n in counts.tolist()]) if total else np.zeros(0, np.int64)
    columns: dict[str, Any] = {
        "request_id": pa.array(repeat([r.request_id for r in items], object), pa.string()),
        "row": pa.array(row),
        "timestamp": pa.array(
            (repeat([r.timestamp for r in items], np.float64) * 1e6).astype("int64"),
            pa.timestamp("us", tz="UTC"),
        ),
        "endpoint": pa.array(repeat([r.endpoint for r in items], object), pa.string()),
        "route": pa.array(repeat([r.route for r in items], object), pa.string()),
        "model": pa.array(repeat([r.model for r in items], object), pa.string()),
        "version": pa.array(repeat([r.version for r in items], object), pa.string()),
        "shadow": pa.array(repeat([r.shadow for r in items], bool)),
        "status": pa.array(repeat([r.status for r in items], np.int16)),
        "latency_ms": pa.array(repeat([r.latency_ms for r in items], np.float64)),
    }
    if any(r.entity_keys is not None for r in items):
        keys: list[Any] = []
        for r in items:
            keys.extend(r.entity_keys if r.entity_keys is not None else [None] * r.rows)
        columns["entity_key"] = pa.array([None if k is None else str(k) for k in keys], pa.string())
    else:
        columns["entity_key"] = pa.nulls(total, pa.string())
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
    scores = [r.scores if r.scores is not None and len(r.scores) == r.rows else np.full(r.rows, np.nan) for r in items]
    columns["score"] = pa.array(np.concatenate(scores).astype(np.float64) if scores else np.zeros(0), from_pandas=True)
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
    """Appends requests and feedback to the log from a background thread, in batches."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        queue_size: int = 100_000,
        flush_seconds: float = 1.0,
        max_batch: int = 50_000,
    ) -> None:
        self.root = Path(root) if root is not None else default_log_root()
        self.queue_size = queue_size
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self.dropped = 0
        self.written_rows = 0
        self.failed_writes = 0
        self._requests: deque[LoggedRequest] = deque()
        self._feedback: deque[Feedback] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the response path: O(1), never blocks ------------------------------------------

    def log(self, item: LoggedRequest) -> bool:
        """Queue a request; False (and counted as dropped) when the queue is full."""
        if len(self._requests) >= self.queue_size:
            self.dropped += 1
            return False
        self._requests.append(item)
        return True

    def feedback(self, item: Feedback) -> bool:
        if len(self._feedback) >= self.queue_size:
            self.dropped += 1
            return False
        self._feedback.append(item)
        return True

    @property
    def depth(self) -> int:
        return len(self._requests) + len(self._feedback)

    # -- the background side -------------------------------------------------------------

    def start(self) -> PredictionLogWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="modelyard-prediction-log", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Write everything queued so far; returns the number of rows written."""
        with self._lock:
            written = 0
            while self._requests:
                batch = [self._requests.popleft() for _ in range(min(self.max_batch, len(self._requests)))]
                written += self._write_requests(batch)
            while self._feedback:
                items = [self._feedback.popleft() for _ in range(min(self.max_batch, len(self._feedback)))]
                groups: dict[str, list[Feedback]] = {}
                for item in items:
                    groups.setdefault(_date(item.timestamp), []).append(item)
                for date, group in groups.items():
                    self._safe_write(feedback_table(group), self.root / "feedback" / f"date={date}")
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
            table = requests_table(items)
            self._safe_write(table, self.root / "requests" / f"endpoint={endpoint}" / f"date={date}")
            rows += table.num_rows
        return rows

    def _safe_write(self, table: pa.Table, folder: Path) -> None:
        try:
            _write_atomic(table, folder)
        except OSError:
            self.failed_writes += 1
            self.dropped += table.num_rows

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        else:
            self.flush()


def write_requests(root: str | os.PathLike[str], items: list[LoggedRequest]) -> Path:
    """Write one partition file directly (batch scoring)."""
    first = items[0]
    folder = Path(root) / "requests" / f"endpoint={first.endpoint}" / f"date={_date(first.timestamp)}"
    return _write_atomic(requests_table(items), folder)
