"""Training sets on Spark (``offline_engine: spark``): the DuckDB engine's answers, as Spark SQL.

The entity frame is checked and numbered by the DuckDB engine's own code (``prepare_entities``),
each source is checked by its rules (``check_columns``, with Spark's types named as DuckDB's),
and the choice between the two plans is the same (``too_many_pairs``). Per feature view:

- a view with a TTL range-joins the distinct (keys, time) of the entity rows to the source rows
  within [time - TTL, time] and keeps, per entity, the candidate ranked highest by (event time,
  created time) with one ``max_by`` aggregate;
- a view without a TTL, or whose keys have long histories, is an as-of join written as a
  window: the entity rows and the source rows in one sorted stream per join key (a source row
  before an entity row at the same time, re-writes by created time), each entity row taking
  the last source row before it (``last(..., true)``), then the TTL applied to what it found.

A missing created time ranks lowest, as on DuckDB. The session's time zone is UTC unless the
repository's settings say otherwise, so naive timestamps mean UTC on both engines.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from modelyard.core.errors import ValidationError
from modelyard.core.extras import require
from modelyard.core.signature import DType
from modelyard.features._definitions import FeatureView, FileSource
from modelyard.features._offline import (
    ENTITY_TS,
    ROW,
    arrow_table,
    check_columns,
    connect,
    hit_column,
    in_entity_order,
    pandas_bridge,
    prepare_entities,
    source_sql,
    too_many_pairs,
)
from modelyard.features._settings import SparkSettings
from modelyard.features._sources import SparkSource

# Spark's type names (``DataFrame.dtypes``) as DuckDB names them, for ``check_columns``
_AS_DUCKDB = {
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
    "date": "DATE",
}
_FLOAT_MAX = "3.4028234663852886E38"
_LOWEST = "(-9223372036854775807L - 1)"  # a missing created time ranks below every other


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _as_float(column: str) -> str:
    """``column`` as FLOAT, null when out of FLOAT's range (DuckDB's TRY_CAST; Spark's cast
    would give infinity)."""
    return (
        f"CASE WHEN abs({column}) > {_FLOAT_MAX} AND abs({column}) != double('infinity') "
        f"THEN NULL ELSE try_cast({column} AS FLOAT) END"
    )


def spark_session(settings: SparkSettings) -> Any:
    """The session ``settings`` describe, or the running one (which then gets their conf)."""
    sql = require("pyspark.sql", "The Spark offline engine (offline_engine: spark)")
    builder = sql.SparkSession.builder.master(settings.master).appName("modelyard-features")
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        **settings.conf,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def duckdb_type(spark_type: str) -> str:
    """A Spark column type (``bigint``, ``decimal(10,2)``, ...) under its DuckDB name."""
    base = spark_type.split("(")[0]
    if base == "decimal":
        return "DECIMAL"
    return _AS_DUCKDB.get(base, spark_type.upper())


def read_source(spark: Any, view: FeatureView, repo: Path) -> Any:
    """The view's source as a Spark DataFrame: files and Spark tables are read by Spark; other
    sources (a DataFrame, a DuckDB or PostgreSQL query) are computed by DuckDB and handed over
    as Arrow."""
    source = view.source
    if isinstance(source, FileSource):
        path = source.resolved(repo)
        try:
            if source.file_format == "csv":
                return spark.read.options(header="true", inferSchema="true").csv(path)
            return spark.read.option("mergeSchema", "true").parquet(path)
        except Exception as error:  # AnalysisException: a missing path, an unreadable file
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValidationError(
                f"source of feature view {view.name!r} ({source.path}) cannot be read: {first}"
            ) from error
    if isinstance(source, SparkSource):
        try:
            return spark.table(source.table)
        except Exception as error:  # AnalysisException: no such table or view
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValidationError(
                f"source of feature view {view.name!r} ({source.path}) cannot be read: {first}"
            ) from error
    con = connect(repo=repo)
    with pandas_bridge():
        return spark.createDataFrame(
            arrow_table(con, f"SELECT * FROM {source_sql(view, repo)}").to_pandas()
        )


class SparkRetrievalQuery:
    """The training set as one Spark DataFrame (``ROW`` and the hidden hit columns included)."""

    def __init__(self, spark: Any, frame: Any, columns: list[str], hidden: list[str]) -> None:
        self.spark = spark
        self.frame = frame
        self.columns = columns
        self.hidden = hidden

    @cached_property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection for the expectations checked on the collected rows."""
        return connect(threads=1)

    def arrow(self, keep_hidden: bool = False) -> Any:
        """The rows collected to the driver as Arrow, in the entity frame's order, with
        timestamps in UTC (Spark labels them with the session's zone)."""
        return in_entity_order(self._collected, self.hidden, keep_hidden)

    @cached_property
    def _collected(self) -> Any:
        """The rows, collected once per job: ``to_df()``, ``to_arrow()`` and ``to_parquet()``
        of one job share one Spark run."""
        import pyarrow as pa

        with pandas_bridge():
            table = self.frame.toArrow()
        for i, kind in enumerate(table.schema.types):
            if pa.types.is_timestamp(kind) and kind.tz is not None:
                table = table.set_column(
                    i,
                    table.schema.field(i).name,
                    table.column(i).cast(pa.timestamp(kind.unit, "UTC")),
                )
        return table

    def spark_df(self) -> Any:
        return self.frame.orderBy(ROW).drop(ROW, *self.hidden)


