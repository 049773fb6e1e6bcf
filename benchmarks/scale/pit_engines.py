"""The point-in-time join on the two offline engines, side by side: DuckDB and Spark local[2].

    python benchmarks/scale/pit_engines.py --size 1m [--size 10m] [--memory-limit 4GB]

Data and definitions are the feature-store benchmark's (benchmarks/features/_common.py: one
10-feature view, TTL 7 days, ~1% re-writes broken by created time; 1m = 1M feature rows and
100k entity rows, 10m = 10M and 1M). Each engine runs in its own process (so one's memory does
not count against the other), computes ``to_arrow()``, and prints one JSON line: wall time of
the join (the JVM's start not included), peak RSS of the Python process and of Spark's JVM, a
checksum of the answer (a hash of every row, the same on both engines), and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "features"))
import _common as C  # noqa: E402


def _peak_mib(pid: str) -> int:
    """The peak resident memory of a process (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    return int(hwm.split()[1]) // 1024


def one(engine: str, data: str, store: str, memory_limit: str | None) -> dict[str, object]:
    """Runs in the child process: one training set on one engine."""
    import pandas as pd
    from workload_modelyard import write_repo

    from modelyard.features import FeatureStore

    repo = write_repo(store, data)
    if engine == "spark":
        with open(os.path.join(repo, "feature_store.yaml"), "w") as f:
            f.write(
                "offline_engine: spark\nspark:\n  master: local[2]\n"
                "  conf: {spark.driver.memory: 4g, spark.sql.shuffle.partitions: '16', spark.ui.enabled: 'false'}\n"
            )
    fs = FeatureStore(
        repo_path=repo, tracking_uri=os.path.join(store, "meta"), memory_limit=memory_limit
    )
    fs.apply()
    entities = C.load_entities(data)
    if engine == "spark":  # the session (JVM start) is not the join's time
        from modelyard.features._offline_spark import spark_session

        spark_session(fs.settings.spark)
    started = time.perf_counter()
    table = fs.get_historical_features(entities, C.FEATURE_REFS).to_arrow()
    wall = time.perf_counter() - started
    python_mib = _peak_mib("self")  # not ru_maxrss: it survives exec, so it would be the parent's
    jvm_mib = None
    if engine == "spark":
        from pyspark import SparkContext

        jvm_mib = _peak_mib(str(SparkContext._gateway.proc.pid))  # type: ignore[union-attr]
    frame = table.to_pandas()
    digest = int(pd.util.hash_pandas_object(frame, index=False).sum()) & (2**64 - 1)
    return {
        "engine": engine,
        "join_s": round(wall, 2),
        "rows": table.num_rows,
        "rows_with_features": int(frame["f0"].notna().sum()),
        "checksum": f"{digest:016x}",
        "peak_rss_python_mib": python_mib,
        "peak_rss_jvm_mib": jvm_mib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", choices=sorted(C.SIZES), default=[])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "modelyard-scale"))
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's memory_limit")
    parser.add_argument(
        "--child", nargs=3, metavar=("ENGINE", "DATA", "STORE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        engine, data, store = args.child
        print(json.dumps(one(engine, data, store, args.memory_limit)))
        return
    for size in args.size or ["1m"]:
        rows, entity_rows = C.SIZES[size]
        data = os.path.join(args.work, f"data-{size}")
        if not os.path.exists(C.data_paths(data)["meta"]):
            C.generate(data, rows, entity_rows, datetime.fromisoformat("2026-11-01T00:00:00+00:00"))
        results = []
        for engine in ("duckdb", "spark"):
            store = os.path.join(args.work, f"store-{size}-{engine}")
            env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
            env["PYTHONPATH"] = os.pathsep.join(
                [os.path.join(HERE, "..", "features"), env.get("PYTHONPATH", "")]
            )
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    engine,
                    data,
                    store,
                    "--memory-limit",
                    args.memory_limit,
                ],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(size=size, load_average=round(os.getloadavg()[0], 1))
            results.append(result)
            print(json.dumps(result), flush=True)
        same = len({r["checksum"] for r in results}) == 1
        print(json.dumps({"size": size, "identical_answers": same}), flush=True)


if __name__ == "__main__":
    main()
