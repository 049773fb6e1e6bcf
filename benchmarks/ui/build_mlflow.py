"""Build the UI benchmark's runs in MLflow (its SQLite store), the same data as
build_modelyard.py: run with benchmarks/.venvs/mlflow/bin/python (run.py --mlflow does).

    python build_mlflow.py STORE_DIR [N_RUNS]   -> one JSON line

The bulk runs go through MlflowClient.create_run + log_batch (MLflow's own write path); the
long histories through log_batch in chunks of 1,000 (its limit per call). Building 10,000 runs
this way takes most of an hour on a busy machine, so the build resumes: a second call keeps the
finished runs it finds (by name), replaces unfinished ones, and writes the histories first so a
store cut short can already time the charts."""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, ViewType


def history(client: MlflowClient, run_id: str, n: int, seed: int) -> None:
    values = C.curve(n, seed)
    for chunk in range(0, n, 1000):
        client.log_batch(run_id, metrics=[Metric("loss", values[s], C.T0 + s, s) for s in range(chunk, min(n, chunk + 1000))])


def finished_runs(client: MlflowClient, experiment: str) -> dict[str, str]:
    """Name -> id of the runs a previous build finished; unfinished ones are deleted (redone)."""
    done: dict[str, str] = {}
    token = None
    while True:
        page = client.search_runs([experiment], run_view_type=ViewType.ACTIVE_ONLY, max_results=5000, page_token=token)
        for run in page:
            if run.info.status == "FINISHED":
                done[run.info.run_name] = run.info.run_id
            else:
                client.delete_run(run.info.run_id)
        token = page.token
        if not token:
            return done


def main() -> None:
    folder, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else C.RUNS
    client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    started = time.perf_counter()
    found = client.get_experiment_by_name(C.EXPERIMENT)
    experiment = found.experiment_id if found else client.create_experiment(C.EXPERIMENT, artifact_location=f"{folder}/artifacts")
    done = finished_runs(client, experiment)

    def make(name: str, start: int, points: int, seed: int) -> str:
        if name not in done:
            run_id = client.create_run(experiment, start_time=start, run_name=name).info.run_id
            history(client, run_id, points, seed)
            client.set_terminated(run_id, end_time=start + 500)
            done[name] = run_id
        return done[name]

    long_run = make("long-history", C.T0 + n * 1000, C.LONG_POINTS, 1)
    compare = [make(f"compare-{j}", C.T0 + (n + 1 + j) * 1000, C.COMPARE_POINTS, 100 + j) for j in range(C.COMPARE_RUNS)]
    for i in range(n):
        if C.run_name(i) in done:
            continue
        run = client.create_run(experiment, start_time=C.T0 + i * 1000, run_name=C.run_name(i))
        params, metrics = C.run_values(i)
        client.log_batch(run.info.run_id, metrics=[Metric(k, v, C.T0 + i * 1000, 0) for k, v in metrics.items()],
                         params=[Param(k, v) for k, v in params.items()])
        client.set_terminated(run.info.run_id, end_time=C.T0 + i * 1000 + 500)
    print(json.dumps({"experiment_id": experiment, "long_run": long_run, "compare": compare,
                      "runs": n + 1 + C.COMPARE_RUNS, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
