"""The prediction log: every scored request, and later ground truth, as Parquet.

Layout under the log root (default ``<home>/predictions``)::

    requests/endpoint=<name>/date=<YYYY-MM-DD>/part-<time>-<pid>-<n>.parquet
    feedback/date=<YYYY-MM-DD>/part-<time>-<pid>-<n>.parquet

One row per scored record: ``request_id``, ``row``, ``timestamp`` (UTC), ``endpoint``,
``route``, ``model``, ``version``, ``shadow``, ``status``, ``latency_ms``, ``entity_key``,
``prediction`` (numbers) / ``prediction_label`` (text), ``score`` (positive-class
probability) and the inputs as ``input_<column>``. Files are written whole (temporary name,
then rename), so a reader never sees half a file.

This module holds the records, their tables and the files; ``_predlog_writer.py`` queues
and writes them off the response path, ``_predlog_lanes.py`` keeps online serving's requests as
columns on the way.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.core.settings import home_dir

INPUT_PREFIX = "input_"
_seq = itertools.count()

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


_UNIQUE = frozenset({"request_id", "entity_key", "timestamp"})  # (nearly) one value per request


def _write_options(schema: pa.Schema) -> dict[str, Any]:
    """How each column is written: floating-point columns (inputs, latencies, scores) without
    a dictionary or compression; the request ids without a dictionary or compression; the
    others snappy-compressed, dictionary-encoded but the times and entity keys; statistics
    for the times only (what a monitoring window's query prunes on). Measured floats, ids and
    times rarely repeat, so a dictionary is wasted on them (a single-row request's 45 columns
    in 0.7 µs a row instead of 2.0); random bits and hex ids do not compress (snappy saves 2.5%
    of the file on the floats, 0.7% on the ids) and nothing prunes on an input's, an id's or an
    endpoint's minimum and maximum, while all of it costs on the CPU the server shares: a row
    of 45 columns in 4,350 instructions instead of 5,480 without the floats' statistics and
    compression, in 4,330 instead of 4,910 without the other columns' statistics (callgrind),
    and in 410 ns instead of 550 without the ids' compression and the times' dictionary
    (20,000 rows written in memory)."""
    floats = {f.name for f in schema if pa.types.is_floating(f.type)}
    others = [f.name for f in schema if f.name not in floats]
    plain = floats | {"request_id"}
    return {
        "use_dictionary": [name for name in others if name not in _UNIQUE],
        "compression": {f.name: "none" if f.name in plain else "snappy" for f in schema},
        "write_statistics": [name for name in others if name == "timestamp"],
    }


def write_atomic(table: pa.Table, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / _part_name()
    temp = folder / f".{final.name}.tmp"
    # a dictionary column (``_predlog_lanes.columns_table``'s header fields) is read back as
    # its values' type, as every other writer's files are: no Arrow schema in the footer
    dictionaries = any(pa.types.is_dictionary(f.type) for f in table.schema)
    pq.write_table(table, temp, store_schema=not dictionaries, **_write_options(table.schema))
    os.replace(temp, final)
    return final


def date_of(ts: float) -> str:
    """The UTC date of a POSIX time, as the log's partitions name it."""
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


def row_numbers(counts: np.ndarray, total: int) -> np.ndarray:
    """Each row's place in its request (0, 1, ... for every request), for requests of
    ``counts`` rows, ``total`` in all."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rows: np.ndarray = np.arange(total, dtype=np.int64) - starts
    return rows


def entity_key_column(keys: list[list[Any] | None], counts: list[int], total: int) -> pa.Array:
    """The ``entity_key`` column of requests that came with keys (a list per request) or
    without (None): the keys as text, null for a request without."""
    if keys.count(None) == len(keys):  # the usual flush: one C loop, not a generator's steps
        return pa.nulls(total, pa.string())
    flat: list[Any] = []
    for request_keys, rows in zip(keys, counts, strict=True):
        flat.extend([None] * rows if request_keys is None else request_keys)
    return pa.array([None if k is None else str(k) for k in flat], pa.string())


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

    columns: dict[str, Any] = {
        "request_id": strings([r.request_id for r in items]),
        "row": pa.array(np.zeros(total, np.int64) if single else row_numbers(counts, total)),
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
    columns["entity_key"] = entity_key_column([r.entity_keys for r in items], [r.rows for r in items], total)
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


def write_requests(root: str | os.PathLike[str], items: list[LoggedRequest]) -> Path:
    """Write one partition file directly (batch scoring)."""
    first = items[0]
    folder = Path(root) / "requests" / f"endpoint={first.endpoint}" / f"date={date_of(first.timestamp)}"
    return write_atomic(requests_table(items), folder)
