"""Throughput of an endpoint that looks its features up (the loop's serving path): entity keys
in, features from the online store, a prediction out; modelyard against an earlier checkout,
side by side.

    .venv/bin/python benchmarks/serving/perf/wrk_features.py --base SRC [--repeats 3] [--seconds 10]
        [--online sqlite|redis://...] [--out FILE]

* Feature repo: 100,000 applicants, one view of three float features (a 30-day TTL) and a
  feature service over them, materialized into the online store (SQLite by default).
* Model: LogisticRegression on the three features, registered with an input example.
* Deployment: one endpoint with ``features: {repo, service, online_store}``, the prediction
  log on; ``modelyard serve --workers 2`` from this tree's ``src`` and from ``--base`` (``git
  worktree add /tmp/base <commit>``; then ``--base /tmp/base/src``).
* Load: ``wrk -t2 -c16`` with ``{"records": [{"applicant_id": 4242}]}`` (wrk on PATH:
  ``apt-get install wrk``); every repeat runs both servers in a rotated order; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as perf  # perf/run.py: serve
from wrk_floor import wrk

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
APPLICANTS = 100_000
DEFINITIONS = textwrap.dedent(
    """
    from datetime import timedelta

    from modelyard.features import Entity, FeatureService, FeatureView, Field, FileSource, Float64

    applicant = Entity(name="applicant", join_keys=["applicant_id"])
    finances = FeatureView(
        name="finances",
        entities=[applicant],
        ttl=timedelta(days=30),
        schema=[Field(name="income", dtype=Float64), Field(name="debt_ratio", dtype=Float64),
                Field(name="open_loans", dtype=Float64)],
        source=FileSource(path="data/finances.parquet", timestamp_field="event_time"),
    )
    credit = FeatureService(name="credit", features=[finances])
    """
)


def build(folder: Path, store: Path, online: str) -> tuple[Path, bytes]:
    """The repo materialized into ``online``, the model registered, the deployment written."""
    from sklearn.linear_model import LogisticRegression

    from modelyard.features import FeatureStore
    from modelyard.registry import Client

    repo = folder / "credit_bench"
    (repo / "data").mkdir(parents=True)
    (repo / "definitions.py").write_text(DEFINITIONS)
    rng = np.random.default_rng(0)
    now = datetime.now(tz=UTC)
    features = pd.DataFrame(
        {
            "applicant_id": np.arange(APPLICANTS, dtype="int64"),
            "event_time": [now - timedelta(days=1)] * APPLICANTS,
            "income": rng.uniform(0, 6000, APPLICANTS),
            "debt_ratio": rng.uniform(0, 1, APPLICANTS),
            "open_loans": rng.integers(0, 8, APPLICANTS).astype(float),
        }
    )
    features.to_parquet(repo / "data" / "finances.parquet")
    fs = FeatureStore(repo_path=repo, tracking_uri=str(store), online_store=online)
    fs.apply()
    fs.materialize(now - timedelta(days=30), now, progress=False)
    train = features[["income", "debt_ratio", "open_loans"]].head(2_000)
    label = (train.debt_ratio * 3 + train.open_loans / 4 - train.income / 3000 > 1).astype(int)
    Client(str(store)).register_model(
        "credit", LogisticRegression(max_iter=1000).fit(train, label), input_example=train.head(3)
    )
    deploy = folder / "features.yaml"
    deploy.write_text(
        json.dumps(
            {
                "endpoints": [
                    {
                        "name": "credit",
                        "routes": [{"model": "models:/credit/1"}],
                        "features": {"repo": str(repo), "service": "credit", "online_store": online},
                    }
                ],
                "prediction_log": {"enabled": True, "path": str(folder / "log")},
            }
        )
    )
    return deploy, json.dumps({"records": [{"applicant_id": 4242}]}).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="an earlier checkout's src folder, served as 'before'")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--online", default="sqlite", help="'sqlite' (a file in the scratch folder) or a redis:// URL")
    ap.add_argument("--out", default=str(HERE / "wrk_features.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "store"
        online = str(folder / "online.db") if args.online == "sqlite" else args.online
        deploy, body = build(folder, store, online)
        servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
        try:
            for name, src in (("modelyard", ROOT / "src"), ("before", Path(args.base))):
                servers[name] = perf.serve(src, store, deploy, folder / f"home-{name}")
            path = "/v1/endpoints/credit/predict"
            for name, (_, base) in servers.items():  # every answer must be a 200 with features found
                answer = httpx.post(base + path, content=body, headers={"content-type": "application/json"})
                if answer.status_code != 200:
                    raise RuntimeError(f"{name} answered {answer.status_code}: {answer.text}")
                wrk(base + path, body, 2, folder / "post.lua")
            load_before = os.getloadavg()
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in servers}
            names = list(servers)
            for repeat in range(args.repeats):
                for name in names[repeat % 2 :] + names[: repeat % 2]:
                    runs[name].append(wrk(servers[name][1] + path, body, args.seconds, folder / "post.lua"))
                    print(f"  repeat {repeat + 1} {name:10s} {runs[name][-1]}", flush=True)
            load_after = os.getloadavg()
        finally:
            for proc, _ in servers.values():
                proc.terminate()
            for proc, _ in servers.values():
                proc.wait(timeout=30)
    summary: dict[str, Any] = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("req_s", "p50_ms", "p99_ms", "errors")}
        for name, rs in runs.items()
    }
    result = {"online": args.online, "load_average_before": load_before, "load_average_after": load_after,
              "summary": summary, "runs": runs}
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"load average before {load_before}, after {load_after}; medians of {args.repeats}")
    for name, s in summary.items():
        print(f"{name:10s} {s['req_s']:8.0f} req/s  p50 {s['p50_ms']:.2f} ms  p99 {s['p99_ms']:.2f} ms  errors {s['errors']:.0f}")


if __name__ == "__main__":
    main()
