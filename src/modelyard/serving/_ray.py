"""Batch scoring as a Ray Data pipeline: the same job as ``score_file``, on a Ray cluster.

Locally ``ray.init(num_cpus=workers)`` starts a private cluster; point ``address`` (or
``$RAY_ADDRESS``) at a running cluster (``ray://head:10001`` or ``auto`` on a node of it) to
scale out. Each Ray actor loads the model once — verified against its registered hashes, as
everywhere — and scores batches of Arrow rows. The output is written by Ray as Parquet parts
in a temporary folder, then joined into one file and renamed, so readers never see half of it.
On a real cluster, the tracking store and the input/output paths must be reachable from every
node (PostgreSQL + S3, say), not a laptop's folder.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.core.errors import MissingDependencyError
from modelyard.core.settings import home_dir
from modelyard.data._predlog import default_log_root
from modelyard.serving._batch import (
    BatchResult,
    LogPartition,
    _load,
    _model_name,
    _score_table,
    _version_label,
    _with_predictions,
    input_columns,
    open_dataset,
)


class _Predictor:
    """A Ray Data actor: loads the model once, scores Arrow batches."""

    def __init__(self, model_uri: str, tracking_uri: str | None, columns: list[str]) -> None:
        self.model = _load(model_uri, tracking_uri)
        self.columns = columns

    def __call__(self, batch: pa.Table) -> pa.Table:
        return _with_predictions(batch, _score_table(self.model, batch.select(self.columns)))


def score_file_ray(
    model_uri: str,
    input_path: str,
    output_path: str,
    *,
    chunk_rows: int = 200_000,
    workers: int | None = None,
    tracking_uri: str | None = None,
    log: bool = True,
    log_root: str | os.PathLike[str] | None = None,
    address: str | None = None,
) -> BatchResult:
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise MissingDependencyError("ray", "ray", "Batch scoring with --engine ray") from error
    started = time.perf_counter()
    model = _load(model_uri, tracking_uri)
    columns = input_columns(model, open_dataset(input_path).schema, input_path)
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    tracking = tracking_uri or os.environ.get("MODELYARD_TRACKING_URI")
    if tracking and "://" not in tracking:
        tracking = str(Path(tracking).absolute())
    env = {"MODELYARD_HOME": str(home_dir())}
    if tracking:
        env["MODELYARD_TRACKING_URI"] = tracking
    started_here = False
    if not ray.is_initialized():
        target = address or os.environ.get("RAY_ADDRESS")
        init_kwargs: dict[str, Any] = {
            "runtime_env": {"env_vars": env},
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        if target:
            ray.init(address=target, **init_kwargs)
        else:
            ray.init(num_cpus=workers, **init_kwargs)
        started_here = True
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    parts = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.parts")
    temp = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.tmp")
    log_file: Path | None = None
    part: LogPartition | None = None
    rows = 0
    try:
        dataset = ray.data.read_parquet(str(Path(input_path).absolute()) if "://" not in input_path else input_path)
        scored = dataset.map_batches(
            _Predictor,
            fn_constructor_args=(model_uri, tracking, columns),
            batch_format="pyarrow",
            batch_size=chunk_rows,
            concurrency=(1, workers),
        )
        scored.write_parquet(str(parts.absolute()))
        files = sorted(parts.glob("*.parquet"))
        writer: pq.ParquetWriter | None = None
        root = Path(log_root) if log_root is not None else default_log_root()
        if log:
            part = LogPartition(root, f"batch-{_model_name(model_uri)}", f"ray-{uuid.uuid4().hex[:12]}", _version_label(model_uri, tracking_uri), columns)
        try:
            for file in files:
                for batch in pq.ParquetFile(file).iter_batches(batch_size=chunk_rows):
                    table = pa.Table.from_batches([batch])
                    if writer is None:
                        writer = pq.ParquetWriter(temp, table.schema)
                    writer.write_table(table)
                    if part is not None:
                        found = {n: table.column(n).to_numpy(zero_copy_only=False) for n in ("prediction", "score") if n in table.schema.names}
                        part.write(table, found, rows)
                    rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # an empty input: an empty output with the input's columns
            schema = open_dataset(input_path).schema
            pq.write_table(schema.empty_table().append_column("prediction", pa.array([], pa.float64())), temp)
        if part is not None:
            log_file = part.commit()
        os.replace(temp, output)
    finally:
        if part is not None:
            part.discard()
        shutil.rmtree(parts, ignore_errors=True)
        if temp.exists():
            temp.unlink()
        if started_here:
            ray.shutdown()
    return BatchResult(output, rows, time.perf_counter() - started, log_file)
