"""Data sources besides files: a DataFrame, a DuckDB query, a PostgreSQL query.

Every source gives the offline engine (DuckDB) one SQL relation through ``sql(repo)``. A
DataFrame is written once to a Parquet snapshot named by its content hash; a PostgreSQL query
is read (streamed, in chunks) into a Parquet snapshot that is reused for ``refresh_seconds``,
so a training set and a materialization see one consistent copy; a DuckDB query is inlined
(relative file paths in it resolve against the repository folder).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.core.errors import MissingDependencyError, ValidationError
from modelyard.core.settings import home_dir


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cache() -> Path:
    folder = home_dir() / "cache" / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_atomic(table: pa.Table | None, target: Path, batches: Any = None) -> None:
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if table is not None:
            pq.write_table(table, temp)
        else:
            writer: pq.ParquetWriter | None = None
            try:
                for chunk in batches:
                    if writer is None:
                        writer = pq.ParquetWriter(temp, chunk.schema)
                    writer.write_table(chunk.cast(writer.schema) if chunk.schema != writer.schema else chunk)
            finally:
                if writer is not None:
                    writer.close()
            if writer is None:
                raise ValidationError("the query returned no columns")
        os.replace(temp, target)
    finally:
        if temp.exists():
            temp.unlink()


@dataclass(frozen=True, kw_only=True)
class DataFrameSource:
    """Features held in a pandas DataFrame (snapshotted by content hash)."""

    df: pd.DataFrame = field(repr=False, compare=False)
    timestamp_field: str
    created_timestamp_column: str | None = None
    name: str | None = None
    digest: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if not isinstance(self.df, pd.DataFrame):
            raise ValidationError(f"DataFrameSource needs a pandas DataFrame, got {type(self.df).__name__}")
        if self.timestamp_field not in self.df.columns:
            raise ValidationError(
                f"DataFrameSource: timestamp_field {self.timestamp_field!r} is not a column; columns: {list(self.df.columns)[:12]}"
            )
        table = pa.Table.from_pandas(self.df, preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        object.__setattr__(self, "digest", hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest())

    @property
    def path(self) -> str:
        return f"<DataFrame {self.digest[:12]}, {len(self.df)} rows>"

    def sql(self, repo: Path) -> str:
        target = _cache() / f"df-{self.digest}.parquet"
        if not target.exists():
            _write_atomic(pa.Table.from_pandas(self.df, preserve_index=False), target)
        return f"read_parquet({_lit(str(target))})"

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "dataframe",
            "digest": self.digest,
            "rows": len(self.df),
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "name": self.name,
        }


@dataclass(frozen=True, kw_only=True)
class DuckDBSource:
    """Features as a DuckDB query, e.g. ``SELECT ... FROM read_parquet('data/*.parquet') JOIN ...``."""

    query: str
    timestamp_field: str
    created_timestamp_column: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        text = self.query.strip().rstrip(";")
        if not text.lower().startswith(("select", "with", "from")):
            raise ValidationError("DuckDBSource.query must be a SELECT (or WITH/FROM) query")
        object.__setattr__(self, "query", text)

    @property
    def path(self) -> str:
        return f"<DuckDB query {self.query[:40]!r}>"

    def sql(self, repo: Path) -> str:
        return f"({self.query})"  # relative paths resolve in the repository (file_search_path)

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "duckdb",
            "query": self.query,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "name": self.name,
        }


_SNAPSHOTS: dict[str, tuple[float, Path]] = {}
_SNAPSHOT_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class PostgreSQLSource:
    """Features as a PostgreSQL query. ``dsn`` is a URL (``postgresql://user@host/db``) or
    the name of an environment variable holding one (keep passwords out of definitions)."""

    query: str
    dsn: str
    timestamp_field: str
    created_timestamp_column: str | None = None
    name: str | None = None
    refresh_seconds: float = 60.0
    chunk_rows: int = 100_000

    def __post_init__(self) -> None:
        text = self.query.strip().rstrip(";")
        if not text.lower().startswith(("select", "with")):
            raise ValidationError("PostgreSQLSource.query must be a SELECT (or WITH) query")
        object.__setattr__(self, "query", text)

    @property
    def path(self) -> str:
        return f"<PostgreSQL query {self.query[:40]!r}>"

    def _url(self) -> str:
        url = os.environ.get(self.dsn, self.dsn) if not self.dsn.startswith("postgresql") else self.dsn
        if not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValidationError(
                f"PostgreSQLSource.dsn {self.dsn!r} is neither a postgresql:// URL nor a set environment variable"
            )
        return url.replace("postgres://", "postgresql://", 1)

    def snapshot(self) -> Path:
        """The query's rows as Parquet, read again after ``refresh_seconds``."""
        url = self._url()
        key = hashlib.sha256(f"{url}\n{self.query}".encode()).hexdigest()[:24]
        with _SNAPSHOT_LOCK:
            found = _SNAPSHOTS.get(key)
            if found is not None and time.monotonic() - found[0] < self.refresh_seconds and found[1].exists():
                return found[1]
            try:
                import sqlalchemy
            except ImportError as error:  # pragma: no cover - a core dependency
                raise MissingDependencyError("sqlalchemy", None, "PostgreSQL sources") from error
            engine_url = url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
            try:
                engine = sqlalchemy.create_engine(engine_url)
            except ModuleNotFoundError as error:
                raise MissingDependencyError("psycopg", "postgres", "PostgreSQL sources") from error
            target = _cache() / f"pg-{key}-{int(time.time() * 1000)}.parquet"
            try:
                with engine.connect() as conn:
                    chunks = pd.read_sql_query(sqlalchemy.text(self.query), conn, chunksize=self.chunk_rows)
                    _write_atomic(None, target, (pa.Table.from_pandas(c, preserve_index=False) for c in chunks))
            except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as error:
                raise ValidationError(f"PostgreSQL source query failed: {str(error).splitlines()[0]}") from None
            finally:
                engine.dispose()
            if found is not None and found[1] != target:
                found[1].unlink(missing_ok=True)
            _SNAPSHOTS[key] = (time.monotonic(), target)
            return target

    def sql(self, repo: Path) -> str:
        return f"read_parquet({_lit(str(self.snapshot()))})"

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "postgresql",
            "query": self.query,
            "dsn": self.dsn if not self.dsn.startswith("postgres") else "(url)",
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "name": self.name,
        }


@dataclass(frozen=True, kw_only=True)
class SparkSource:
    """Features in a Spark table or view (``db.table``, as the session's catalog names it),
    read by Spark only: training sets need ``offline_engine: spark``; ``materialize`` reads it
    through Spark whatever the engine. In YAML: ``source: {table: db.table, ...}``."""

    table: str
    timestamp_field: str
    created_timestamp_column: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.table, str) or not self.table.strip():
            raise ValidationError("SparkSource.table must name a table, e.g. 'lake.driver_stats'")

    @property
    def path(self) -> str:
        return f"<Spark table {self.table}>"

    def sql(self, repo: Path) -> str:
        raise ValidationError(
            f"SparkSource(table={self.table!r}) is read by the Spark engine only: set "
            "offline_engine: spark in the repository's feature_store.yaml (materialize reads it "
            "through Spark whatever the engine)"
        )

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "spark",
            "table": self.table,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "name": self.name,
        }
