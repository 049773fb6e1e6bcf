"""Build the UI benchmark's store in modelyard (SQLite), plus 12 weeks of hourly monitoring
windows for one endpoint.   python build_modelyard.py STORE_DIR [N_RUNS]   -> one JSON line"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

from modelyard.core.entities import Metric, RunStatus
from modelyard.store._monitor_store import MetricPoint
from modelyard.tracking import Client

HOUR = 3600 * 1000
WEEKS = 12
COLUMNS = ["income", "debt_ratio", "age", "open_loans", "credit_years"]


def monitoring(client: Client) -> int:
    store = client.store.monitoring
    start = C.T0
    windows = WEEKS * 7 * 24
    for w in range(windows):
        s, e = start + w * HOUR, start + (w + 1) * HOUR
        shifted = w > windows // 2
        points = [MetricPoint("bench", s, e, name, "", "", "", value) for name, value in (
            ("rows", 400.0), ("requests", 400.0), ("drift_share", 0.4 if shifted else 0.0), ("auc", 0.62 if shifted else 0.78),
            ("p50_latency_ms", 2.0), ("p95_latency_ms", 4.0), ("p99_latency_ms", 6.0), ("error_rate", 0.0),
            ("throughput_rps", 0.11))]
        for c in COLUMNS:
            drifted = shifted and c in ("income", "debt_ratio")
            points += [MetricPoint("bench", s, e, n, c, "", "", v) for n, v in (
                ("column_drifted", float(drifted)), ("column_p_value", 1e-9 if drifted else 0.5),
                ("column_statistic", 0.3 if drifted else 0.02), ("column_threshold", 0.01), ("column_psi", 0.3 if drifted else 0.01))]
        points.append(MetricPoint("bench", s, e, "auc", "", "1", "champion", 0.62 if shifted else 0.78))
        store.record("bench", s, e, points)
    return windows


def bulk_runs(client: Client, experiment: str, n: int) -> list[str]:
    """The N runs in a few large transactions straight into the store's tables (the same rows
    the API writes; going through it one run at a time takes ~10 minutes on this machine and
    is not what this benchmark measures)."""
    from sqlalchemy import insert

    from modelyard.store._schema import latest_metrics, metrics, params, runs

    ids = [f"{i:032x}" for i in range(1, n + 1)]
    engine = client.store._engines.write
    for lo in range(0, n, 1000):
        chunk = range(lo, min(n, lo + 1000))
        run_rows, param_rows, metric_rows = [], [], []
        for i in chunk:
            p, m = C.run_values(i)
            start = C.T0 + i * 1000
            run_rows.append({"run_id": ids[i], "experiment_id": int(experiment), "run_name": C.run_name(i),
                             "status": RunStatus.FINISHED.value, "start_time": start, "end_time": start + 500,
                             "lifecycle_stage": "active", "parent_run_id": None, "user_name": "bench", "context": "{}"})
            param_rows += [{"run_id": ids[i], "key": k, "value": v} for k, v in p.items()]
            metric_rows += [{"run_id": ids[i], "key": k, "value": v, "step": 0, "timestamp": start} for k, v in m.items()]
        with engine.begin() as conn:
            conn.execute(insert(runs), run_rows)
            conn.execute(insert(params), param_rows)
            conn.execute(insert(metrics), metric_rows)
            conn.execute(insert(latest_metrics), metric_rows)
    return ids


def history(client: Client, run_id: str, n: int, seed: int) -> None:
    values = C.curve(n, seed)
    for chunk in range(0, n, 1000):
        client.store.log_batch(run_id, [Metric("loss", values[s], C.T0 + s, s) for s in range(chunk, min(n, chunk + 1000))])


def main() -> None:
    folder, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else C.RUNS
    client = Client(f"sqlite:///{folder}/modelyard.db")
    started = time.perf_counter()
    experiment = client.create_experiment(C.EXPERIMENT)
    bulk_runs(client, experiment, n)
    # the runs with long histories go through the API
    long_run = client.create_run(experiment, run_name="long-history", start_time=C.T0 + n * 1000).info.run_id
    history(client, long_run, C.LONG_POINTS, 1)
    client.set_terminated(long_run, RunStatus.FINISHED)
    compare = []
    for j in range(C.COMPARE_RUNS):
        run_id = client.create_run(experiment, run_name=f"compare-{j}", start_time=C.T0 + (n + 1 + j) * 1000).info.run_id
        history(client, run_id, C.COMPARE_POINTS, 100 + j)
        client.set_terminated(run_id, RunStatus.FINISHED)
        compare.append(run_id)
    windows = monitoring(client)
    print(json.dumps({"experiment_id": experiment, "long_run": long_run, "compare": compare, "windows": windows,
                      "runs": n + 1 + C.COMPARE_RUNS, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
