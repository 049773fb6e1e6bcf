"""The stock ``mlflow`` client's side of benchmarks/server/mlflow_client.py: log to the server
at MLFLOW_TRACKING_URI and print one JSON line of timings.

    python mlflow_client_workload.py N_SINGLE N_BATCHES BATCH_SIZE

* single: N_SINGLE synchronous ``MlflowClient.log_metric`` calls, one HTTP request each;
  calls/s and per-call p50/p99 (ms).
* batch: N_BATCHES ``MlflowClient.log_batch`` calls of BATCH_SIZE points (MLflow's own limit
  is 1000 metrics a call); points/s.
Every point is read back afterwards and counted, so a server that drops points fails here.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid

from mlflow import MlflowClient
from mlflow.entities import Metric


def main() -> None:
    n_single, n_batches, batch_size = (int(a) for a in sys.argv[1:4])
    client = MlflowClient()
    experiment = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(experiment).info.run_id

    for i in range(5):  # warm the connection pool and the server
        client.log_metric(run_id, "warmup", float(i), step=i)

    latencies = []
    start = time.perf_counter()
    for i in range(n_single):
        t0 = time.perf_counter()
        client.log_metric(run_id, "single", float(i), step=i)
        latencies.append(time.perf_counter() - t0)
    single_s = time.perf_counter() - start

    start = time.perf_counter()
    for b in range(n_batches):
        base = b * batch_size
        client.log_batch(
            run_id,
            metrics=[
                Metric("batch", float(base + j), 1_000 + base + j, base + j)
                for j in range(batch_size)
            ],
        )
    batch_s = time.perf_counter() - start

    stored_single = len(client.get_metric_history(run_id, "single"))
    stored_batch = len(client.get_metric_history(run_id, "batch"))
    client.set_terminated(run_id)
    latencies.sort()
    print(
        json.dumps(
            {
                "single_calls_per_s": n_single / single_s,
                "single_p50_ms": 1000 * statistics.median(latencies),
                "single_p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
                "batch_points_per_s": n_batches * batch_size / batch_s,
                "batch_calls_per_s": n_batches / batch_s,
                "stored_ok": stored_single == n_single and stored_batch == n_batches * batch_size,
            }
        )
    )


if __name__ == "__main__":
    main()
