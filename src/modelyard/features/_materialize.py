"""Materialization: each entity's latest feature values in an event-time window, from a
view's source (read by DuckDB) into an online store, as one atomic write per view.

The latest row per entity is one ``arg_max`` hash aggregate (by event time, then by created
time for re-writes, NULL lowest); rows whose join key is null are skipped (no lookup can
name them). When the view has no datetime feature DuckDB also writes the JSON payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
from rich.progress import Progress

from modelyard.core.signature import DType
from modelyard.features import _quality as quality
from modelyard.features._definitions import FeatureView, Field
from modelyard.features._offline import (
    RID,
    arrow_batches,
    check_source,
    row_addressed,
    source_sql,
)
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


def _key_order(keys: Sequence[str], types: dict[str, str]) -> str:
    """The online key text of the join keys as SQL (what ``encode_batch`` builds: ``i4:1001``
    for the integer 1001, ``s2:ab`` for the string ab): ordering the rows by it makes the
    online store's B-tree (ordered the same way) grow by appending, batch after batch, instead
    of splitting pages all over it."""
    parts = []
    for key in keys:
        text = f"{_q(key)}::VARCHAR"
        tag = "s" if types.get(key, "").startswith("VARCHAR") else "i"
        parts.append(f"'{tag}' || strlen({text}) || ':' || {text}")
    return " || ".join(parts)


def _json_value(feature: Field) -> str:
    value = _q(feature.name)
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
    types = check_source(con, view, repo)
    src = view.source
    keys = ", ".join(_q(k) for k in view.join_keys)
    stamp = f"{_q(src.timestamp_field)}::TIMESTAMPTZ"
    rank = stamp
    if src.created_timestamp_column:
        rank = (
            f"epoch_us({stamp})::HUGEINT * 18446744073709551616 + coalesce(epoch_us("
            f"{_q(src.created_timestamp_column)}::TIMESTAMPTZ)::HUGEINT + 9223372036854775808, 0)"
        )
    within = f"{stamp} >= make_timestamptz({start} * 1000) AND {stamp} <= make_timestamptz({end} * 1000)"
    window = f"(SELECT * FROM {source_sql(view, repo)} WHERE {within})"
    present = " AND ".join(f"{_q(k)} IS NOT NULL" for k in view.join_keys)
    values = [f"{_value(f, _q(f.name))} AS {_q(f.name)}" for f in view.schema]
    addressed = row_addressed(view, repo, types)
    if addressed is None:
        packed = ", ".join(
            [f"__ms := epoch_ms({stamp})", *(f"{_q(f.name)} := {_value(f, _q(f.name))}" for f in view.schema)]
        )
        latest = (
            f"SELECT {keys}, __v.* FROM (SELECT {keys}, arg_max(struct_pack({packed}), {rank}) AS __v "
            f"FROM {window} WHERE {present} GROUP BY ALL)"
        )
    else:
        # late materialization: the latest row of each entity is found on keys and times only
        # (its row number), then only those rows' features are read
        winners = (
            f"SELECT {keys}, arg_max({RID}, {rank}) AS __rid FROM (SELECT * FROM {addressed} "
            f"WHERE {within}) WHERE {present} GROUP BY ALL"
        )
        fetch = f"SELECT {RID} AS __rid, epoch_ms({stamp}) AS __ms, {', '.join(values)} FROM {addressed}"
        latest = (
            f"SELECT {', '.join(f'w.{_q(k)}' for k in view.join_keys)}, x.* EXCLUDE (__rid) "
            f"FROM ({winners}) w JOIN ({fetch}) x ON w.__rid = x.__rid"
        )
    order = f" ORDER BY {_key_order(view.join_keys, types)}"
    sql = f"SELECT * FROM ({latest}){order}"
    if all(f.dtype is not DType.DATETIME for f in view.schema):
        # the payloads written by DuckDB: the JSON orjson would write for the same values
        # (floats as doubles in shortest round-trip form, NaN and infinities as null)
        sql = (
            f"SELECT {keys}, __ms, to_json(struct_pack("
            + ", ".join(f"{_q(f.name)} := {_json_value(f)}" for f in view.schema)
            + f"))::BLOB AS {PAYLOAD} FROM ({latest}){order}"
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
