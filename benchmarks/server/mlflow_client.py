"""The stock ``mlflow`` client logging to ``modelyard server`` vs to ``mlflow server``, same
machine, one run.

    .venv/bin/python benchmarks/server/mlflow_client.py [--repeats 3] [--single 300]
        [--batches 20] [--batch-size 1000]

* MLflow (server and the client used for both sides) runs in its own virtualenv,
  benchmarks/.venvs/mlflow (created here on first use with ``pip install mlflow==3.17.2``).
* Both servers run at their defaults on loopback with a fresh SQLite store and a local
  artifact folder: ``modelyard server --auth none`` and ``mlflow server`` (proxied artifacts).
* The workload (mlflow_client_workload.py) is the same script and the same client for both:
  single synchronous ``log_metric`` calls and ``log_batch`` calls of 1000 points. Each
  repeat gets a fresh server; the medians of the repeats are reported, with the load average
  (other jobs share this machine).

Writes benchmarks/results/server-mlflow-client.json and prints a Markdown table (copied into
benchmarks/server/RESULTS_mlflow.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MLFLOW_VENV = REPO / "benchmarks" / ".venvs" / "mlflow"
MLFLOW_PIN = "3.17.2"
OURS = Path(sys.executable).parent / "modelyard"
METRICS = [
    ("single_calls_per_s", "log_metric, calls/s", "higher"),
    ("single_p50_ms", "log_metric p50, ms", "lower"),
    ("single_p99_ms", "log_metric p99, ms", "lower"),
    ("batch_points_per_s", "log_batch (1000 points), points/s", "higher"),
]


def ensure_mlflow_venv() -> Path:
    py = MLFLOW_VENV / "bin" / "python"
    if py.exists():
        found = subprocess.run(
            [str(py), "-c", "import mlflow; print(mlflow.__version__)"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if found == MLFLOW_PIN:
            return py
    print(f"creating {MLFLOW_VENV} with mlflow=={MLFLOW_PIN} (one-off)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(MLFLOW_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_PIN}"], check=True)
    return py


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url} within {seconds:g} s")


def start_server(tool: str, workdir: Path, mlflow_py: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    store = f"sqlite:///{workdir / 'store.db'}"
    artifacts = str(workdir / "artifacts")
    if tool == "modelyard":
        cmd = [
            str(OURS),
            "server",
            "--port",
            str(port),
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            artifacts,
            "--auth",
            "none",
        ]
        health = f"http://127.0.0.1:{port}/health"
    else:
        cmd = [
            str(mlflow_py),
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            artifacts,
        ]
        health = f"http://127.0.0.1:{port}/health"
    with open(workdir / f"{tool}-server.log", "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_up(health, proc)
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def one(tool: str, mlflow_py: Path, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-mlflow-client-{tool}-"))
    proc, url = start_server(tool, workdir, mlflow_py)
    try:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": url,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "GIT_PYTHON_REFRESH": "quiet",
        }
        done = subprocess.run(
            [
                str(mlflow_py),
                str(HERE / "mlflow_client_workload.py"),
                str(args.single),
                str(args.batches),
                str(args.batch_size),
            ],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise SystemExit(f"{tool} workload failed:\n{done.stderr[-3000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--single", type=int, default=300)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument(
        "--out",
        default=str(REPO / "benchmarks" / "results" / "server-mlflow-client.json"),
        help="where the JSON results go",
    )
    args = ap.parse_args()
    mlflow_py = ensure_mlflow_venv()
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"modelyard": [], "mlflow": []}
    for r in range(args.repeats):
        for tool in ("modelyard", "mlflow"):
            result = one(tool, mlflow_py, args)
            print(f"repeat {r + 1} {tool}: {json.dumps(result)}", file=sys.stderr)
            runs[tool].append(result)
    load_after = os.getloadavg()
    medians = {
        tool: {key: statistics.median(r[key] for r in rows) for key, _, _ in METRICS}
        for tool, rows in runs.items()
    }
    stored_ok = {tool: all(r["stored_ok"] for r in rows) for tool, rows in runs.items()}
    out = {
        "args": vars(args),
        "mlflow": MLFLOW_PIN,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpus": os.cpu_count(),
        "medians": medians,
        "stored_ok": stored_ok,
        "runs": runs,
    }
    results = Path(args.out)
    results.write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        f"| measure | modelyard server | mlflow server {MLFLOW_PIN} | modelyard / mlflow |",
        "|---|---:|---:|---:|",
    ]
    for key, label, better in METRICS:
        ours, theirs = medians["modelyard"][key], medians["mlflow"][key]
        ratio = ours / theirs if better == "higher" else theirs / ours
        lines.append(f"| {label} | {ours:,.1f} | {theirs:,.1f} | {ratio:.1f}x |")
    print("\n".join(lines))
    print(
        f"\nload average before {load_before}, after {load_after}; every point stored: {stored_ok}"
    )


if __name__ == "__main__":
    main()
