"""The team server side by side with ``mlflow server``, each with its own client, on this
machine: single synchronous ``log_metric`` over HTTP, ``log_batch`` of 10,000 points, our
asynchronous logging mode, and ``search_runs`` over 10,000 runs.

    .venv/bin/python benchmarks/server/run.py [--repeats 3] [--skip-mlflow]

Each server runs as a process on a fresh SQLite store (``mlflow server`` at its defaults, and
with ``--workers 1``; ours with one worker); each workload runs in its own client process;
figures are medians over ``--repeats`` runs. MLflow lives in benchmarks/.venvs/mlflow (made
here with ``python -m venv`` + ``pip install mlflow==3.17.2`` when missing). Writes
benchmarks/results/server.json and benchmarks/server/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
REPO = HERE.parents[1]
MLFLOW_VENV = REPO / "benchmarks" / ".venvs" / "mlflow"
MLFLOW_PIN = "3.17.2"  # as benchmarks/tracking/run.py
OURS = Path(sys.executable)
sys.path.insert(0, str(HERE))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "MLFLOW_"))}
    e.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1")
    return e


def ensure_mlflow() -> Path:
    py = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        print(f"creating {MLFLOW_VENV} with mlflow=={MLFLOW_PIN} ...", flush=True)
        subprocess.run(
            [shutil.which("python3") or sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True
        )
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_PIN}"], check=True)
    return py


class Server:
    def __init__(self, cmd: list[str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, env=env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{cmd[0]} exited {self.proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{cmd} did not become healthy:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start(tool: str, store: Path, workers: int | None = None) -> Server:
    port = free_port()
    db = f"sqlite:///{store / 'metadata.db'}"
    log = store / f"{tool}-server-{port}.log"
    if tool == "modelyard":
        cmd = [
            str(OURS.parent / "modelyard"),
            "server",
            "--port",
            str(port),
            "--backend-store-uri",
            db,
            "--artifacts-destination",
            str(store / "artifacts"),
            "--auth",
            "none",
            "--workers",
            str(workers or 1),
        ]
    else:
        cmd = [
            str(MLFLOW_VENV / "bin" / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            db,
            "--artifacts-destination",
            str(store / "artifacts"),
        ]
        if workers:
            cmd += ["--workers", str(workers)]
    return Server(cmd, port, log)


def workload(tool: str, name: str, target: str) -> dict[str, Any]:
    python = OURS if tool == "modelyard" else MLFLOW_VENV / "bin" / "python"
    done = subprocess.run(
        [str(python), str(HERE / f"workload_{tool}.py"), name, target],
        env=env(),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tool} {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in results[0]:
        values = [r[key] for r in results]
        out[key] = (
            statistics.median(values)
            if all(isinstance(v, (int, float)) for v in values)
            else values[-1]
        )
    out["runs"] = len(results)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    tools = ["modelyard"] + ([] if args.skip_mlflow else ["mlflow"])
    if "mlflow" in tools:
        ensure_mlflow()
    root = Path(tempfile.mkdtemp(prefix="bench-server-"))
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    cases: list[tuple[str, str, int | None]] = [
        ("modelyard", "log_metric", 1),
        ("modelyard", "log_batch", 1),
        ("modelyard", "async", 1),
    ]
    if "mlflow" in tools:
        cases += [
            ("mlflow", "log_metric", None),
            ("mlflow", "log_metric", 1),
            ("mlflow", "log_batch", None),
        ]
    for tool, name, workers in cases:
        label = f"{tool} {name}" + (
            f" (--workers {workers})" if tool == "mlflow" and workers else ""
        )
        runs = []
        for r in range(args.repeats):
            store = root / f"{tool}-{name}-{workers}-{r}"
            store.mkdir()
            server = start(tool, store, workers)
            try:
                runs.append(workload(tool, name, server.url))
            finally:
                server.stop()
            print(f"{label} run {r + 1}: {runs[-1]}", flush=True)
        results[label] = median_of(runs)
    for tool in tools:
        store = root / f"{tool}-search"
        store.mkdir()
        t0 = time.perf_counter()
        workload(tool, "populate", f"sqlite:///{store / 'metadata.db'}")
        populate_s = time.perf_counter() - t0
        server = start(tool, store, 1 if tool == "modelyard" else None)
        try:
            runs = [workload(tool, "search", server.url) for _ in range(args.repeats)]
        finally:
            server.stop()
        results[f"{tool} search_runs"] = {**median_of(runs), "populate_s": round(populate_s, 1)}
        print(f"{tool} search_runs: {results[f'{tool} search_runs']}", flush=True)
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "mlflow": MLFLOW_PIN if "mlflow" in tools else None,
        "repeats": args.repeats,
    }
    out = {"meta": meta, "results": results}
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / "server.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    (HERE / "RESULTS.md").write_text(results_markdown(out))
    shutil.rmtree(root, ignore_errors=True)


def results_markdown(out: dict[str, Any]) -> str:
    """The figures as a table (the prose around them is kept in RESULTS.md by hand)."""
    meta, res = out["meta"], out["results"]
    rows = [
        "| case | figure |",
        "|---|---|",
    ]
    for label, figures in res.items():
        shown = ", ".join(f"{k} {v}" for k, v in figures.items() if k != "runs")
        rows.append(f"| {label} | {shown} |")
    return (
        "# Team server benchmark (benchmarks/server/run.py)\n\n"
        f"Measured {meta['when']} on {meta['cpus']} cores, load average {meta['load_average_before']} before "
        f"and {meta['load_average_after']} after (other helpers' work on the same machine); "
        f"MLflow {meta['mlflow']}; medians of {meta['repeats']} runs.\n\n" + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()
