"""Training sets: point-in-time-correct joins with DuckDB over the sources' Parquet files.

For each entity row, each feature view contributes its latest row at or before the row's
timestamp (rows re-written at the same event time: the latest created wins), and nothing
older than the view's TTL. One SQL statement (range joins within the TTL, or ASOF joins for
views without one), run out of core by DuckDB; the entity frame's row order is kept.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd

from modelyard.core.errors import ValidationError
from modelyard.core.extras import require
from modelyard.core.signature import DType
from modelyard.features._definitions import FeatureView, FileSource

ENTITY_TS = "event_timestamp"

_DUCK_TYPES = {
    DType.BOOL: {"BOOLEAN"},
    DType.INT32: {"INTEGER", "SMALLINT", "TINYINT"},
    DType.INT64: {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"},
    # a DOUBLE column under a Float32 field is read as FLOAT (as Feast does), offline and online
    DType.FLOAT32: {"FLOAT", "REAL", "DOUBLE", "DECIMAL"},
    DType.FLOAT64: {"DOUBLE", "FLOAT", "REAL", "DECIMAL"},
    DType.STRING: {"VARCHAR"},
    DType.DATETIME: {
        "TIMESTAMP",
        "TIMESTAMP WITH TIME ZONE",
        "TIMESTAMP_NS",
        "TIMESTAMP_MS",
        "TIMESTAMP_S",
        "DATE",
    },
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def arrow_table(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The result of ``sql`` as an Arrow table, through the relation API (no extra copy)."""
    relation = con.sql(sql)
    method = getattr(relation, "to_arrow_table", None) or relation.arrow
    return method()


def arrow_batches(con: duckdb.DuckDBPyConnection, sql: str, size: int) -> Any:
    """The result of ``sql`` as a reader of Arrow record batches of ``size`` rows."""
    relation = con.sql(sql)
    method = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    return method(size)


@contextmanager
def pandas_bridge() -> Iterator[None]:
    """PySpark 4 warns on every pandas conversion that its pandas 3 support is partial; what
    the Spark engine converts (flat frames of numbers, strings, timestamps) is covered by the
    tests, so the warning is not passed on to every training set."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "PySpark does not yet fully support pandas", FutureWarning
        )
        yield


def _database(threads: int | None, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB database with its global settings (threads, memory cap)."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads or os.cpu_count() or 2}")
    if memory_limit:
        con.execute(f"SET memory_limit = {_lit(memory_limit)}")
    return con


def _session(con: duckdb.DuckDBPyConnection, repo: Path | None) -> duckdb.DuckDBPyConnection:
    """``con`` with the per-connection settings every query here relies on."""
    con.execute("SET TimeZone = 'UTC'")
    if repo is not None:  # relative paths in DuckDB query sources mean the repository's files
        con.execute(f"SET file_search_path = {_lit(str(Path(repo).absolute()))}")
    return con


def connect(
    threads: int | None = None, memory_limit: str | None = None, repo: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection to a database of its own."""
    return _session(_database(threads, memory_limit), repo)


