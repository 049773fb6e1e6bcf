"""Compaction: a date partition's many small files of the prediction log become one file.

Steps, each safe to be killed after:

1. list the partition's live files (``stable`` listing: see ``_logfiles``);
2. stream them, oldest first, into ``.compact-<date>-<time>.parquet.tmp`` (one file's rows in
   memory at a time, columns unified: a column missing from a file is null there), with a
   ``source_file`` column and, in the footer, the files it replaces and the writer files it holds;
3. fsync and rename it to ``compact-<date>-<time>-<pid>.parquet``: from this instant readers use
   it and ignore the files it replaces;
4. delete the replaced files (a kill here leaves them hidden; the next compaction deletes them).

A kill in 2 leaves a temporary file that readers never look at and the next compaction removes.
Files that writers add meanwhile are not in the list, so they stay live: no row is lost.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.data._logfiles import (
    COMPACT_PREFIX,
    META_KEY,
    SOURCE_COLUMN,
    LogFile,
    compaction_meta,
    date_folders,
    partition_files,
)
from modelyard.data._predlog import default_log_root

ROW_GROUP = 1_000_000


@dataclass(frozen=True)
class Compaction:
    endpoint: str
    date: str
    files: int  # files replaced
    rows: int
    path: Path | None  # the compacted file, None when there was nothing to do
    removed: int  # replaced files deleted (and stale temporary files)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unified_schema(files: list[LogFile]) -> pa.Schema:
    schemas = []
    for f in files:
        schema = pq.read_schema(f.path).remove_metadata()
        if SOURCE_COLUMN not in schema.names:
            schema = schema.append(pa.field(SOURCE_COLUMN, pa.string()))
        schemas.append(schema)
    return pa.unify_schemas(schemas, promote_options="permissive")


def _conform(table: pa.Table, schema: pa.Schema, source: str | None) -> pa.Table:
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            columns.append(column if column.type == field.type else column.cast(field.type))
        elif field.name == SOURCE_COLUMN and source is not None:
            columns.append(pa.array([source] * table.num_rows, pa.string()))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _remove_hidden(folder: Path, live: list[LogFile]) -> int:
    """Delete files a live compacted file replaces, and temporary files left by a kill."""
    live_names = {f.path.name for f in live}
    hidden: set[str] = set()
    for f in live:
        if f.compacted:
            hidden.update(f.replaces)
    removed = 0
    for path in folder.iterdir():
        stale_temp = path.name.startswith(f".{COMPACT_PREFIX}") and path.name.endswith(".tmp")
        if (path.name in hidden and path.name not in live_names) or stale_temp:
            if (
                stale_temp
                and time.time() - path.stat().st_mtime < 3600
                and not _no_writer_alive(path)
            ):
                continue
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _no_writer_alive(path: Path) -> bool:
    """A temporary compaction file names its writer's pid; True when that process is gone."""
    try:
        pid = int(path.name.rsplit("-", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def compact_partition(
    folder: Path,
    *,
    endpoint: str = "",
    after_publish: Callable[[Path], None] | None = None,
) -> Compaction:
    """Compact one ``date=`` folder of the log into one file (see the module's docstring).
    Compactions of one folder take turns (an exclusive lock on ``.compact.lock`` in it)."""
    with open(folder / ".compact.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            return _compact_locked(folder, endpoint, after_publish)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _compact_locked(
    folder: Path, endpoint: str, after_publish: Callable[[Path], None] | None
) -> Compaction:
    date = folder.name.split("=", 1)[-1]
    files = partition_files(folder)
    if len(files) <= 1:
        return Compaction(endpoint, date, 0, 0, None, _remove_hidden(folder, files))
    schema = _unified_schema(files)
    sources: list[str] = []
    for f in files:
        sources.extend(compaction_meta(f.path)["sources"] if f.compacted else [f.path.name])
    meta = json.dumps({"replaces": [f.path.name for f in files], "sources": sources}).encode()
    schema = schema.with_metadata({META_KEY: meta})
    stamp = int(time.time() * 1000)
    final = folder / f"{COMPACT_PREFIX}{date}-{stamp}-{os.getpid()}.parquet"
    temp = folder / f".{final.stem}.parquet.tmp"
    rows = 0
    with pq.ParquetWriter(temp, schema, compression="zstd") as writer:
        for f in files:
            parquet = pq.ParquetFile(f.path)
            for batch in parquet.iter_batches(batch_size=ROW_GROUP):
                table = _conform(
                    pa.Table.from_batches([batch]), schema, None if f.compacted else f.path.name
                )
                writer.write_table(table, row_group_size=ROW_GROUP)
                rows += table.num_rows
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, final)
    _fsync_dir(folder)
    if after_publish is not None:
        after_publish(final)
    live = partition_files(folder)
    removed = _remove_hidden(folder, live)
    return Compaction(endpoint, date, len(files), rows, final, removed)


def compact(
    endpoint: str,
    *,
    root: str | Path | None = None,
    before: _dt.date | None = None,
) -> list[Compaction]:
    """Compact every date partition of ``endpoint`` before ``before`` (default: today, UTC,
    so the day writers are still filling is left alone)."""
    base = Path(root) if root is not None else default_log_root()
    limit = before or _dt.datetime.now(_dt.UTC).date()
    out = []
    for folder in date_folders(base / "requests" / f"endpoint={endpoint}"):
        if folder.name.split("=", 1)[1] < limit.isoformat():
            out.append(compact_partition(folder, endpoint=endpoint))
    return out
