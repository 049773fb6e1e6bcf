"""Batch scoring: a Parquet file (or folder) in, the same rows with predictions out.

Streams in chunks, so memory stays bounded whatever the file size; scores chunks in worker
processes (one per core by default) while the parent reads ahead and writes behind, in
order; writes the output under a temporary name and renames it when complete; and appends
the predictions to the prediction log as one partition, like the server does.
``engine="ray"`` runs the same job as a Ray Data pipeline (see ``_ray.py``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from modelyard.core.errors import SchemaError, ValidationError
from modelyard.data._predlog import LoggedRequest, default_log_root, requests_table
from modelyard.flavors import Model
from modelyard.registry import Client
from modelyard.serving._scorer import model_classes


@dataclass(frozen=True)
class BatchResult:
    output: Path
    rows: int
    seconds: float
    log_file: Path | None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


# -- the worker side ----------------------------------------------------------------------

_MODEL: Model | None = None


def _load(model_uri: str, tracking_uri: str | None) -> Model:
    if model_uri.startswith(("models:", "runs:")):
        return Client(tracking_uri).load_model(model_uri)
    return Client(tracking_uri).load_model(model_uri, trusted=True)


def _init_worker(model_uri: str, tracking_uri: str | None) -> None:
    global _MODEL
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _MODEL = _load(model_uri, tracking_uri)


def _score_table(model: Model, table: pa.Table) -> dict[str, np.ndarray]:
    """prediction (and score, for binary classifiers) for one chunk."""
    frame = table.to_pandas()
    out: dict[str, np.ndarray] = {}
    proba = None
    try:
        proba = model.predict_proba(frame)
    except AttributeError:
        proba = None
    classes = model_classes(model)  # labels are the arg-max, as in the server
    if proba is not None and classes is not None:
        out["prediction"] = np.asarray(classes)[np.asarray(proba).argmax(axis=1)]
    else:
        predictions = model.predict(frame)
        out["prediction"] = np.asarray(predictions.iloc[:, 0] if hasattr(predictions, "iloc") and predictions.ndim == 2 else predictions)
    if proba is not None and np.ndim(proba) == 2 and np.shape(proba)[1] == 2:
        out["score"] = np.asarray(proba)[:, 1]
    return out


def _score_in_worker(table: pa.Table) -> dict[str, np.ndarray]:
    assert _MODEL is not None
    return _score_table(_MODEL, table)


# -- the parent side ----------------------------------------------------------------------


def input_columns(model: Model, schema: pa.Schema, source: str) -> list[str]:
    """The model's input columns, checked against the file before any work starts."""
    signature = model.signature
    if signature is None:
        return list(schema.names)
    present = set(schema.names)
    missing = [c.name for c in signature.inputs if c.name not in present and not c.optional]
    if missing:
        raise SchemaError(
            f"{source} lacks the model's input column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing[:8]))}; it has {sorted(present)[:12]}"
        )
    return [c.name for c in signature.inputs if c.name in present]


def open_dataset(path: str) -> pads.Dataset:
    if not Path(path).exists() and not any(ch in path for ch in "*?["):
        raise ValidationError(f"input {path} does not exist")
    try:
        return pads.dataset(path, format="parquet")
    except (pa.ArrowInvalid, OSError) as error:
        raise ValidationError(f"input {path} is not readable as Parquet: {error}") from None


