"""Adaptive micro-batching (issue 14): 64 concurrent single-row clients, unbatched vs batched.

    .venv/bin/python benchmarks/serving/batching.py [--repeats 3] [--duration 10]
                                                    [--out benchmarks/serving/batching.json]

* Model: GradientBoostingClassifier(n_estimators=100, random_state=0) on breast-cancer (30
  float columns), registered with an input example, as in benchmarks/serving/run.py.
* Two deployments of this tree, each served by ``modelyard serve DEPLOY.yaml --workers 2``
  (prediction log on): ``unbatched``, and ``batched`` with ``batching: {max_batch: 64,
  max_wait_ms: 2}``. Both run side by side; each answer is checked against the other first.
* Load: wrk -t2 -c64 --latency, POSTing one row as native JSON; one untimed warm-up run per
  server, then --repeats timed runs alternating which server goes first. Per run: req/s,
  p50/p99, non-2xx answers (a 503 is one), socket errors, and the server's CPU time per
  request (every thread of its process tree, from schedstat: what a busy shared machine
  distorts least). Figures are medians over repeats, with the load average around each run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _load("serving_run", HERE / "run.py")  # wrk runner and parser
perf = _load("perf_run", HERE / "perf" / "run.py")  # server launcher, CPU accounting
PATH = "/v1/endpoints/bc/predict"
BATCHING = {"max_batch": 64, "max_wait_ms": 2}


def register(store: Path) -> bytes:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    from modelyard.registry import Client

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y)
    Client(str(store)).register_model("bc", model, input_example=X.head(5))
    return json.dumps({"records": X.head(1).to_dict(orient="records")}).encode()


def deployment(folder: Path, name: str, batching: dict[str, Any] | None) -> Path:
    endpoint: dict[str, Any] = {"name": "bc", "routes": [{"model": "models:/bc/1"}]}
    if batching is not None:
        endpoint["batching"] = batching
    path = folder / f"{name}.yaml"
    path.write_text(
        json.dumps(
            {"endpoints": [endpoint], "prediction_log": {"path": str(folder / f"log-{name}")}}
        )
    )
    return path


def batch_calls(base: str) -> tuple[float, float]:
    """(model calls, rows) of the batched endpoint so far, from /metrics (both workers)."""
    text = httpx.get(base + "/metrics", timeout=30).text
    found = dict.fromkeys(("count", "sum"), 0.0)
    for line in text.splitlines():
        for key in found:
            if line.startswith(f'modelyard_batch_rows_{key}{{endpoint="bc"}}'):
                found[key] = float(line.split()[-1])
    return found["count"], found["sum"]


def measure(base: str, pid: int, lua: Path, seconds: float, conns: int) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    calls = batch_calls(base)
    cpu = perf.cpu_seconds(pid)
    res, _ = bench.run_wrk(base + PATH, lua, 2, conns, seconds)
    spent = perf.cpu_seconds(pid) - cpu
    after = batch_calls(base)
    if after[0] > calls[0]:
        res["rows_per_model_call"] = round((after[1] - calls[1]) / (after[0] - calls[0]), 2)
    res["server_cpu_us_per_request"] = round(spent / max(res["requests"] or 1, 1) * 1e6, 1)
    res["load_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--out", default=str(HERE / "batching.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "store"
        body = register(store)
        body_file = folder / "row.json"
        body_file.write_bytes(body)
        lua = bench.lua_script(folder, body_file)
        deploys = {"unbatched": None, "batched": BATCHING}
        servers = {
            name: perf.serve(
                REPO / "src", store, deployment(folder, name, batching), folder / f"home-{name}"
            )
            for name, batching in deploys.items()
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        try:
            answers = {
                name: httpx.post(
                    base + PATH, content=body, headers={"content-type": "application/json"}
                ).json()
                for name, (_, base) in servers.items()
            }
            same = answers["unbatched"]["probabilities"] == answers["batched"]["probabilities"]
            if not same:
                raise SystemExit(f"the answers differ: {answers}")
            for proc, base in servers.values():  # warm-up
                measure(base, proc.pid, lua, min(args.duration, 3.0), args.conns)
            for repeat in range(args.repeats):
                order = list(servers) if repeat % 2 == 0 else list(reversed(servers))
                for name in order:
                    proc, base = servers[name]
                    result = measure(base, proc.pid, lua, args.duration, args.conns)
                    runs[name].append(result)
                    print(name, repeat, json.dumps(result), flush=True)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=30)
    medians = {
        name: {
            key: statistics.median(r[key] for r in results)
            for key in (
                "rps",
                "p50_ms",
                "p99_ms",
                "non_2xx",
                "socket_errors",
                "server_cpu_us_per_request",
            )
        }
        for name, results in runs.items()
    }
    un, ba = medians["unbatched"], medians["batched"]
    summary = {
        "throughput_ratio": round(ba["rps"] / un["rps"], 2),
        "p99_ratio": round(ba["p99_ms"] / un["p99_ms"], 2),
        "cpu_per_request_ratio": round(
            ba["server_cpu_us_per_request"] / un["server_cpu_us_per_request"], 2
        ),
    }
    out = {
        "workload": f"wrk -t2 -c{args.conns} -d{args.duration:g}s --latency, one breast-cancer row, native JSON",
        "batching": BATCHING,
        "repeats": args.repeats,
        "runs": runs,
        "medians": medians,
        "summary": summary,
        "cpus": os.cpu_count(),
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({"medians": medians, "summary": summary}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
