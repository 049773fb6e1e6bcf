"""Hand-written DuckDB side of the feature-store benchmark (the reference answer).

    python workload_duckdb.py join --data DATA_DIR --store STORE_DIR [--result OUT.parquet]
                                   [--variant asof_key|range_window|asof_qualify|asof_groupby]

One SQL statement: an ASOF LEFT JOIN per entity row (latest feature row at or before its
time; among rows re-written at the same event time the latest `created`), nulled when older
than the TTL. asof_key (default, fastest found) orders by a composite (event time, created)
key; asof_qualify / asof_groupby de-duplicate first (row_number / arg_max), then ASOF join. The entity frame is the same in-memory pandas DataFrame the other tools
get; the answer is materialized as an Arrow table (as the others' ``to_arrow()``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

_t_import = time.perf_counter()
import duckdb  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import

FEATS = ", ".join(C.FEATURES)


def dedup_sql(path: str, variant: str) -> str:
    if variant == "asof_qualify":
        return (f"SELECT driver_id, event_timestamp, {FEATS} FROM read_parquet('{path}') "
                "QUALIFY row_number() OVER (PARTITION BY driver_id, event_timestamp "
                "ORDER BY created DESC) = 1")
    # asof_groupby: one hash aggregate, arg_max of a struct by `created`
    return (f"SELECT driver_id, event_timestamp, "
            f"arg_max({{{', '.join(f'{f!r}: {f}' for f in C.FEATURES)}}}, created) AS v "
            f"FROM read_parquet('{path}') GROUP BY ALL")


def join_sql(path: str, variant: str) -> str:
    fresh = f"e.event_timestamp - f.event_timestamp <= INTERVAL {C.TTL_DAYS} DAY"
    if variant == "asof_key":
        # No separate de-duplication: one ASOF join on a composite HUGEINT key
        # (event time in the high 64 bits, created time in the low 64 bits), so the latest
        # event time wins and, among rows re-written at that time, the latest created.
        # Exact for created times after 1970 (epoch_us >= 0).
        cols = ", ".join(f"CASE WHEN {fresh} THEN f.{x} END AS {x}" for x in C.FEATURES)
        return (f"WITH f AS (SELECT driver_id, event_timestamp, "
                f"(epoch_us(event_timestamp)::HUGEINT << 64) + epoch_us(created) AS k, {FEATS} "
                f"FROM read_parquet('{path}')) "
                f"SELECT e.driver_id, e.event_timestamp, {cols} FROM "
                "(SELECT *, (epoch_us(event_timestamp)::HUGEINT << 64) + 9223372036854775807 AS k "
                "FROM entities) e "
                "ASOF LEFT JOIN f ON e.driver_id = f.driver_id AND e.k >= f.k")
    if variant == "range_window":
        # Range join (driver equal, feature time in [entity time - TTL, entity time]), keep the
        # latest (event time, created) candidate per entity (driver, time) with one aggregate,
        # and join that back onto the entity rows (duplicate entity rows get the same answer).
        latest = ", ".join(f"{x}: f.{x}" for x in C.FEATURES)
        cols = ", ".join(f"m.v.{x} AS {x}" for x in C.FEATURES)
        return (f"WITH m AS (SELECT e.driver_id, e.event_timestamp, "
                f"arg_max({{{latest}}}, (f.event_timestamp, f.created)) AS v "
                "FROM (SELECT DISTINCT driver_id, event_timestamp FROM entities) e "
                f"JOIN read_parquet('{path}') f ON e.driver_id = f.driver_id "
                "AND f.event_timestamp <= e.event_timestamp "
                f"AND f.event_timestamp >= e.event_timestamp - INTERVAL {C.TTL_DAYS} DAY "
                "GROUP BY ALL) "
                f"SELECT e.driver_id, e.event_timestamp, {cols} FROM entities e "
                "LEFT JOIN m ON e.driver_id = m.driver_id AND e.event_timestamp = m.event_timestamp")
    if variant == "asof_qualify":
        cols = ", ".join(f"CASE WHEN {fresh} THEN f.{x} END AS {x}" for x in C.FEATURES)
    else:
        cols = ", ".join(f"CASE WHEN {fresh} THEN f.v.{x} END AS {x}" for x in C.FEATURES)
    return (f"WITH f AS ({dedup_sql(path, variant)}) "
            f"SELECT e.driver_id, e.event_timestamp, {cols} FROM entities e "
            "ASOF LEFT JOIN f ON e.driver_id = f.driver_id AND e.event_timestamp >= f.event_timestamp")


def join(args) -> dict:
    paths = C.data_paths(args.data)
    entities = C.load_entities(args.data)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {os.cpu_count() or 2}")
    con.register("entities", entities)
    sql = join_sql(paths["features"], args.variant)
    t0 = time.perf_counter()
    rel = con.sql(sql)
    table = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
    wall = time.perf_counter() - t0
    rss = C.peak_rss_mib()
    if args.result:
        C.write_result(table.to_pandas(), args.result)
    return {"tool": "duckdb_sql", "workload": "join", "variant": args.variant,
            "tool_version": duckdb.__version__, "import_s": round(IMPORT_S, 3),
            "join_s": round(wall, 3), "peak_rss_mib": rss, "rows_out": table.num_rows,
            "entity_rows": len(entities), "sql": sql}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["join"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--result", default=None)
    ap.add_argument("--variant", default="asof_key",
                    choices=["asof_key", "range_window", "asof_qualify", "asof_groupby"])
    a = ap.parse_args()
    C.emit(join(a))