def _batches(dataset: pads.Dataset, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches file by file, without read-ahead: a dataset scanner would decode several
    row groups ahead (2.4 GB for a 10M-row file); this holds about one batch."""
    for path in dataset.files:
        with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as file:
            yield from file.iter_batches(batch_size=chunk_rows, use_threads=True)


def _chunks(dataset: pads.Dataset, chunk_rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in _batches(dataset, chunk_rows):
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        size += batch.num_rows
        if size >= chunk_rows:
            yield pa.Table.from_batches(pending)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _with_predictions(chunk: pa.Table, scored: dict[str, np.ndarray]) -> pa.Table:
    table = chunk
    for name, values in scored.items():
        column = name if name not in table.schema.names else f"{name}_"
        array = pa.array(values.tolist() if values.dtype.kind == "O" else values, from_pandas=True)
        table = table.append_column(column, array)
    return table


class LogPartition:
    """The prediction-log file of one batch job: written chunk by chunk, renamed into place
    when the job succeeds, removed when it fails (readers never see half of it)."""

    def __init__(self, root: Path, endpoint: str, job: str, version: str, columns: list[str]) -> None:
        self.folder = root / "requests" / f"endpoint={endpoint}" / f"date={time.strftime('%Y-%m-%d', time.gmtime())}"
        self.path = self.folder / f"part-{int(time.time() * 1000)}-{os.getpid()}-{job}.parquet"
        self._temp = self.folder / f".{self.path.name}.tmp"
        self._writer: pq.ParquetWriter | None = None
        self._args = (job, endpoint, version)
        self._columns = columns

    def write(self, chunk: pa.Table, scored: dict[str, np.ndarray], offset: int) -> None:
        job, endpoint, version = self._args
        logged = _log_table(chunk, self._columns, scored, job, endpoint, version, offset)
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._temp, logged.schema)
        self._writer.write_table(logged)

    def commit(self) -> Path | None:
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        os.replace(self._temp, self.path)
        return self.path

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._temp.unlink(missing_ok=True)


def score_file(
    model_uri: str,
    input_path: str,
    output_path: str,
    *,
    chunk_rows: int = 200_000,
    workers: int | None = None,
    tracking_uri: str | None = None,
    log: bool = True,
    log_root: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> BatchResult:
    """Score ``input_path`` with ``model_uri`` into ``output_path`` (Parquet, written whole)."""
    if chunk_rows <= 0:
        raise ValidationError("chunk_rows must be a positive number of rows")
    started = time.perf_counter()
    model = _load(model_uri, tracking_uri)
    dataset = open_dataset(input_path)
    columns = input_columns(model, dataset.schema, input_path)
    total = dataset.count_rows()
    if workers is None:
        # LightGBM and XGBoost already use every core inside predict; processes would only add copies
        workers = 1 if model.flavor.name in ("lightgbm", "xgboost") else (os.cpu_count() or 1)
    workers = max(1, workers)
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    temp = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.tmp")
    root = Path(log_root) if log_root is not None else default_log_root()
    endpoint = f"batch-{_model_name(model_uri)}"
    part = LogPartition(root, endpoint, f"batch-{uuid.uuid4().hex[:12]}", _version_label(model_uri, tracking_uri), columns) if log else None
    log_file: Path | None = None
    writer: pq.ParquetWriter | None = None
    rows = 0
    pool: ProcessPoolExecutor | None = None
    bar = _progress(progress, total, output.name)
    try:
        if workers > 1:
            pool = ProcessPoolExecutor(
                workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(model_uri, tracking_uri)
            )
        in_flight: deque[tuple[pa.Table, Future[dict[str, np.ndarray]] | dict[str, np.ndarray]]] = deque()

        def drain(limit: int) -> None:
            nonlocal writer, rows
            while len(in_flight) > limit:
                chunk, pending = in_flight.popleft()
                scored = pending.result() if isinstance(pending, Future) else pending
                table = _with_predictions(chunk, scored)
                if writer is None:
                    writer = pq.ParquetWriter(temp, table.schema)
                writer.write_table(table)
                if part is not None:
                    part.write(chunk, scored, rows)
                rows += chunk.num_rows
                if bar is not None:
                    bar[0].update(bar[1], advance=chunk.num_rows)

        for chunk in _chunks(dataset, chunk_rows):
            inputs = chunk.select(columns)
            if pool is not None:
                in_flight.append((chunk, pool.submit(_score_in_worker, inputs)))
                drain(2 * workers)
            else:
                in_flight.append((chunk, _score_table(model, inputs)))
                drain(0)
        drain(0)
        if writer is None:  # an empty input: an empty output with the input's columns
            empty = dataset.schema.empty_table().append_column("prediction", pa.array([], pa.float64()))
            pq.write_table(empty, temp)
        else:
            writer.close()
            writer = None
        if part is not None:
            log_file = part.commit()
        os.replace(temp, output)
    finally:
        if bar is not None:
            bar[0].stop()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if writer is not None:
            writer.close()
        if part is not None:
            part.discard()
        temp.unlink(missing_ok=True)
    return BatchResult(output, rows, time.perf_counter() - started, log_file)


def _model_name(model_uri: str) -> str:
    if model_uri.startswith("models:/"):
        return model_uri[len("models:/") :].split("/")[0].split("@")[0]
    return Path(model_uri).name or "model"


def _version_label(model_uri: str, tracking_uri: str | None) -> str:
    if model_uri.startswith("models:"):
        peeked = Client(tracking_uri).peek(model_uri)
        if peeked is not None:
            return str(peeked[0])
    return ""


def _log_table(
    chunk: pa.Table,
    columns: list[str],
    scored: dict[str, np.ndarray],
    job: str,
    endpoint: str,
    version: str,
    offset: int,
) -> pa.Table:
    inputs = {name: chunk.column(name).to_numpy(zero_copy_only=False) for name in columns}
    item = LoggedRequest(
        request_id=job,
        timestamp=time.time(),
        endpoint=endpoint,
        route="batch",
        model=endpoint.removeprefix("batch-"),
        version=version,
        shadow=False,
        status=200,
        latency_ms=0.0,
        rows=chunk.num_rows,
        inputs=inputs,
        predictions=scored.get("prediction"),
        scores=scored.get("score"),
    )
    table = requests_table([item])
    # the row number within the whole job, not within the chunk
    index = table.schema.get_field_index("row")
    return table.set_column(index, "row", pa.array(np.arange(offset, offset + chunk.num_rows, dtype=np.int64)))


def _progress(show: bool, total: int, label: str) -> tuple[Any, Any] | None:
    if not show:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn(f"scoring → {label}"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"), TimeRemainingColumn()
    )
    bar.start()
    return bar, bar.add_task("score", total=total)