def build_spark_query(
    spark: Any,
    entity_df: pd.DataFrame,
    requests: Sequence[tuple[FeatureView, Sequence[str]]],
    repo: Path,
    *,
    full_feature_names: bool,
    timestamp: str = ENTITY_TS,
    hits: Sequence[str] = (),
) -> SparkRetrievalQuery:
    """``build_query``'s statement in Spark SQL (see the module's docstring for the plans)."""
    entities = prepare_entities(entity_df, requests, timestamp)
    tag = uuid.uuid4().hex[:12]  # temporary views of concurrent queries never collide
    with pandas_bridge():
        spark.createDataFrame(entities).createOrReplaceTempView(f"e_{tag}")
    ts = _q(timestamp)
    selects = [f"e.{_q(c)}" for c in entities.columns if c != ROW]
    ctes, joins, hidden = [], [], []
    for i, (view, features) in enumerate(requests):
        frame = read_source(spark, view, repo)
        check_columns(view, {name: duckdb_type(kind) for name, kind in frame.dtypes})
        frame.createOrReplaceTempView(f"s{i}_{tag}")
        src = view.source
        jk = [_q(k) for k in view.join_keys]
        dtypes = {f.name: f.dtype for f in view.schema}
        values = [
            f"{_as_float(_q(f))} AS {_q(f)}" if dtypes[f] is DType.FLOAT32 else _q(f)
            for f in features
        ]
        created = (
            f"coalesce(unix_micros(CAST({_q(src.created_timestamp_column)} AS TIMESTAMP)), {_LOWEST})"
            if src.created_timestamp_column
            else "0L"
        )
        present = " AND ".join(f"{k} IS NOT NULL" for k in [*jk, "__ts"])
        ctes.append(
            f"f{i} AS (SELECT * FROM (SELECT {', '.join(jk)}, CAST({_q(src.timestamp_field)} AS TIMESTAMP) AS __ts, "
            f"{created} AS __c, {', '.join(values)} FROM s{i}_{tag}) WHERE {present})"
        )
        packed = {
            prefix: ", ".join(
                [f"'__ts', {prefix}__ts", *(f"{_lit(f)}, {prefix}{_q(f)}" for f in features)]
            )
            for prefix in ("", "f.")
        }
        keys = f"SELECT DISTINCT {', '.join([*jk, ts])} FROM e_{tag}"
        ttl = "" if view.ttl is None else f"INTERVAL {int(view.ttl.total_seconds())} SECONDS"
        rows = 0 if not ttl or getattr(src, "file_format", "") == "csv" else frame.count()
        if ttl and not too_many_pairs(int(rows), view, entities):
            group = ", ".join([*(f"k.{k}" for k in jk), f"k.{ts}"])
            match = " AND ".join(f"k.{k} = f.{k}" for k in jk)
            ctes.append(
                f"v{i} AS (SELECT {group}, max_by(named_struct({packed['f.']}), named_struct('t', f.__ts, 'c', f.__c)) AS __v "
                f"FROM ({keys}) k JOIN f{i} f ON {match} AND f.__ts <= k.{ts} AND f.__ts >= k.{ts} - {ttl} "
                f"GROUP BY {group})"
            )
            fresh = ""
        else:
            types = dict(spark.sql(f"SELECT * FROM s{i}_{tag} LIMIT 0").selectExpr(*values).dtypes)
            nulls = ", ".join(f"CAST(NULL AS {types[f]}) AS {_q(f)}" for f in features)
            stream = (
                f"SELECT {', '.join(jk)}, __ts, 0 AS __kind, __c, {', '.join(_q(f) for f in features)} FROM f{i} "
                f"UNION ALL SELECT {', '.join(jk)}, {ts} AS __ts, 1 AS __kind, NULL AS __c, {nulls} FROM ({keys})"
            )
            window = f"PARTITION BY {', '.join(jk)} ORDER BY __ts, __kind, __c ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
            ctes.append(
                f"v{i} AS (SELECT {', '.join(jk)}, __ts AS {ts}, __v FROM (SELECT *, last(CASE WHEN __kind = 0 THEN "
                f"named_struct({packed['']}) END, true) OVER ({window}) AS __v FROM ({stream})) WHERE __kind = 1)"
            )
            fresh = f"v{i}.__v.__ts >= e.{ts} - {ttl}" if ttl else ""
        on = " AND ".join([*(f"e.{k} = v{i}.{k}" for k in jk), f"e.{ts} = v{i}.{ts}"])
        joins.append(f"LEFT JOIN v{i} ON {on}")
        for f in features:
            alias = f"{view.name}__{f}" if full_feature_names else f
            value = f"v{i}.__v.{_q(f)}"
            selects.append(
                f"{f'CASE WHEN {fresh} THEN {value} END' if fresh else value} AS {_q(alias)}"
            )
        if view.name in hits:
            hidden.append(hit_column(view.name))
            hit = f"coalesce({fresh}, false)" if fresh else f"v{i}.__v IS NOT NULL"
            selects.append(f"{hit} AS {_q(hidden[-1])}")
    selects.append(f"e.{ROW}")
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(selects)} FROM e_{tag} e {' '.join(joins)}"
    columns = [c for c in entities.columns if c != ROW]
    frame = spark.sql(sql)  # analysed now: the temporary views are part of its plan
    for name in [f"e_{tag}", *(f"s{i}_{tag}" for i in range(len(requests)))]:
        spark.catalog.dropTempView(name)  # so a long-lived session does not keep every frame
    return SparkRetrievalQuery(spark, frame, columns, hidden)


def check_spark_source(
    spark: Any, view: FeatureView, repo: Path, *, applying: bool = False
) -> None:
    """``check_source`` through Spark, for sources only Spark reads (a Spark table)."""
    frame = read_source(spark, view, repo)
    check_columns(view, {name: duckdb_type(kind) for name, kind in frame.dtypes}, applying=applying)
