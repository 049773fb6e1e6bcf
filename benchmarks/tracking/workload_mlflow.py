"""MLflow side of the tracking benchmark.

    python workload_mlflow.py WORKLOAD STORE_DIR      -> prints one JSON object

Run with the interpreter of benchmarks/.venvs/mlflow (run.py does this).
Kept line-for-line parallel with workload_modelyard.py: the same work, the
same data (from _common.py), only the tool's calls differ.
"""

from __future__ import annotations

import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C

TOOL = "mlflow"
WORKLOADS = ["log_metric", "log_metric_file", "log_batch", "search",
             "concurrent", "concurrent_writer", "concurrent_readback", "noop"]
DEFAULT_N = {"log_metric": 1000, "log_metric_file": 2000}

_t_import = time.perf_counter()
import mlflow  # noqa: E402
from mlflow import MlflowClient as Client  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import


def sqlite_uri(store_dir: str) -> str:
    return f"sqlite:///{store_dir}/mlflow.db"


def file_uri(store_dir: str) -> str:
    return f"file:{store_dir}/mlruns"


def base_info(workload: str, **kw) -> dict:
    return {"tool": TOOL, "workload": workload, "tool_version": mlflow.__version__,
            "import_s": round(IMPORT_S, 3), **kw}


# ---------------------------------------------------------------- log_metric


def log_metric(args, variant: str) -> dict:
    if variant == "file":
        # MLflow 3.x refuses the file store unless this opt-out is set.
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        uri = file_uri(args.store_dir)
    else:
        uri = sqlite_uri(args.store_dir)
    n = args.n or C.scaled(DEFAULT_N["log_metric_file" if variant == "file" else "log_metric"], args.scale)

    t0 = time.perf_counter()
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment("log_metric")
    except Exception as exc:
        if variant != "file":
            raise
        # A future MLflow without any file store: say so and skip.
        return base_info("log_metric", variant=variant, skipped=True,
                         note=f"file store unsupported: {C.error_text(exc)}")
    run = mlflow.start_run()
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("m", float(i), step=i)
    elapsed = time.perf_counter() - t0

    mlflow.end_run()
    stored = len(Client(uri).get_metric_history(run.info.run_id, "m"))
    note = ("file store enabled with MLFLOW_ALLOW_FILE_STORE=true (MLflow 3.x refuses it by default)"
            if variant == "file" else None)
    return base_info("log_metric", variant=variant, note=note, n=n,
                     setup_s=round(setup_s, 3), seconds=round(elapsed, 4),
                     calls_per_s=round(n / elapsed, 1), ms_per_call=round(1000 * elapsed / n, 4),
                     points_stored=stored,
                     sqlite_journal_mode=(C.sqlite_journal_mode(os.path.join(args.store_dir, "mlflow.db"))
                                          if variant == "sqlite" else None))


# ----------------------------------------------------------------- log_batch


