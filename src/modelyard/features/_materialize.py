"""Materialization: each entity's latest feature values in an event-time window, from a
view's source (read by DuckDB) into an online store, as one atomic write per view.

The latest row per entity is one ``arg_max`` hash aggregate (by event time, then by created
time for re-writes, NULL lowest); rows whose join key is null are skipped (no lookup can
name them). When the view has no datetime feature DuckDB also writes the JSON payloads.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from rich.progress import Progress

from modelyard.core.signature import DType
from modelyard.features import _quality as quality
from modelyard.features._definitions import FeatureView, Field
from modelyard.features._offline import arrow_batches, check_source, source_sql
from modelyard.features._online import OnlineStore
from modelyard.features._online_format import PAYLOAD, encode_batch

BATCH = 100_000  # rows per Arrow batch handed to the online store


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value(feature: Field, expression: str) -> str:
    """A feature as stored: a Float32 read as FLOAT whatever the source column is."""
    if feature.dtype is DType.FLOAT32:
        return f"TRY_CAST({expression} AS FLOAT)"
    return expression


def _json_value(feature: Field) -> str:
    quoted = feature.name.replace("'", "''")
    value = f"struct_extract(__v, '{quoted}')"
    if feature.dtype in (DType.FLOAT32, DType.FLOAT64):
        return f"CASE WHEN isfinite({value}::DOUBLE) THEN {value}::DOUBLE END"
    return value


def materialize_view(
    con: duckdb.DuckDBPyConnection,
    online: OnlineStore,
    project: str,
    view: FeatureView,
    repo: Path,
    window_ms: tuple[int, int],
    *,
    progress: bool,
    incremental: bool,
) -> int:
    """Write ``view``'s latest values with event times in ``window_ms`` (inclusive) into
    ``online``; returns the number of entities written. Readers see all of them or none."""
    start, end = window_ms
    check_source(con, view, repo)
    src = view.source
    keys = ", ".join(_q(k) for k in view.join_keys)
    stamp = f"{_q(src.timestamp_field)}::TIMESTAMPTZ"
    rank = stamp
    if src.created_timestamp_column:
        rank = (
            f"epoch_us({stamp})::HUGEINT * 18446744073709551616 + coalesce(epoch_us("
            f"{_q(src.created_timestamp_column)}::TIMESTAMPTZ)::HUGEINT + 9223372036854775808, 0)"
        )
    packed = ", ".join(
        [f"__ms := epoch_ms({stamp})", *(f"{_q(f.name)} := {_value(f, _q(f.name))}" for f in view.schema)]
    )
    window = (
        f"(SELECT * FROM {source_sql(view, repo)} WHERE {stamp} >= make_timestamptz({start} * 1000) "
        f"AND {stamp} <= make_timestamptz({end} * 1000))"
    )
    present = " AND ".join(f"{_q(k)} IS NOT NULL" for k in view.join_keys)
    latest = (
        f"SELECT {keys}, arg_max(struct_pack({packed}), {rank}) AS __v FROM {window} "
        f"WHERE {present} GROUP BY ALL"
    )
    sql = f"SELECT {keys}, __v.* FROM ({latest})"
    if all(f.dtype is not DType.DATETIME for f in view.schema):
        # the payloads written by DuckDB: the JSON orjson would write for the same values
        # (floats as doubles in shortest round-trip form, NaN and infinities as null)
        sql = (
            f"SELECT {keys}, __v.__ms AS __ms, to_json(struct_pack("
            + ", ".join(f"{_q(f.name)} := {_json_value(f)}" for f in view.schema)
            + f"))::BLOB AS {PAYLOAD} FROM ({latest})"
        )
    context = {
        "keys": view.join_keys,
        "timestamp": src.timestamp_field,
        "created": src.created_timestamp_column,
        "now": f"make_timestamptz({end} * 1000)",
    }
    quality.enforce(
        quality.evaluate(con, window, view.expectations, context),
        f"feature view {view.name!r} ({src.path})",
        view.warn_only,
    )
    total = None
    if progress:  # a cheap count (keys only) for the bar; never the whole query twice
        total = int(
            con.execute(
                f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {window} WHERE {present})"
            ).fetchall()[0][0]
        )
    reader = arrow_batches(con, sql, BATCH)
    n_keys = len(view.join_keys)
    names = view.feature_names
    written = 0
    with (
        Progress(transient=True, disable=not progress) as bar,
        online.materialization(project, view.name, incremental=incremental) as write,
    ):
        task = bar.add_task(f"materialize {view.name}", total=total)
        for batch in reader:
            write.write_encoded(encode_batch(batch, n_keys, names))
            written += batch.num_rows
            bar.advance(task, batch.num_rows)
    return written
