"""Batch scoring on Spark: ``modelyard score --engine spark``, the same job as ``score_file``.

Spark reads the input Parquet, each executor's Python worker loads the registered version once
(through the registry, which checks every file against its registered hash before unpickling)
and scores its partitions' Arrow batches with the local path's own function, so the output is
the local path's: the input's columns plus ``prediction`` (and ``score``). Spark writes Parquet
parts to a temporary folder; they are joined into one file and renamed, and the prediction log
gets one file for the job, as with the other engines. ``master`` (or ``$SPARK_MASTER``) picks the
cluster; ``local[*]`` by default.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.core.errors import ValidationError
from modelyard.core.extras import require
from modelyard.data._predlog import default_log_root
from modelyard.flavors import Model
from modelyard.registry import Client
from modelyard.serving._batch import (
    BatchResult,
    LogPartition,
    _model_name,
    _score_table,
    _version_label,
    input_columns,
    open_dataset,
)

_LOADED: dict[tuple[str, str], Model] = {}


def worker_model(tracking_uri: str, uri: str) -> Model:
    """The model, loaded (and verified) once per Python worker process."""
    key = (tracking_uri, uri)
    if key not in _LOADED:
        _LOADED[key] = Client(tracking_uri).load_model(uri)
    return _LOADED[key]


def _spark_type(kind: pa.DataType) -> str:
    if pa.types.is_floating(kind):
        return "double"
    if pa.types.is_integer(kind):
        return "bigint"
    if pa.types.is_boolean(kind):
        return "boolean"
    return "string"


def score_file_spark(
    model_uri: str,
    input_path: str,
    output_path: str,
    *,
    chunk_rows: int = 200_000,
    tracking_uri: str | None = None,
    log: bool = True,
    log_root: str | os.PathLike[str] | None = None,
    master: str | None = None,
) -> BatchResult:
    sql = require("pyspark.sql", "Batch scoring with --engine spark")
    if not model_uri.startswith("models:"):
        raise ValidationError(
            f"--engine spark scores a registered model (models:/name/3 or models:/name@alias), got {model_uri!r}"
        )
    started = time.perf_counter()
    client = Client(tracking_uri)
    version = client.resolve(model_uri)
    pinned = f"models:/{version.name}/{version.version}"  # one version for the whole job
    model = client.load_model(pinned)  # verified here first: a bad bundle fails before the job
    dataset = open_dataset(input_path)
    columns = input_columns(model, dataset.schema, input_path)
    probe = _score_table(model, dataset.head(5, columns=columns))
    outputs = {name: _spark_type(pa.array(values).type) for name, values in probe.items()}
    store_uri = client.tracking_uri

    def score_batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = worker_model(store_uri, pinned)
        for frame in frames:
            scored = _score_table(
                scorer, pa.Table.from_pandas(frame[columns], preserve_index=False)
            )
            yield frame.assign(**{name: scored[name] for name in outputs})

    spark = (
        sql.SparkSession.builder.master(master or os.environ.get("SPARK_MASTER") or "local[*]")
        .appName("modelyard-score")
        .getOrCreate()
    )
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    parts = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.parts")
    temp = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.tmp")
    part: LogPartition | None = None
    log_file: Path | None = None
    rows = 0
    try:
        frame = spark.read.parquet(
            str(Path(input_path).absolute()) if "://" not in input_path else input_path
        )
        schema = ", ".join(
            [
                frame.schema.simpleString()[len("struct<") : -1],
                *(f"{n}: {t}" for n, t in outputs.items()),
            ]
        )
        frame.mapInPandas(score_batches, schema).write.parquet(str(parts.absolute()))
        if log:
            root = Path(log_root) if log_root is not None else default_log_root()
            part = LogPartition(
                root,
                f"batch-{_model_name(model_uri)}",
                f"spark-{uuid.uuid4().hex[:12]}",
                _version_label(pinned, tracking_uri),
                columns,
            )
        writer: pq.ParquetWriter | None = None
        try:
            for file in sorted(parts.glob("*.parquet")):
                for batch in pq.ParquetFile(file).iter_batches(batch_size=chunk_rows):
                    table = pa.Table.from_batches([batch])
                    if writer is None:
                        writer = pq.ParquetWriter(temp, table.schema)
                    writer.write_table(table)
                    if part is not None:
                        found = {n: table.column(n).to_numpy(zero_copy_only=False) for n in outputs}
                        part.write(table, found, rows)
                    rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            pq.write_table(
                dataset.schema.empty_table().append_column(
                    "prediction", pa.array([], pa.float64())
                ),
                temp,
            )
        if part is not None:
            log_file = part.commit()
        os.replace(temp, output)
    finally:
        if part is not None:
            part.discard()
        shutil.rmtree(parts, ignore_errors=True)
        if temp.exists():
            temp.unlink()
    return BatchResult(output, rows, time.perf_counter() - started, log_file)
