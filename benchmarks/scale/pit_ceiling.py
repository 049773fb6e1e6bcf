"""The point-in-time join's ceiling on one node: DuckDB (memory_limit, spilling) vs Spark local[2].

    python benchmarks/scale/pit_ceiling.py --size 1m [--size 10m] [--size 100m]
        [--engine duckdb --engine spark] [--spark-timeout-min 25] [--work /tmp/modelyard-ceiling]

Sizes are entity rows, with ten times fewer feature rows: 1m = 1M entity rows and 100k feature
rows, 10m = 10M and 1M, 100m = 100M and 10M. The feature table and definitions are the
feature-store benchmark's (benchmarks/features/_common.py: one 10-feature view, TTL 7 days,
~1% re-writes broken by created time; ~10 rows per driver over 60 days). The entity rows are
written here in chunks of 5M (bounded memory at any size): ~2% at the exact (driver, time) of
a re-written row, ~3% of drivers with no features, the rest uniform over the span.

Each engine runs in its own process: ``FeatureStore.get_historical_features`` builds the
product's statement, and the engine computes the whole training set down to one checksum row
(the training set is never collected into Python, so 100M rows fit). The checksum is the same
SQL on both engines: the count of rows, of rows with features, and the sum over rows of
``sum_i (i+1) * round(f_i * 1e6) * w(driver, time)`` (a null feature counts as -7777777-i), as
DECIMAL(38,0); any difference in a value, a null or the row a value lands on changes it.

Peak memory: the child process and everything below it (Spark's JVM) sampled every 0.25 s;
DuckDB's spill folder is sampled for its largest size. Spark at a size is stopped after
``--spark-timeout-min`` minutes and recorded as stopped. Results are appended to
benchmarks/results/scale-pit-ceiling.json and printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES_DIR = os.path.join(HERE, "..", "features")
sys.path[:0] = [HERE, FEATURES_DIR]
import _common as C  # noqa: E402
import _measure as M  # noqa: E402

SIZES = {
    "1m": (1_000_000, 100_000),
    "10m": (10_000_000, 1_000_000),
    "100m": (100_000_000, 10_000_000),
}
CHUNK = 5_000_000
ANCHOR = datetime.fromisoformat("2026-11-01T00:00:00+00:00")


# -- data ----------------------------------------------------------------------------------


def generate(data: str, entity_rows: int, feature_rows: int) -> dict[str, Any]:
    """The feature table (the features benchmark's generator), then the entity rows streamed."""
    import duckdb
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    meta = C.generate(data, feature_rows, 1_000, ANCHOR)  # 1,000 entity rows, replaced below
    paths = C.data_paths(data)
    con = duckdb.connect()
    ties = con.execute(
        f"SELECT {C.JOIN_KEY}, epoch_us({C.TS}) // 1000000 FROM read_parquet('{paths['features']}') "
        f"GROUP BY ALL HAVING count(*) > 1"
    ).fetchnumpy()
    tie_d, tie_s = (np.asarray(v, dtype=np.int64) for v in ties.values())
    n_drivers = meta["drivers"]
    anchor_s = int(ANCHOR.timestamp())
    start_s = anchor_s - C.SPAN_DAYS * 86400
    lo = start_s - C.TTL_DAYS * 86400 // 2
    rng = np.random.default_rng(C.SEED + entity_rows)
    tmp = paths["entities"] + ".tmp"
    schema = pa.schema([(C.JOIN_KEY, pa.int64()), (C.TS, pa.timestamp("us", tz="UTC"))])
    with pq.ParquetWriter(tmp, schema) as writer:
        for first in range(0, entity_rows, CHUNK):
            n = min(CHUNK, entity_rows - first)
            n_tie, n_unknown = int(n * 0.02), int(n * 0.03)
            pick = rng.integers(0, tie_d.size, n_tie)
            drivers = rng.integers(0, n_drivers, n, dtype=np.int64) + C.FIRST_DRIVER
            secs = rng.integers(lo, anchor_s, n, dtype=np.int64)
            drivers[:n_tie], secs[:n_tie] = tie_d[pick], tie_s[pick]
            drivers[n_tie : n_tie + n_unknown] = (
                C.FIRST_DRIVER + n_drivers + rng.integers(0, n_drivers, n_unknown)
            )
            order = rng.permutation(n)
            stamps = (secs[order] * 1_000_000).astype("datetime64[us]")
            writer.write_table(
                pa.table(
                    [pa.array(drivers[order]), pa.array(stamps).cast(schema.field(1).type)],
                    schema=schema,
                ),
                row_group_size=1_000_000,
            )
    os.replace(tmp, paths["entities"])
    meta.pop("entity_rows_tie_at_rewrite", None)
    meta.update(
        entity_rows=entity_rows,
        entity_rows_tie_at_rewrite_approx=int(entity_rows * 0.02),
        entity_rows_unknown_driver_approx=int(entity_rows * 0.03),
        entities_bytes=os.path.getsize(paths["entities"]),
        generate_s=round(time.perf_counter() - started, 1),
    )
    with open(paths["meta"], "w") as f:
        json.dump(meta, f, indent=1)
    return meta


# -- the checksum, one definition for both engines ----------------------------------------


def checksum_sql(relation: str, micros: str, div: str) -> str:
    """``micros``: the engine's epoch-microseconds function; ``div``: its integer division."""
    weight = (
        f"(({C.JOIN_KEY} % 1009 + 1) * 1000003 + (({micros}({C.TS}) {div} 1000000) % 1013 + 1))"
    )
    terms = " + ".join(
        f"{i + 1} * coalesce(CAST(round({f} * 1000000) AS BIGINT), {-7777777 - i})"
        for i, f in enumerate(C.FEATURES)
    )
    return (
        f"SELECT count(*) AS n, count({C.FEATURES[0]}) AS with_features, "
        f"CAST(sum(CAST(({terms}) * {weight} AS DECIMAL(38,0))) AS STRING) AS checksum "
        f"FROM {relation}"
    )


def checksum_python(table: Any) -> tuple[int, int, str]:
    """The same checksum from a collected Arrow table (to check the SQL at small sizes)."""
    import numpy as np

    frame = table.to_pandas()
    micros = frame[C.TS].astype("datetime64[us, UTC]").astype("int64").to_numpy()
    weight = (frame[C.JOIN_KEY].to_numpy() % 1009 + 1) * 1000003 + ((micros // 1000000) % 1013 + 1)
    row = np.zeros(len(frame), dtype=np.int64)
    for i, f in enumerate(C.FEATURES):
        values = frame[f].to_numpy(dtype="float64", na_value=np.nan)
        rounded = np.where(np.isnan(values), -7777777 - i, np.round(values * 1e6)).astype(np.int64)
        row += (i + 1) * rounded
    total = sum(int(x) * int(w) for x, w in zip(row.tolist(), weight.tolist(), strict=True))
    return len(frame), int(frame[C.FEATURES[0]].notna().sum()), str(total)


# -- one engine, in its own process --------------------------------------------------------


class _DirPeak(threading.Thread):
    """The largest size a folder reached (DuckDB's spill files)."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path, self.peak, self.stop = path, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            size = 0
            for root, _, files in os.walk(self.path):
                for name in files:
                    with contextlib.suppress(OSError):
                        size += os.path.getsize(os.path.join(root, name))
            self.peak = max(self.peak, size)
            self.stop.wait(1.0)


def child(
    engine: str, data: str, store: str, memory_limit: str, driver_memory: str, verify: bool
) -> dict[str, Any]:
    import pyarrow.parquet as pq
    from workload_modelyard import write_repo

    from modelyard.features import FeatureStore

    repo = write_repo(store, data)
    entity_rows = pq.ParquetFile(C.data_paths(data)["entities"]).metadata.num_rows
    partitions = max(16, entity_rows // 2_000_000)
    if engine == "spark":
        with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
            f.write(
                "offline_engine: spark\nspark:\n  master: local[2]\n  conf:\n"
                f"    spark.driver.memory: {driver_memory}\n"
                f"    spark.sql.shuffle.partitions: '{partitions}'\n"
                "    spark.ui.enabled: 'false'\n"
                f"    spark.local.dir: {os.path.join(store, 'spark-local')}\n"
            )
    fs = FeatureStore(
        repo_path=repo, tracking_uri=os.path.join(store, "meta"), memory_limit=memory_limit
    )
    fs.apply()
    spill = os.path.join(store, "duckdb-spill")
    os.makedirs(spill, exist_ok=True)
    watcher = _DirPeak(spill if engine == "duckdb" else os.path.join(store, "spark-local"))
    watcher.start()
    read_started = time.perf_counter()
    entities = C.load_entities(data)
    read_s = time.perf_counter() - read_started
    extra: dict[str, Any] = {}
    if engine == "spark":  # the session (the JVM's start) is not the join's time
        from modelyard.features._offline_spark import spark_session

        spark = spark_session(fs.settings.spark)
        extra["arrow_enabled"] = spark.conf.get("spark.sql.execution.arrow.pyspark.enabled")
    else:
        fs._duckdb().execute(f"SET GLOBAL temp_directory = '{spill}'")
    started = time.perf_counter()
    job = fs.get_historical_features(entities, C.FEATURE_REFS)
    query = job._query  # the statement to_df/to_arrow/to_parquet run, unordered
    planned = time.perf_counter() - started
    del entities
    if engine == "spark":
        query.frame.createOrReplaceTempView("training_set")
        row = query.spark.sql(checksum_sql("training_set", "unix_micros", "DIV")).collect()[0]
        n, with_features, digest = int(row["n"]), int(row["with_features"]), str(row["checksum"])
    else:
        n, with_features, digest = query.con.execute(
            checksum_sql(f"({query.sql}) r", "epoch_us", "//")
        ).fetchall()[0]
    wall = time.perf_counter() - started
    watcher.stop.set()
    if verify:  # the Python checksum of the collected rows must be the engine's
        extra["python_checksum_agrees"] = checksum_python(job.to_arrow()) == (
            n,
            with_features,
            str(digest),
        )
    return {
        "engine": engine,
        "seconds": round(wall, 2),
        "plan_and_entity_upload_s": round(planned, 2),
        "read_entities_s": round(read_s, 2),
        "rows": n,
        "rows_with_features": with_features,
        "checksum": str(digest),
        "peak_spill_mib": watcher.peak // (1 << 20),
        "shuffle_partitions": partitions if engine == "spark" else None,
        **extra,
    }


# -- the parent ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", choices=sorted(SIZES), default=[])
    parser.add_argument("--engine", action="append", choices=["duckdb", "spark"], default=[])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "modelyard-ceiling"))
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's memory_limit")
    parser.add_argument("--driver-memory", default="6g", help="Spark's driver memory (local[2])")
    parser.add_argument("--spark-timeout-min", type=float, default=25.0)
    parser.add_argument("--verify", action="store_true", help="also collect and checksum in Python")
    parser.add_argument(
        "--child", nargs=3, metavar=("ENGINE", "DATA", "STORE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--generate-only", action="store_true", help="write the data, run nothing")
    args = parser.parse_args()
    if args.child:
        engine, data, store = args.child
        print(
            json.dumps(
                child(engine, data, store, args.memory_limit, args.driver_memory, args.verify)
            )
        )
        return
    for size in args.size or ["1m"]:
        entity_rows, feature_rows = SIZES[size]
        data = os.path.join(args.work, f"pit-{size}")
        meta_path = C.data_paths(data)["meta"]
        meta = {}
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
        if meta.get("entity_rows") != entity_rows:
            meta = generate(data, entity_rows, feature_rows)
            print(json.dumps({"size": size, "generated": meta}), flush=True)
        if args.generate_only:
            continue
        results = []
        for engine in args.engine or ["duckdb", "spark"]:
            store = os.path.join(args.work, f"pit-store-{size}-{engine}")
            shutil.rmtree(store, ignore_errors=True)
            argv = [
                sys.executable,
                __file__,
                "--child",
                engine,
                data,
                store,
                "--memory-limit",
                args.memory_limit,
                "--driver-memory",
                args.driver_memory,
            ]
            if args.verify:
                argv.append("--verify")
            timeout = args.spark_timeout_min * 60 if engine == "spark" else None
            result = M.run_child(argv, M.base_env([FEATURES_DIR]), timeout=timeout)
            shutil.rmtree(store, ignore_errors=True)
            result.update(
                size=size,
                entity_rows=entity_rows,
                feature_rows=feature_rows,
                engine=engine,
                memory_limit=args.memory_limit if engine == "duckdb" else None,
                driver_memory=args.driver_memory if engine == "spark" else None,
                measured=datetime.now().astimezone().isoformat(timespec="seconds"),
                command=" ".join(
                    [
                        "python benchmarks/scale/pit_ceiling.py",
                        f"--size {size}",
                        f"--engine {engine}",
                        *(
                            [f"--memory-limit {args.memory_limit}"]
                            if engine == "duckdb" and args.memory_limit != "4GB"
                            else []
                        ),
                        *(
                            [f"--driver-memory {args.driver_memory}"]
                            if engine == "spark" and args.driver_memory != "6g"
                            else []
                        ),
                    ]
                ),
            )
            results.append(result)
            M.save("scale-pit-ceiling", result)
            print(json.dumps(result), flush=True)
        sums = {r.get("checksum") for r in results if "checksum" in r}
        print(
            json.dumps(
                {
                    "size": size,
                    "identical_answers": len(sums) == 1 and all("checksum" in r for r in results),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