def log_batch(args) -> dict:
    uri = sqlite_uri(args.store_dir)
    client = Client(uri)
    exp_id = client.create_experiment("log_batch")
    reps = []
    for rep in range(C.LOG_BATCH_REPEATS):
        points = C.log_batch_points(rep)
        if args.scale != 1.0:
            points = points[: C.scaled(len(points), args.scale)]
        metrics = [Metric(k, v, ts, step) for (k, v, ts, step) in points]
        run_id = client.create_run(exp_id).info.run_id

        t0 = time.perf_counter()
        # MLflow caps one log_batch at 1000 metrics: a user must chunk.
        for i in range(0, len(metrics), C.MLFLOW_MAX_METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[i : i + C.MLFLOW_MAX_METRICS_PER_BATCH])
        elapsed = time.perf_counter() - t0

        reps.append({"points": len(metrics), "seconds": round(elapsed, 4),
                     "points_per_s": round(len(metrics) / elapsed, 1),
                     "calls": -(-len(metrics) // C.MLFLOW_MAX_METRICS_PER_BATCH)})
    stored = len(client.get_metric_history(run_id, "metric_0"))
    return base_info("log_batch", variant="sqlite", points_per_batch=reps[0]["points"],
                     repeats=reps, points_per_s=C.median([r["points_per_s"] for r in reps]),
                     last_run_metric_0_points=stored)


# -------------------------------------------------------------------- search


def search(args) -> dict:
    uri = sqlite_uri(args.store_dir)
    client = Client(uri)
    n_runs = C.scaled(C.SEARCH_RUNS, args.scale)
    data = C.search_runs_data(n_runs)
    expected_top, expected_matching = C.expected_search_top(data)

    populate_s = None
    if not args.query_only:
        t0 = time.perf_counter()
        exp_id = client.create_experiment(C.SEARCH_EXPERIMENT)
        for i, d in enumerate(data):
            run_id = client.create_run(exp_id).info.run_id
            client.log_batch(run_id,
                             metrics=[Metric(k, v, ts, step) for (k, v, ts, step) in d.metrics],
                             params=[Param(k, v) for (k, v) in d.params])
            client.set_terminated(run_id, status="FINISHED")
            if (i + 1) % 500 == 0 or i + 1 == n_runs:
                el = time.perf_counter() - t0
                C.progress(f"{TOOL} search populate {i + 1}/{n_runs} runs "
                           f"({el:.0f}s, {(i + 1) / el:.0f} runs/s)")
        populate_s = time.perf_counter() - t0
    exp_id = client.get_experiment_by_name(C.SEARCH_EXPERIMENT).experiment_id

    def query():
        return client.search_runs([exp_id], filter_string=C.SEARCH_FILTER,
                                  order_by=C.SEARCH_ORDER_BY, max_results=C.SEARCH_MAX_RESULTS)

    # One untimed call: correctness checks (and cache warm-up).
    runs = list(query())
    aucs = [r.data.metrics.get("auc") for r in runs]
    checks = {
        "results_returned": len(runs),
        "top_auc": aucs[0] if aucs else None,
        "expected_top_auc": expected_top,
        "top_auc_ok": bool(aucs) and abs(aucs[0] - expected_top) < 1e-12,
        "sorted_desc": all(a >= b for a, b in itertools.pairwise(aucs)),
        "all_match_filter": all(r.data.params.get("model") == "gbm" and r.data.metrics["auc"] > 0.8
                                for r in runs),
        "expected_matching_runs": expected_matching,
    }

    times_ms = []
    for _ in range(C.SEARCH_QUERIES):
        t0 = time.perf_counter()
        query()
        times_ms.append(1000 * (time.perf_counter() - t0))

    return base_info("search", variant="sqlite", runs=n_runs, steps=C.SEARCH_STEPS,
                     populate_s=round(populate_s, 2) if populate_s is not None else None,
                     query_only=args.query_only,
                     median_ms=round(C.median(times_ms), 3), p90_ms=round(C.percentile(times_ms, 90), 3),
                     times_ms=[round(t, 3) for t in times_ms], **checks)


# ---------------------------------------------------------------- concurrent


def concurrent_writer_body(store_dir: str, n_points: int) -> int:
    stage, logged = "set_tracking_uri", 0
    try:
        mlflow.set_tracking_uri(sqlite_uri(store_dir))
        stage = "set_experiment"
        mlflow.set_experiment(C.CONCURRENT_EXPERIMENT)
        stage = "start_run"
        mlflow.start_run()
        stage = "log_metric"
        for i in range(n_points):
            mlflow.log_metric("m", float(i), step=i)
            logged += 1
        stage = "end_run"
        mlflow.end_run()
        return logged
    except BaseException as exc:
        C.tag_failure(exc, stage, logged)
        raise


def concurrent_readback(args) -> dict:
    try:
        client = Client(sqlite_uri(args.store_dir))
        exp = client.get_experiment_by_name(C.CONCURRENT_EXPERIMENT)
        if exp is None:
            return {"ok": True, "runs_found": 0, "points_found": 0, "per_run": []}
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        per_run = []
        for r in runs:
            hist = client.get_metric_history(r.info.run_id, "m")
            per_run.append({"run_id": r.info.run_id, "status": r.info.status, "points": len(hist)})
        return {"ok": True, "runs_found": len(runs), "per_run": per_run,
                "points_found": sum(p["points"] for p in per_run)}
    except Exception as exc:
        return {"ok": False, "error": C.error_text(exc), "points_found": 0}


# ---------------------------------------------------------------------- main


def main() -> None:
    args = C.parse_args(WORKLOADS, DEFAULT_N)
    w = args.workload
    if w == "noop":
        C.emit(base_info("noop"))
    elif w == "log_metric":
        C.emit(log_metric(args, "sqlite"))
    elif w == "log_metric_file":
        C.emit(log_metric(args, "file"))
    elif w == "log_batch":
        C.emit(log_batch(args))
    elif w == "search":
        C.emit(search(args))
    elif w == "concurrent":
        C.concurrent_parent(args, os.path.abspath(__file__), TOOL,
                            {"variant": "sqlite", "tool_version": mlflow.__version__})
    elif w == "concurrent_writer":
        C.concurrent_writer(args, lambda n: concurrent_writer_body(args.store_dir, n))
    elif w == "concurrent_readback":
        C.emit(concurrent_readback(args))


if __name__ == "__main__":
    main()