class Engine:
    """One DuckDB database reused across calls (a feature store holds one).

    Opening a database costs 20-170 ms on a loaded 2-core machine, a new connection to an
    open one well under 1 ms. Every call gets its own connection (``session``), so threads
    never share a session, its settings or its registered frames; only creating it is locked.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._settings: tuple[int | None, str | None] | None = None

    def session(
        self, threads: int | None, memory_limit: str | None, repo: Path | None
    ) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._db is None or self._settings != (threads, memory_limit):
                self._db, self._settings = _database(threads, memory_limit), (threads, memory_limit)
            con = self._db.cursor()
        return _session(con, repo)


def source_sql(view: FeatureView, repo: Path) -> str:
    source = view.source
    if not isinstance(source, FileSource):
        return str(source.sql(repo))
    path = source.resolved(repo)
    if source.file_format == "csv":
        return f"read_csv_auto({_lit(path)})"
    target = path
    if Path(path).is_dir():
        target = str(Path(path) / "**" / "*.parquet")
    return f"read_parquet({_lit(target)}, union_by_name = true)"


_FEAST_NAMES = {
    "BOOLEAN": "Bool",
    "INTEGER": "Int32",
    "SMALLINT": "Int32",
    "TINYINT": "Int32",
    "BIGINT": "Int64",
    "FLOAT": "Float32",
    "REAL": "Float32",
    "DOUBLE": "Float64",
    "DECIMAL": "Float64",
    "VARCHAR": "String",
}
_INTEGERS = _DUCK_TYPES[DType.INT64] | _DUCK_TYPES[DType.INT32]


def _matching(actual: str) -> str:
    """The Feast-style type name that fits a DuckDB column type, for an error message."""
    if actual.startswith(("TIMESTAMP", "DATE")):
        return "UnixTimestamp"
    return _FEAST_NAMES.get(actual, "")


def check_source(
    con: duckdb.DuckDBPyConnection, view: FeatureView, repo: Path, *, applying: bool = False
) -> dict[str, str]:
    """The source exists and its columns have the declared types (join keys: their entity's);
    returns every column's DuckDB type.

    ``applying``: the view is being applied, so a mismatch is a wrong declaration, not a source
    that changed since apply; the message says which."""
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source_sql(view, repo)}").fetchall()
    except duckdb.Error as error:
        raise ValidationError(
            f"source of feature view {view.name!r} ({view.source.path}) cannot be read: {str(error).splitlines()[0]}"
        ) from error
    types = {row[0]: str(row[1]).upper() for row in described}
    check_columns(view, types, applying=applying)
    return types


def check_columns(view: FeatureView, types: dict[str, str], *, applying: bool = False) -> None:
    """``check_source`` for a source whose column types are known (as DuckDB names them), so
    every engine checks a source by the same rules and says so in the same words."""
    needed = [
        *view.join_keys,
        view.source.timestamp_field,
        *([view.source.created_timestamp_column] if view.source.created_timestamp_column else []),
    ]
    for column in needed:
        if column not in types:
            raise ValidationError(
                f"source of feature view {view.name!r} has no column {column!r}; it has {sorted(types)}"
            )
    changed = "" if applying else " now (the source or the definition changed since apply)"
    for entity in view.entities:
        allowed = {"VARCHAR"} if entity.dtype is DType.STRING else _INTEGERS
        for key in entity.join_keys:
            actual = types[key].split("(")[0]
            if actual not in allowed:
                fits = "String" if actual == "VARCHAR" else "Int64" if actual in _INTEGERS else ""
                fix = (
                    f"declare Entity(name={entity.name!r}, ..., dtype={fits})"
                    if fits
                    else "join keys are integers or strings: cast the column in the source"
                )
                raise ValidationError(
                    f"join key {key!r} of feature view {view.name!r} is {actual} in the source, but entity "
                    f"{entity.name!r} declares {entity.dtype.value} keys{changed}: {fix}"
                )
    for f in view.schema:
        if f.name not in types:
            raise ValidationError(
                f"source of feature view {view.name!r} has no column {f.name!r} for feature {f.name!r}; it has {sorted(types)}"
            )
        actual = types[f.name].split("(")[0]
        if actual not in _DUCK_TYPES[f.dtype]:
            if applying:
                fits = _matching(actual)
                fix = f"declare Field(name={f.name!r}, dtype={fits})" if fits else "change the Field's dtype"
                raise ValidationError(
                    f"source column {f.name!r} of feature view {view.name!r} is {actual}, but the view "
                    f"declares {f.dtype.value}: {fix}, or cast the column in the source"
                )
            raise ValidationError(
                f"source column {f.name!r} of feature view {view.name!r} is {actual} now, but the view declares "
                f"{f.dtype.value}; the source changed type since apply — update the Field or fix the data"
            )


def _entity_frame(entity_df: pd.DataFrame, timestamp: str, keys: Sequence[str]) -> pd.DataFrame:
    if not isinstance(entity_df, pd.DataFrame):
        raise ValidationError(
            f"entity_df must be a pandas DataFrame, got {type(entity_df).__name__}"
        )
    missing = [k for k in [*keys, timestamp] if k not in entity_df.columns]
    if missing:
        raise ValidationError(
            f"entity_df lacks column{'s' if len(missing) > 1 else ''} {missing}: it needs the join keys {list(keys)} "
            f"and the timestamp column {timestamp!r}; it has {list(entity_df.columns)}"
        )
    column = entity_df[timestamp]
    if pd.api.types.is_datetime64_any_dtype(column):
        ts = (
            column.dt.tz_convert("UTC")
            if column.dt.tz is not None
            else column.dt.tz_localize("UTC")
        )
    else:
        values = [v for v in column if v is not None and not (isinstance(v, float) and pd.isna(v))]
        aware = {getattr(pd.Timestamp(v), "tzinfo", None) is not None for v in values}
        if len(aware) > 1:
            raise ValidationError(
                f"entity_df column {timestamp!r} mixes timezone-aware and naive timestamps; make them all "
                "aware (e.g. UTC) or all naive (read as UTC)"
            )
        try:
            ts = pd.to_datetime(column, utc=True)
        except (ValueError, TypeError) as error:
            raise ValidationError(
                f"entity_df column {timestamp!r} does not hold timestamps: {error}"
            ) from error
    out = entity_df.copy(deep=False)  # the caller's frame is never written; its columns are shared
    out[timestamp] = ts
    return out


def prepare_entities(
    entity_df: pd.DataFrame,
    requests: Sequence[tuple[FeatureView, Sequence[str]]],
    timestamp: str,
) -> pd.DataFrame:
    """The entity frame checked (join keys, timestamps read as UTC) and numbered in ``ROW``."""
    keys = list(dict.fromkeys(k for view, _ in requests for k in view.join_keys))
    entities = _entity_frame(entity_df, timestamp, keys)
    if ROW in entities.columns:
        raise ValidationError(f"entity_df has a column named {ROW!r}, which is reserved; rename it")
    entities[ROW] = np.arange(len(entities), dtype=np.int64)
    return entities


ROW = "__row"  # the entity frame's row number, carried through the query to restore its order
# (event time, created) packed into one HUGEINT, event time in the high 64 bits; epoch_us(created)
# is moved into [0, 2**64) so that a NULL created time (0) ranks lowest
_SHIFT = 18446744073709551616  # 2**64
_LOW = 9223372036854775808  # 2**63


def hit_column(view: str) -> str:
    """The hidden column saying whether a view found a source row for an entity row."""
    return f"__hit__{view}"


@dataclass
class RetrievalQuery:
    """``sql`` returns the entity rows (in no particular order) with their features, ``ROW``
    and the ``hidden`` hit columns (when asked for); ``ordered_sql`` sorts by ``ROW`` and drops
    it (for streaming to a file), and drops ``hidden`` unless told to keep them."""

    sql: str
    con: duckdb.DuckDBPyConnection
    columns: list[str]
    hidden: list[str] = field(default_factory=list)

    def ordered(self, keep_hidden: bool = False) -> str:
        drop = ", ".join([ROW, *([] if keep_hidden else [_q(h) for h in self.hidden])])
        return f"SELECT * EXCLUDE ({drop}) FROM ({self.sql}) ORDER BY {ROW}"

    @property
    def ordered_sql(self) -> str:
        return self.ordered()

    def arrow(self, keep_hidden: bool = False) -> Any:
        """The result as an Arrow table in the entity frame's order: the rows are put back by
        their row number (a permutation, inverted in O(n)) rather than by sorting in SQL."""
        return in_entity_order(arrow_table(self.con, self.sql), self.hidden, keep_hidden)


def in_entity_order(table: Any, hidden: Sequence[str], keep_hidden: bool = False) -> Any:
    """An Arrow result put back in the entity frame's order by its ``ROW`` numbers (each row
    moved to its number, not sorted), without ``ROW`` and, unless kept, the ``hidden``
    columns."""
    from modelyard.features._entity_order import by_row_numbers

    position = table.column(ROW).to_numpy()
    return by_row_numbers(table.drop_columns([ROW, *([] if keep_hidden else hidden)]), position)


class OfflineQuery(Protocol):
    """What a training set is computed from, whatever the engine: the rows as Arrow, the
    hidden hit columns, and a DuckDB connection the expectations are checked on."""

    hidden: list[str]

    @property
    def con(self) -> duckdb.DuckDBPyConnection: ...

    def arrow(self, keep_hidden: bool = False) -> Any: ...


# A range join enumerates, per join key, every (entity row, source row) pair before the TTL
# filter; past this many source rows per entity row (estimated) the ASOF join is used instead.
MAX_PAIRS_PER_ROW = 64


def _dense(
    con: duckdb.DuckDBPyConnection, view: FeatureView, repo: Path, entities: pd.DataFrame
) -> bool:
    """Whether a range join could blow up: few join keys (say a country) with long histories.

    Estimated from the source's row count (Parquet metadata, no scan) over the number of
    distinct join keys in the entity frame; a CSV source is counted only when it is small.
    """
    if getattr(view.source, "file_format", "") == "csv" or not len(entities):
        return False
    rows = con.execute(f"SELECT count(*) FROM {source_sql(view, repo)}").fetchall()[0][0]
    return too_many_pairs(int(rows), view, entities)


def too_many_pairs(rows: int, view: FeatureView, entities: pd.DataFrame) -> bool:
    """Whether ``rows`` source rows over the entity frame's distinct join keys exceed
    ``MAX_PAIRS_PER_ROW`` (the rule every engine uses to leave the range join)."""
    columns = list(view.join_keys)

    def distinct(frame: pd.DataFrame) -> int:
        return max(1, len(frame[columns].drop_duplicates()))

    limit = MAX_PAIRS_PER_ROW
    # A prefix with enough distinct keys settles it (the whole frame has at least as many),
    # so a large frame of varied keys is not hashed whole; only too few keys need them all.
    prefix = 2 * (rows // limit + 1) if limit > 0 else 0
    if 0 < prefix < len(entities) and rows <= limit * distinct(entities.iloc[:prefix]):
        return False
    return rows > limit * distinct(entities)


def _rank(view: FeatureView, event: str, event_us: str, alias: str = "f") -> str:
    """An expression ordering a source row by event time (``event``, or ``event_us`` its epoch
    microseconds), then (re-writes) by created time."""
    created = view.source.created_timestamp_column
    if not created:
        return event
    return (
        f"{event_us}::HUGEINT * {_SHIFT} + "
        f"coalesce(epoch_us({alias}.{_q(created)}::TIMESTAMPTZ)::HUGEINT + {_LOW}, 0)"
    )


RID = "file_row_number"  # a row's number in its Parquet file (read_parquet's option of that name)


def row_addressed(view: FeatureView, repo: Path, types: dict[str, str]) -> str | None:
    """The scan of ``view``'s source that numbers its rows, when a row can be fetched again by
    its number: a single Parquet file (in a folder or glob, numbers repeat across files; CSV
    and query sources have none). ``None`` otherwise."""
    source = view.source
    if not isinstance(source, FileSource) or source.file_format != "parquet" or RID in types:
        return None
    path = source.resolved(repo)
    if Path(path).is_dir() or any(c in path for c in "*?[{"):
        return None
    return f"read_parquet({_lit(path)}, {RID} = true)"


def build_query(
    con: duckdb.DuckDBPyConnection,
    entity_df: pd.DataFrame,
    requests: Sequence[tuple[FeatureView, Sequence[str]]],
    repo: Path,
    *,
    full_feature_names: bool,
    timestamp: str = ENTITY_TS,
    hits: Sequence[str] = (),
) -> RetrievalQuery:
    """One statement; per feature view, the latest source row at or before each entity row's
    time (ties in event time: the latest created), null when older than the TTL.

    A view with a TTL range-joins the distinct (keys, time) of the entity rows to the source
    rows within [time - TTL, time] and keeps the latest candidate per entity with one
    ``arg_max`` aggregate, so only the candidates are ranked, never the whole source. A view
    without a TTL, or whose keys have long histories (``_dense``), uses an ASOF join on a key
    that packs (event time, created time), so re-written rows need no separate
    de-duplication either. Both run out of core.

    A Float32 feature is read as FLOAT whatever the source column is (so a DOUBLE source gives
    what materialization serves). For each view named in ``hits``, a hidden column
    (``hit_column``) says whether the entity row found a source row within the TTL.
    """
    entities = prepare_entities(entity_df, requests, timestamp)
    con.register("__entities", entities)
    ts = _q(timestamp)
    selects = [f"e.{_q(c)}" for c in entities.columns]
    ctes = []
    joins = []
    hidden: list[str] = []
    for i, (view, features) in enumerate(requests):
        types = check_source(con, view, repo)
        src = view.source
        jk = [_q(k) for k in view.join_keys]
        created = [_q(src.created_timestamp_column)] if src.created_timestamp_column else []
        dtypes = {f.name: f.dtype for f in view.schema}
        feature_cols = [
            f"TRY_CAST({_q(f)} AS FLOAT) AS {_q(f)}" if dtypes[f] is DType.FLOAT32 else _q(f)
            for f in features
        ]
        on = " AND ".join(f"e.{k} = v{i}.{k}" for k in jk)
        if view.ttl is not None and not _dense(con, view, repo, entities):
            # candidates compared as epoch microseconds, the window's bounds computed once per
            # distinct entity (not per candidate pair)
            ttl_us = int(view.ttl.total_seconds()) * 1_000_000
            group = ", ".join([*(f"k.{k}" for k in jk), f"k.{ts}"])
            match = " AND ".join(f"k.{k} = f.{k}" for k in jk)
            bounds = (
                f"(SELECT *, epoch_us({ts}) AS __hi, epoch_us({ts}) - {ttl_us} AS __lo "
                f"FROM (SELECT DISTINCT {', '.join([*jk, ts])} FROM __entities)) k"
            )
            stamp = f"epoch_us({_q(src.timestamp_field)}::TIMESTAMPTZ) AS __t"
            addressed = row_addressed(view, repo, types)
            if addressed is not None:
                # late materialization: the winners are found on keys and times only (their row
                # numbers), then only the winners' feature columns are read
                scan = f"SELECT {', '.join([*jk, stamp, *created, f'{RID} AS __rid'])} FROM {addressed}"
                winner = "f.__rid"
                ctes.append(
                    f"x{i} AS (SELECT {RID} AS __rid, {', '.join(feature_cols)} FROM {addressed})"
                )
                fetch = f" LEFT JOIN x{i} ON v{i}.__v = x{i}.__rid"
                values = {f: f"x{i}.{_q(f)}" for f in features}
            else:
                scan = f"SELECT {', '.join([*jk, stamp, *created, *feature_cols])} FROM {source_sql(view, repo)}"
                winner = "struct_pack(" + ", ".join(f"{_q(f)} := f.{_q(f)}" for f in features) + ")"
                fetch = ""
                values = {f: f"struct_extract(v{i}.__v, {_lit(f)})" for f in features}
            ctes.append(
                f"v{i} AS (SELECT {group}, arg_max({winner}, {_rank(view, 'f.__t', 'f.__t')}) AS __v "
                f"FROM {bounds} JOIN ({scan}) f "
                f"ON {match} AND f.__t <= k.__hi AND f.__t >= k.__lo GROUP BY {group})"
            )
            joins.append(f"LEFT JOIN v{i} ON {on} AND e.{ts} = v{i}.{ts}{fetch}")
            hit = f"v{i}.__v IS NOT NULL"
        else:
            cols = [*jk, f"{_q(src.timestamp_field)}::TIMESTAMPTZ AS __ts", *created, *feature_cols]
            scan = f"SELECT {', '.join(cols)} FROM {source_sql(view, repo)}"
            rank = _rank(view, "f.__ts", "epoch_us(f.__ts)")
            ctes.append(f"v{i} AS (SELECT *, {rank} AS __rank FROM ({scan}) f)")
            entity_rank = (
                f"epoch_us(e.{ts})::HUGEINT * {_SHIFT} + {_SHIFT - 1}"
                if src.created_timestamp_column
                else f"e.{ts}"
            )
            joins.append(f"ASOF LEFT JOIN v{i} ON {on} AND {entity_rank} >= v{i}.__rank")
            values = {f: f"v{i}.{_q(f)}" for f in features}
            hit = f"v{i}.__ts IS NOT NULL"
            if view.ttl is not None:
                fresh = f"e.{ts} - v{i}.__ts <= INTERVAL {int(view.ttl.total_seconds())} SECOND"
                values = {f: f"CASE WHEN {fresh} THEN v{i}.{_q(f)} END" for f in features}
                hit = f"coalesce({fresh}, false)"
        for f in features:
            alias = f"{view.name}__{f}" if full_feature_names else f
            selects.append(f"{values[f]} AS {_q(alias)}")
        if view.name in hits:
            hidden.append(hit_column(view.name))
            selects.append(f"{hit} AS {_q(hidden[-1])}")
    selects.append(selects.pop(len(entities.columns) - 1))  # the row number goes last
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(selects)} FROM __entities e {' '.join(joins)}"
    columns = [c for c in entities.columns if c != ROW]
    return RetrievalQuery(sql=sql, con=con, columns=columns, hidden=hidden)


class RetrievalJob:
    """A training set, computed when asked for: ``to_df()``, ``to_arrow()``,
    ``to_parquet(path)`` or ``to_spark_df()``, whichever engine computes it."""

    def __init__(
        self, query: OfflineQuery, on_result: Any = None, check: Any = None, post: Any = None
    ) -> None:
        self._query = query
        self._on_result = on_result
        self._check = check
        self._post = post  # on-demand transforms, applied to the DataFrame

    def to_df(self) -> pd.DataFrame:
        table = self._query.arrow(keep_hidden=self._check is not None)
        if self._check is not None:
            self._query.con.register("__result", table)
            self._check(self._query.con, "__result")
            table = table.drop_columns(self._query.hidden)
        frame = table.to_pandas()
        if self._post is not None:
            frame = self._post(frame)
        if self._on_result is not None:
            self._on_result(frame)
        return frame

    def to_arrow(self) -> Any:
        if self._post is not None:
            import pyarrow as pa

            return pa.Table.from_pandas(self.to_df(), preserve_index=False)
        return self._query.arrow()

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Stream the result to a Parquet file (written to a temporary name, then renamed)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        if self._post is not None or not isinstance(self._query, RetrievalQuery):
            # on-demand transforms, or another engine's rows: through the checked DataFrame
            self.to_df().to_parquet(tmp, index=False)
            os.replace(tmp, target)
            return target
        hidden = self._query.hidden if self._check is not None else []
        self._query.con.execute(
            f"COPY ({self._query.ordered(keep_hidden=bool(hidden))}) TO {_lit(str(tmp))} (FORMAT PARQUET)"
        )
        try:
            if self._check is not None:
                self._check(self._query.con, f"read_parquet({_lit(str(tmp))})")
            if hidden:  # the hit columns served the check; the file is written without them
                final = target.with_name(f".{target.name}.final.tmp")
                drop = ", ".join(_q(h) for h in hidden)
                self._query.con.execute(
                    f"COPY (SELECT * EXCLUDE ({drop}) FROM read_parquet({_lit(str(tmp))})) "
                    f"TO {_lit(str(final))} (FORMAT PARQUET)"
                )
                os.replace(final, tmp)
            os.replace(tmp, target)
        finally:
            for leftover in (tmp, target.with_name(f".{target.name}.final.tmp")):
                leftover.unlink(missing_ok=True)
        return target

    def to_spark_df(self, spark: Any = None) -> Any:
        """The training set as a Spark DataFrame, in the entity frame's order.

        On the Spark engine it is the query's own DataFrame, lazy: nothing is collected to
        the driver (unless expectations or on-demand transforms need the rows, which run as
        in ``to_df()``). On DuckDB the rows are computed here and handed to ``spark`` (by
        default the active session, or a new local one) through Arrow."""
        native = getattr(self._query, "spark_df", None)
        if native is not None and self._check is None and self._post is None:
            return native()
        sql = require("pyspark.sql", "to_spark_df()")
        session = spark or getattr(self._query, "spark", None) or sql.SparkSession.builder.getOrCreate()
        frame = self.to_df()
        with pandas_bridge():
            return session.createDataFrame(frame)
