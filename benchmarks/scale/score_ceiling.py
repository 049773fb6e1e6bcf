"""Batch scoring's ceiling on one node: `modelyard score` on its three engines, same input.

    python benchmarks/scale/score_ceiling.py --size 1m [--size 10m] [--size 100m]
        [--engine local --engine ray --engine spark] [--timeout-min 25] [--work /tmp/modelyard-ceiling]

Input: ``row_id`` (int64) and eight float32 features, in Parquet files of 1M rows each (a
folder, as a lake holds them; 100m = 100 files, ~3.3 GB), written file by file. Model: a
scikit-learn LogisticRegression on the eight features, trained on 20,000 generated rows and
registered in a temporary store as ``models:/ceiling@champion``.

Each engine is the CLI in its own process, with the product's defaults (chunks of 200,000
rows, the prediction log on): ``modelyard score models:/ceiling@champion INPUT -o OUT --engine
E --json``; local = one process per core (2), ray = a private Ray (``ray.init(num_cpus=2)``),
spark = ``SPARK_MASTER=local[2]`` with a 4g driver. Time: the CLI's own ``seconds`` (model
load, Spark/Ray start and the join of the parts included) and the process's wall time. Peak
memory: the CLI process and everything below it (pool workers, Ray's raylet and workers,
Spark's JVM and its Python workers), Pss summed and sampled every 0.25 s, and each process's
VmHWM. Answers: checksums of the output computed by DuckDB streaming over it, order-free:
``sum((row_id % 1000003 + 1) * prediction)`` and ``sum((row_id % 1009 + 1) *
round(score * 1e9))``, plus the row count; then (unless ``--no-compare``) the outputs are
joined on ``row_id`` against the local engine's: labels that differ, largest score difference.
Results go to benchmarks/results/scale-score-ceiling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _measure as M  # noqa: E402

SIZES = {"1m": 1_000_000, "10m": 10_000_000, "100m": 100_000_000}
FEATURES = [f"x{i}" for i in range(8)]
PER_FILE = 1_000_000
WEIGHTS = [0.8, -0.5, 0.3, 0.0, 1.1, -0.9, 0.25, 0.05]
MODEL = "models:/ceiling@champion"


def generate(folder: Path, rows: int) -> float:
    """``rows`` rows in files of ``PER_FILE`` (at least 4 files), one file in memory at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    per_file = min(PER_FILE, rows // 4)
    rng = np.random.default_rng(20261130)
    for k, first in enumerate(range(0, rows, per_file)):
        n = min(per_file, rows - first)
        x = rng.standard_normal((n, len(FEATURES)), dtype=np.float32)
        columns = {"row_id": pa.array(np.arange(first, first + n, dtype=np.int64))}
        columns.update({f: pa.array(x[:, i]) for i, f in enumerate(FEATURES)})
        pq.write_table(pa.table(columns), folder / f"part-{k:05d}.parquet")
    (folder / ".done").write_text(str(rows))
    return time.perf_counter() - started


def register(store: Path) -> None:
    """The model: a logistic regression on the eight features, in a new store."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import modelyard as my

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        rng.standard_normal((20_000, len(FEATURES))).astype(np.float32), columns=FEATURES
    )
    logits = frame.to_numpy() @ np.asarray(WEIGHTS) + rng.normal(scale=0.5, size=len(frame))
    model = LogisticRegression().fit(frame, (logits > 0).astype(int))
    client = my.Client(str(store))
    client.register_model("ceiling", model, input_example=frame.head(3))
    client.set_registered_model_alias("ceiling", "champion", 1)


def checksums(output: str) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    n, labels, scores, total = con.execute(
        "SELECT count(*), CAST(sum((row_id % 1000003 + 1) * CAST(prediction AS BIGINT)) AS VARCHAR), "
        "CAST(sum(CAST((row_id % 1009 + 1) AS HUGEINT) * CAST(round(score * 1e9) AS BIGINT)) AS VARCHAR), "
        f"sum(score) FROM read_parquet('{output}')"
    ).fetchall()[0]
    return {
        "rows_out": n,
        "prediction_checksum": labels,
        "score_checksum": scores,
        "score_sum": total,
    }


def differences(one: Path, other: Path, spill: Path) -> dict[str, Any]:
    """Row by row (joined on row_id): labels that differ, the largest score difference."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '4GB'")
    con.execute(f"SET temp_directory = '{spill}'")
    joined, labels, worst = con.execute(
        "SELECT count(*), count(*) FILTER (a.prediction != b.prediction), max(abs(a.score - b.score)) "
        f"FROM read_parquet('{one}') a JOIN read_parquet('{other}') b USING (row_id)"
    ).fetchall()[0]
    return {"rows_joined": joined, "labels_differing": labels, "max_abs_score_difference": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", choices=sorted(SIZES), default=[])
    parser.add_argument("--engine", action="append", choices=["local", "ray", "spark"], default=[])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "modelyard-ceiling"))
    parser.add_argument("--timeout-min", type=float, default=25.0)
    parser.add_argument("--keep-output", action="store_true", help="keep each engine's output file")
    parser.add_argument(
        "--no-compare",
        dest="compare",
        action="store_false",
        help="skip the row-by-row comparison of the engines' outputs (a join on row_id)",
    )
    parser.add_argument("--workers", type=int, help="--workers for local and ray (default: theirs)")
    parser.add_argument("--generate-only", action="store_true", help="write the data, run nothing")
    args = parser.parse_args()
    work = Path(args.work)
    store = work / "score-store"
    if not (store / ".registered").exists():
        shutil.rmtree(store, ignore_errors=True)
        register(store)
        (store / ".registered").write_text("1")
    cli = str(Path(sys.executable).with_name("modelyard"))
    for size in args.size or ["1m"]:
        rows = SIZES[size]
        data = work / f"score-{size}"
        if not (data / ".done").exists() or (data / ".done").read_text() != str(rows):
            seconds = generate(data, rows)
            print(json.dumps({"size": size, "generated_s": round(seconds, 1)}), flush=True)
        if args.generate_only:
            continue
        results = []
        for engine in args.engine or ["local", "ray", "spark"]:
            out = work / f"score-out-{size}-{engine}.parquet"
            home = work / f"score-home-{engine}"
            shutil.rmtree(home, ignore_errors=True)
            out.unlink(missing_ok=True)
            env = M.base_env()
            env.update(MODELYARD_HOME=str(home), SPARK_MASTER="local[2]")
            env["PYSPARK_SUBMIT_ARGS"] = (
                "--driver-memory 4g --conf spark.ui.enabled=false pyspark-shell"
            )
            env["RAY_TMPDIR"] = str(work / "ray-tmp")
            argv = [
                cli,
                "score",
                MODEL,
                str(data),
                "-o",
                str(out),
                "--engine",
                engine,
                "--tracking-uri",
                str(store),
                "--json",
            ]
            if args.workers is not None and engine != "spark":
                argv += ["--workers", str(args.workers)]
            result = M.run_child(argv, env, timeout=args.timeout_min * 60)
            if "rows" in result:
                result.update(checksums(str(out)))
                result["output_mib"] = out.stat().st_size >> 20
                log = result.get("prediction_log")
                result["log_mib"] = Path(log).stat().st_size >> 20 if log else None
            shutil.rmtree(home, ignore_errors=True)
            result.update(
                size=size,
                input_rows=rows,
                engine=engine,
                measured=datetime.now().astimezone().isoformat(timespec="seconds"),
                workers=args.workers,
                command=f"python benchmarks/scale/score_ceiling.py --size {size} --engine {engine}"
                + (f" --workers {args.workers}" if args.workers is not None else ""),
            )
            results.append(result)
            M.save("scale-score-ceiling", result)
            print(json.dumps(result), flush=True)
        sums = {
            (r.get("prediction_checksum"), r.get("score_checksum")) for r in results if "rows" in r
        }
        outputs = {r["engine"]: Path(r["output"]) for r in results if "rows" in r}
        summary: dict[str, Any] = {"size": size, "identical_checksums": len(sums) == 1}
        if args.compare and len(outputs) > 1:
            first, *others = list(outputs)
            spill = work / "compare-spill"
            spill.mkdir(exist_ok=True)
            summary["row_by_row_vs_" + first] = {
                e: differences(outputs[first], outputs[e], spill) for e in others
            }
            shutil.rmtree(spill, ignore_errors=True)
        M.save("scale-score-ceiling", summary)
        print(json.dumps(summary), flush=True)
        if not args.keep_output:
            for path in outputs.values():
                path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
