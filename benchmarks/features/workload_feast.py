"""Feast side of the feature-store benchmark.

    python workload_feast.py WORKLOAD --data DATA_DIR --store STORE_DIR [--offline file|duckdb]

WORKLOAD: join | materialize | online | serve_cmd.
Run with the Feast venv's interpreter (benchmarks/.venvs/feast, created by run.py).
Kept parallel with workload_modelyard.py: same data, same definitions (one entity, one
10-feature view, TTL 7 days, created-time tie break), only the calls differ.
Online store: Feast's SQLite online store; offline store: `file` (default) or `duckdb`.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
import warnings
from datetime import datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

warnings.filterwarnings("ignore")
_t_import = time.perf_counter()
import feast  # noqa: E402
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType  # noqa: E402
from feast.types import Float64  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import
TOOL = "feast"
PROJECT = "bench"


def write_repo(store: str, offline: str) -> str:
    repo = os.path.join(store, "repo")
    os.makedirs(repo, exist_ok=True)
    with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
        f.write(
            f"project: {PROJECT}\n"
            f"registry: {os.path.join(store, 'registry.db')}\n"
            "provider: local\n"
            "online_store:\n"
            "  type: sqlite\n"
            f"  path: {online_path(store)}\n"
            "offline_store:\n"
            f"  type: {offline}\n"
            "entity_key_serialization_version: 3\n"
        )
    return repo


def online_path(store: str) -> str:
    return os.path.join(store, "online_store.db")


def definitions(data: str) -> list:
    driver = Entity(name=C.ENTITY, join_keys=[C.JOIN_KEY], value_type=ValueType.INT64)
    source = FileSource(
        name="driver_stats_source",
        path=C.data_paths(data)["features"],
        timestamp_field=C.TS,
        created_timestamp_column=C.CREATED,
    )
    view = FeatureView(
        name=C.VIEW,
        entities=[driver],
        ttl=timedelta(days=C.TTL_DAYS),
        schema=[Field(name=f, dtype=Float64) for f in C.FEATURES],
        source=source,
        online=True,
    )
    return [driver, view]


def setup(args) -> tuple[FeatureStore, float]:
    repo = write_repo(args.store, args.offline)
    t0 = time.perf_counter()
    fs = FeatureStore(repo_path=repo)
    fs.apply(definitions(args.data))
    return fs, time.perf_counter() - t0


def base(workload: str, **kw) -> dict:
    return {"tool": TOOL, "workload": workload, "tool_version": feast.__version__,
            "import_s": round(IMPORT_S, 3), **kw}


def join(args) -> dict:
    fs, setup_s = setup(args)
    entities = C.load_entities(args.data)
    t0 = time.perf_counter()
    table = fs.get_historical_features(entity_df=entities, features=C.FEATURE_REFS).to_arrow()
    wall = time.perf_counter() - t0
    rss = C.peak_rss_mib()
    if args.result:
        C.write_result(table.to_pandas(), args.result)
    return base("join", variant=args.offline, setup_s=round(setup_s, 3), join_s=round(wall, 3),
                peak_rss_mib=rss, rows_out=table.num_rows, entity_rows=len(entities))


def materialize(args) -> dict:
    meta = C.read_meta(args.data)
    fs, setup_s = setup(args)
    start, end = C.materialize_window(datetime.fromisoformat(meta["anchor"]))
    t0 = time.perf_counter()
    fs.materialize(start_date=start, end_date=end)
    wall = time.perf_counter() - t0
    with sqlite3.connect(online_path(args.store)) as con:
        written = con.execute(f"SELECT count(DISTINCT entity_key) FROM {PROJECT}_{C.VIEW}").fetchone()[0]
    return base("materialize", variant="sqlite", offline=args.offline, setup_s=round(setup_s, 3),
                materialize_s=round(wall, 3), entities_written=int(written),
                source_rows=meta["rows"], entities_per_s=round(written / wall, 1),
                rows_per_s=round(meta["rows"] / wall, 1), peak_rss_mib=C.peak_rss_mib(),
                online_db_mib=round(os.path.getsize(online_path(args.store)) / 2**20, 1))


def open_store(store: str) -> FeatureStore:
    return FeatureStore(repo_path=os.path.join(store, "repo"))


def online(args) -> dict:
    with open(C.data_paths(args.data)["online_expect"]) as f:
        expect = json.load(f)
    t0 = time.perf_counter()
    fs = open_store(args.store)
    ids = C.lookup_ids(args.warmup + args.n, 7, expect)
    refs = C.FEATURE_REFS
    for i in ids[: args.warmup]:
        fs.get_online_features(features=refs, entity_rows=[{C.JOIN_KEY: i}]).to_dict()
    first_s = time.perf_counter() - t0
    lat = []
    for i in ids[args.warmup :]:
        t = time.perf_counter()
        fs.get_online_features(features=refs, entity_rows=[{C.JOIN_KEY: i}]).to_dict()
        lat.append(time.perf_counter() - t)
    # fresh: latest row within the TTL of now -> must equal it; stale: either that value
    # (no online TTL check) or all-null (TTL enforced online) is accepted, and counted
    mismatch, nulls, checked, stale_null, stale_value = 0, 0, 0, 0, 0
    for key, exp in expect["sample"].items():
        got = fs.get_online_features(features=refs, entity_rows=[{C.JOIN_KEY: int(key)}]).to_dict()
        vals = [got[f][0] for f in C.FEATURES]
        checked += 1
        right = all(v is not None and abs(v - e) <= 1e-9
                    for v, e in zip(vals, exp["values"], strict=True))
        empty = all(v is None for v in vals)
        nulls += empty
        if exp["fresh"]:
            mismatch += not right
        else:
            stale_null += empty
            stale_value += right
            mismatch += not (right or empty)
    lat.sort()
    return base("online", variant="sqlite", n=len(lat), warmup=args.warmup,
                open_and_warmup_s=round(first_s, 3),
                p50_us=round(C.percentile(lat, 50) * 1e6, 1),
                p99_us=round(C.percentile(lat, 99) * 1e6, 1),
                mean_us=round(sum(lat) / len(lat) * 1e6, 1),
                lookups_per_s=round(len(lat) / sum(lat), 1),
                check_entities=checked, check_mismatch=mismatch, check_all_null=nulls,
                check_stale_returned_null=stale_null, check_stale_returned_value=stale_value,
                check_stale_expected=sum(1 for e in expect["sample"].values() if not e["fresh"]),
                peak_rss_mib=C.peak_rss_mib())


def serve_cmd(args) -> dict:
    """The command line that serves the materialized store over HTTP (best Feast settings:
    no access log, no periodic worker restarts)."""
    exe = os.path.join(os.path.dirname(sys.executable), "feast")
    return base("serve_cmd", cmd=[exe, "-c", os.path.join(args.store, "repo"), "serve",
                                  "-h", "127.0.0.1", "-p", str(args.port), "--no-access-log",
                                  "--max-requests", "0", "-w", "1"], env={})


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["join", "materialize", "online", "serve_cmd"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--offline", default="file", choices=["file", "duckdb"])
    ap.add_argument("--result", default=None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--port", type=int, default=6567)
    a = ap.parse_args()
    C.emit({"join": join, "materialize": materialize, "online": online,
            "serve_cmd": serve_cmd}[a.workload](a))
