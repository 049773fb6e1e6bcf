"""modelyard's client against a modelyard server (or, for ``populate``, its store directly).

python workload_modelyard.py log_metric|log_batch|async|search URL
python workload_modelyard.py populate sqlite:///path.db
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C


def main() -> None:
    workload, uri = sys.argv[1], sys.argv[2]
    if workload == "async":
        os.environ["MODELYARD_ASYNC_LOGGING"] = "true"
    import modelyard
    from modelyard.entities import Metric, Param

    client = modelyard.Client(uri)
    if workload == "populate":
        experiment_id = client.create_experiment("search")
        rows = C.search_rows(C.SEARCH_RUNS)
        for i, (model, auc, loss) in enumerate(rows):
            run_id = client.create_run(
                experiment_id, start_time=C.BASE_TIMESTAMP_MS + i
            ).info.run_id
            client.log_batch(
                run_id,
                metrics=[
                    Metric("auc", auc, C.BASE_TIMESTAMP_MS, 0),
                    Metric("loss", loss, C.BASE_TIMESTAMP_MS, 0),
                ],
                params=[Param("model", model)],
            )
            if i % 2000 == 0:
                C.progress(f"populated {i} runs")
        C.emit({"runs": len(rows)})
        return
    if workload == "search":
        experiment_id = client.get_experiment_by_name("search").experiment_id  # type: ignore[union-attr]
        latencies = []
        found = 0
        for _ in range(C.SEARCH_QUERIES):
            t0 = time.perf_counter()
            page = client.search_runs(
                [experiment_id],
                C.SEARCH_FILTER,
                order_by=C.SEARCH_ORDER_BY,
                max_results=C.SEARCH_MAX_RESULTS,
            )
            latencies.append(time.perf_counter() - t0)
            found = len(page)
        ms = [x * 1000 for x in latencies]
        C.emit(
            {
                "median_ms": round(C.percentile(ms, 50), 2),
                "p90_ms": round(C.percentile(ms, 90), 2),
                "results_returned": found,
                "top_auc": round(page[0].data.metrics["auc"], 4),
            }
        )
        return
    experiment_id = client.create_experiment(f"bench-{workload}-{os.getpid()}")
    run_id = client.create_run(experiment_id).info.run_id
    if workload == "log_metric":
        for i in range(50):  # warm the connection and the server
            client.log_metric(run_id, "warm", float(i), step=i)
        latencies = []
        t_all = time.perf_counter()
        for i in range(C.LOG_METRIC_CALLS):
            t0 = time.perf_counter()
            client.log_metric(run_id, "loss", float(i), step=i)
            latencies.append(time.perf_counter() - t0)
        C.emit(C.latency_summary(latencies, time.perf_counter() - t_all))
    elif workload == "log_batch":
        times = []
        for r in range(C.LOG_BATCH_REPEATS):
            metrics = [
                Metric(f"m{k}", float(s), C.BASE_TIMESTAMP_MS + s, s + r * C.LOG_BATCH_STEPS)
                for k in range(C.LOG_BATCH_KEYS)
                for s in range(C.LOG_BATCH_STEPS)
            ]
            times.append(C.timed(client.log_batch, run_id, metrics=metrics))
        points = C.LOG_BATCH_KEYS * C.LOG_BATCH_STEPS
        best = sorted(times)[len(times) // 2]
        C.emit({"points_per_s": round(points / best), "median_s": round(best, 4)})
    elif workload == "async":
        t0 = time.perf_counter()
        for i in range(C.ASYNC_POINTS):
            client.log_metric(run_id, "loss", float(i), step=i)
        queued = time.perf_counter() - t0
        client.set_terminated(run_id)  # flushes: every point stored before it returns
        total = time.perf_counter() - t0
        stored = len(client.get_metric_history(run_id, "loss"))
        C.emit(
            {
                "points_per_s": round(C.ASYNC_POINTS / total),
                "queue_points_per_s": round(C.ASYNC_POINTS / queued),
                "stored": stored,
                "lost": C.ASYNC_POINTS - stored,
            }
        )
    else:
        raise SystemExit(f"unknown workload {workload!r}")


if __name__ == "__main__":
    main()
