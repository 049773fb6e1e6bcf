"""modelyard side of the feature-store benchmark.

    python workload_modelyard.py WORKLOAD --data DATA_DIR --store STORE_DIR [...]  -> one JSON line

WORKLOAD: join | materialize | online | setup_serve.
Run with the project's interpreter; MODELYARD_HOME is set by run.py to STORE_DIR/home.
Kept parallel with workload_feast.py: same data (from _common.py), same definitions
(one entity, one 10-feature view, TTL 7 days, created-time tie break), only the calls differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

_t_import = time.perf_counter()
import modelyard  # noqa: E402
from modelyard.features import FeatureStore  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import
TOOL = "modelyard"


def write_repo(store: str, data: str) -> str:
    repo = os.path.join(store, "repo")
    os.makedirs(repo, exist_ok=True)
    path = C.data_paths(data)["features"]
    fields = ", ".join(f'Field(name="{f}", dtype=Float64)' for f in C.FEATURES)
    with open(os.path.join(repo, "definitions.py"), "w") as f:
        f.write(textwrap.dedent(f"""\
            from datetime import timedelta

            from modelyard.features import Entity, FeatureView, Field, FileSource, Float64

            {C.ENTITY} = Entity(name="{C.ENTITY}", join_keys=["{C.JOIN_KEY}"])

            {C.VIEW} = FeatureView(
                name="{C.VIEW}",
                entities=[{C.ENTITY}],
                ttl=timedelta(days={C.TTL_DAYS}),
                schema=[{fields}],
                source=FileSource(path={path!r}, timestamp_field="{C.TS}",
                                  created_timestamp_column="{C.CREATED}"),
            )
            """))
    return repo


def online_path(store: str) -> str:
    return os.path.join(store, "home", "online.db")


def open_store(store: str) -> FeatureStore:
    return FeatureStore(repo_path=os.path.join(store, "repo"), online_store=online_path(store))


def base(workload: str, **kw) -> dict:
    return {"tool": TOOL, "workload": workload, "tool_version": modelyard.__version__,
            "import_s": round(IMPORT_S, 3), **kw}


def join(args) -> dict:
    write_repo(args.store, args.data)
    t0 = time.perf_counter()
    fs = open_store(args.store)
    fs.apply()
    setup_s = time.perf_counter() - t0
    entities = C.load_entities(args.data)
    t0 = time.perf_counter()
    table = fs.get_historical_features(entities, C.FEATURE_REFS).to_arrow()
    wall = time.perf_counter() - t0
    rss = C.peak_rss_mib()
    if args.result:
        C.write_result(table.to_pandas(), args.result)
    return base("join", variant="default", setup_s=round(setup_s, 3), join_s=round(wall, 3),
                peak_rss_mib=rss, rows_out=table.num_rows, entity_rows=len(entities))


def materialize(args) -> dict:
    meta = C.read_meta(args.data)
    write_repo(args.store, args.data)
    t0 = time.perf_counter()
    fs = open_store(args.store)
    fs.apply()
    setup_s = time.perf_counter() - t0
    start, end = C.materialize_window(datetime.fromisoformat(meta["anchor"]))
    t0 = time.perf_counter()
    counts = fs.materialize(start, end, progress=False)
    wall = time.perf_counter() - t0
    written = int(counts[C.VIEW])
    rss = C.peak_rss_mib()
    # the same window again, into the store the first run filled (modelyard only): a new
    # generation, merged with the current one and switched in (what a daily re-run costs)
    t0 = time.perf_counter()
    fs.materialize(start, end, progress=False)
    again = time.perf_counter() - t0
    return base("materialize", variant="sqlite", setup_s=round(setup_s, 3),
                materialize_s=round(wall, 3), entities_written=written,
                source_rows=meta["rows"], entities_per_s=round(written / wall, 1),
                rows_per_s=round(meta["rows"] / wall, 1), peak_rss_mib=rss,
                rematerialize_s=round(again, 3),
                online_db_mib=round(os.path.getsize(online_path(args.store)) / 2**20, 1))


def online(args) -> dict:
    with open(C.data_paths(args.data)["online_expect"]) as f:
        expect = json.load(f)
    t0 = time.perf_counter()
    fs = open_store(args.store)
    ids = C.lookup_ids(args.warmup + args.n, 7, expect)
    refs = C.FEATURE_REFS
    for i in ids[: args.warmup]:
        fs.get_online_features(refs, [{C.JOIN_KEY: i}]).to_dict()
    first_s = time.perf_counter() - t0
    lat = []
    for i in ids[args.warmup :]:
        t = time.perf_counter()
        fs.get_online_features(refs, [{C.JOIN_KEY: i}]).to_dict()
        lat.append(time.perf_counter() - t)
    # correctness on the expected sample
    # fresh: latest row within the TTL of now -> must equal it; stale: either that value
    # (no online TTL check) or all-null (TTL enforced online) is accepted, and counted
    mismatch, nulls, checked, stale_null, stale_value = 0, 0, 0, 0, 0
    for key, exp in expect["sample"].items():
        got = fs.get_online_features(refs, [{C.JOIN_KEY: int(key)}]).to_dict()
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
    """Print the command line and environment that serve the materialized store over HTTP."""
    exe = os.path.join(os.path.dirname(sys.executable), "modelyard")
    return base("serve_cmd", cmd=[exe, "features", "serve", "--repo", os.path.join(args.store, "repo"),
                                  "--host", "127.0.0.1", "--port", str(args.port),
                                  "--online-store", online_path(args.store)],
                env={"MODELYARD_HOME": os.path.join(args.store, "home")})


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["join", "materialize", "online", "serve_cmd"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--result", default=None)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--port", type=int, default=6566)
    a = ap.parse_args()
    C.emit({"join": join, "materialize": materialize, "online": online,
            "serve_cmd": serve_cmd}[a.workload](a))
