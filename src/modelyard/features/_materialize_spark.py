"""Materialization on Spark: each entity's latest feature values in an event-time window,
computed by Spark SQL and written into the online store partition by partition.

The answer is the DuckDB path's (``_materialize``): rows with event times in [start, end]
(milliseconds, both ends included), null join keys skipped, the latest row per entity chosen
with one ``max_by`` ranked by (event time, created time), a missing created time lowest; a
Float32 out of FLOAT's range is null. Expectations are checked first, by Spark
(``_quality_spark``), and a failure writes nothing.

The rows reach the driver one partition at a time: each executor turns its partition's Arrow
batches into Arrow IPC messages (``mapInArrow``, only pyarrow needed there) and the driver
pulls the partitions in order with ``toLocalIterator``, so it holds one partition, never the
whole view. The rows are sorted by their online key text (as on DuckDB), so the online store's
B-tree grows by appending. Every batch goes into one ``online.materialization`` block: a new
generation, switched in once at the end, or nothing if anything fails on the way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.progress import Progress

from modelyard.core.signature import DType
from modelyard.features import _quality as quality
from modelyard.features._definitions import FeatureView
from modelyard.features._offline import check_columns, pandas_bridge
from modelyard.features._offline_spark import _LOWEST, _as_float, _q, duckdb_type, read_source
from modelyard.features._online import OnlineStore
from modelyard.features._online_format import encode_batch
from modelyard.features._quality_spark import evaluate_spark

BATCH = 100_000  # rows per batch handed to the online store (as on DuckDB)


def _ipc_messages() -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function the executors run: each Arrow batch of a partition as one row holding its
    IPC stream. Made here, as a closure, so that Spark pickles it by value: the executors need
    pyarrow (which Spark's Arrow support needs anyway), not modelyard."""

    def to_ipc(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        schema = pa.schema([("ipc", pa.binary())])
        for batch in batches:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as writer:
                writer.write_batch(batch)
            message = pa.array([sink.getvalue().to_pybytes()], pa.binary())
            yield pa.RecordBatch.from_arrays([message], schema=schema)

    return to_ipc


def _key_text(keys: list[str], types: dict[str, str]) -> str:
    """``_materialize._key_order`` in Spark SQL: the online key text of the join keys."""
    parts = []
    for key in keys:
        text = f"CAST({_q(key)} AS STRING)"
        tag = "s" if types.get(key) == "string" else "i"
        parts.append(f"'{tag}', CAST(octet_length({text}) AS STRING), ':', {text}")
    return f"concat({', '.join(parts)})"


def latest_sql(view: FeatureView, relation: str, types: dict[str, str]) -> str:
    """The latest row per entity of ``relation`` (the window's rows): join keys, ``__ms`` (the
    event time in epoch milliseconds), then the features, ordered by online key text."""
    src = view.source
    keys = [_q(k) for k in view.join_keys]
    values = [
        _as_float(_q(f.name)) if f.dtype is DType.FLOAT32 else _q(f.name) for f in view.schema
    ]
    stamp = f"CAST({_q(src.timestamp_field)} AS TIMESTAMP)"
    created = (
        f"coalesce(unix_micros(CAST({_q(src.created_timestamp_column)} AS TIMESTAMP)), {_LOWEST})"
        if src.created_timestamp_column
        else "0L"
    )
    packed = ", ".join(
        ["'__ms', unix_millis(__ts)", *(f"'f{i}', {v}" for i, v in enumerate(values))]
    )
    present = " AND ".join(f"{k} IS NOT NULL" for k in keys)
    rows = f"SELECT *, {stamp} AS __ts, {created} AS __c FROM {relation} WHERE {present}"
    winners = (
        f"SELECT {', '.join(keys)}, max_by(named_struct({packed}), named_struct('t', __ts, 'c', __c)) "
        f"AS __v FROM ({rows}) GROUP BY {', '.join(keys)}"
    )
    # features travel as f0, f1, ... inside the struct (a feature named like a key cannot clash)
    out = [
        *keys,
        "__v.__ms AS __ms",
        *(f"__v.f{i} AS {_q(f.name)}" for i, f in enumerate(view.schema)),
    ]
    return f"SELECT {', '.join(out)} FROM ({winners}) ORDER BY {_key_text(view.join_keys, types)}"


def _in_utc(batch: Any) -> Any:
    """``batch`` with its zoned timestamps in UTC: Spark labels them with the session's time
    zone, DuckDB's materialization with UTC, and a datetime feature is stored as ISO text."""
    import pyarrow as pa

    for i, kind in enumerate(batch.schema.types):
        if pa.types.is_timestamp(kind) and kind.tz not in (None, "UTC"):
            batch = batch.set_column(
                i, batch.schema.field(i).name, batch.column(i).cast(pa.timestamp(kind.unit, "UTC"))
            )
    return batch


def _batches(frame: Any) -> Iterator[Any]:
    """The DataFrame's rows as Arrow record batches of about ``BATCH`` rows, pulled to the
    driver one partition at a time, in order."""
    import pyarrow as pa

    pending: list[Any] = []
    size = 0
    with pandas_bridge():  # mapInArrow checks the pandas version, and warns about pandas 3
        messages = frame.mapInArrow(_ipc_messages(), "ipc binary")
    for row in messages.toLocalIterator(prefetchPartitions=False):
        with pa.ipc.open_stream(row[0]) as reader:
            for batch in reader:
                pending.append(batch)
                size += batch.num_rows
        if size >= BATCH:
            yield _in_utc(pa.Table.from_batches(pending).combine_chunks().to_batches()[0])
            pending, size = [], 0
    if size:
        yield _in_utc(pa.Table.from_batches(pending).combine_chunks().to_batches()[0])


def materialize_view_spark(
    spark: Any,
    online: OnlineStore,
    project: str,
    view: FeatureView,
    repo: Path,
    window_ms: tuple[int, int],
    *,
    progress: bool,
    incremental: bool,
) -> int:
    """``_materialize.materialize_view`` on Spark: write ``view``'s latest values with event
    times in ``window_ms`` (inclusive) into ``online``; returns the number of entities
    written. Readers see all of them or none."""
    start, end = window_ms
    src = view.source
    frame = read_source(spark, view, repo)
    types = dict(frame.dtypes)
    check_columns(view, {name: duckdb_type(kind) for name, kind in types.items()})
    name = f"m_{uuid.uuid4().hex[:12]}"  # concurrent materializations never collide
    frame.createOrReplaceTempView(name)
    try:
        stamp = f"CAST({_q(src.timestamp_field)} AS TIMESTAMP)"
        within = f"{stamp} >= timestamp_millis({start}L) AND {stamp} <= timestamp_millis({end}L)"
        window = f"(SELECT * FROM {name} WHERE {within})"
        context = {
            "keys": view.join_keys,
            "timestamp": src.timestamp_field,
            "created": src.created_timestamp_column,
            "now": f"timestamp_millis({end}L)",
        }
        quality.enforce(
            evaluate_spark(spark, window, view.expectations, context),
            f"feature view {view.name!r} ({src.path})",
            view.warn_only,
        )
        total = None
        if progress:  # a count on the keys alone (Spark reads only their columns)
            keys = ", ".join(_q(k) for k in view.join_keys)
            present = " AND ".join(f"{_q(k)} IS NOT NULL" for k in view.join_keys)
            total = int(
                spark.sql(
                    f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {window} WHERE {present})"
                ).first()[0]
            )
        latest = spark.sql(latest_sql(view, window, types))  # analysed: the view is in its plan
    finally:
        spark.catalog.dropTempView(name)
    n_keys = len(view.join_keys)
    names = view.feature_names
    written = 0
    with (
        Progress(transient=True, disable=not progress) as bar,
        online.materialization(project, view.name, incremental=incremental) as write,
    ):
        task = bar.add_task(f"materialize {view.name}", total=total)
        for batch in _batches(latest):
            write.write_encoded(encode_batch(batch, n_keys, names))
            written += batch.num_rows
            bar.advance(task, batch.num_rows)
    return written
