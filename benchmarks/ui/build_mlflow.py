"""Build the UI benchmark's runs in MLflow (its SQLite store), the same data as
build_modelyard.py: run with benchmarks/.venvs/mlflow/bin/python (run.py --mlflow does).

    python build_mlflow.py STORE_DIR [N_RUNS]   -> one JSON line

The bulk runs go through MlflowClient.create_run + log_batch (MLflow's own write path); the
long histories through log_batch in chunks of 1,000 (its limit per call)."""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C
from mlflow import MlflowClient
from mlflow.entities import Metric, Param


def history(client: MlflowClient, run_id: str, n: int, seed: int) -> None:
    values = C.curve(n, seed)
    for chunk in range(0, n, 1000):
        client.log_batch(run_id, metrics=[Metric("loss", values[s], C.T0 + s, s) for s in range(chunk, min(n, chunk + 1000))])


def main() -> None:
    folder, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else C.RUNS
    client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    started = time.perf_counter()
    experiment = client.create_experiment(C.EXPERIMENT, artifact_location=f"{folder}/artifacts")
    for i in range(n):
        run = client.create_run(experiment, start_time=C.T0 + i * 1000, run_name=C.run_name(i))
        params, metrics = C.run_values(i)
        client.log_batch(run.info.run_id, metrics=[Metric(k, v, C.T0 + i * 1000, 0) for k, v in metrics.items()],
                         params=[Param(k, v) for k, v in params.items()])
        client.set_terminated(run.info.run_id, end_time=C.T0 + i * 1000 + 500)
    long_run = client.create_run(experiment, start_time=C.T0 + n * 1000, run_name="long-history").info.run_id
    history(client, long_run, C.LONG_POINTS, 1)
    client.set_terminated(long_run)
    compare = []
    for j in range(C.COMPARE_RUNS):
        run_id = client.create_run(experiment, start_time=C.T0 + (n + 1 + j) * 1000, run_name=f"compare-{j}").info.run_id
        history(client, run_id, C.COMPARE_POINTS, 100 + j)
        client.set_terminated(run_id)
        compare.append(run_id)
    print(json.dumps({"experiment_id": experiment, "long_run": long_run, "compare": compare,
                      "runs": n + 1 + C.COMPARE_RUNS, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
