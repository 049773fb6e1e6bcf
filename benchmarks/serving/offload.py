"""What the thread pool and the read timeouts cost the scoring server (issue 10, D4/R4).

Three servers over the same model, one uvicorn worker each, measured in one run, interleaved
(A B C A B C ...) so that the other load on the machine falls on all of them alike:

- ``before``: uvicorn's plain httptools protocol, every request decoded and scored on the
  event loop (``offload_bytes`` above any body): the request path of the previous commit.
- ``after``: the shipped defaults: the read-timeout protocol, bodies over 16 KiB in the pool.
- ``all-pool``: the read-timeout protocol, every request decoded and scored in the pool.

Two requests: one row (the common case) and 1,000 rows (a batch). The load generator is a
small asyncio HTTP/1.1 client with keep-alive connections (no wrk needed). Writes the medians
to ``results/offload.json`` and prints a Markdown table.

    .venv/bin/python benchmarks/serving/offload.py [--runs 5] [--seconds 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
LAUNCH = """
import sys, uvicorn
uvicorn.run("modelyard.serving._main:app", host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop",
            http=sys.argv[2], log_level="warning", workers=1)
"""
VARIANTS = {
    "before": ("httptools", 10**12),
    "after": ("modelyard.http._timeouts:ReadTimeoutProtocol", 16 << 10),
    "all-pool": ("modelyard.http._timeouts:ReadTimeoutProtocol", 0),
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: per request, it is far less disturbed by other
    load on the machine than requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(home: Path) -> tuple[list[str], list[float]]:
    os.environ["MODELYARD_HOME"] = str(home)
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import modelyard as my

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    my.Client().register_model("bc", model, input_example=X.head(5))
    return list(X.columns), X.iloc[0].tolist()


def deployment(home: Path, name: str, offload: int) -> Path:
    path = home / f"{name}.yaml"
    path.write_text(
        json.dumps(
            {
                "endpoints": [{"name": "bc", "routes": [{"model": "models:/bc/1"}]}],
                "prediction_log": {"path": str(home / f"log-{name}")},
                "offload_bytes": offload,
            }
        )
    )
    return path


def start(name: str, home: Path) -> tuple[subprocess.Popen[bytes], int]:
    http, offload = VARIANTS[name]
    port = free_port()
    env = {**os.environ, "MODELYARD_SERVE_TARGET": str(deployment(home, name, offload))}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, str(port), http], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nhost: x\r\n\r\n")
                if b"200 OK" in s.recv(4096):
                    return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{name}: server did not start")


async def _client(
    port: int, request: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


async def load(port: int, body: bytes, seconds: float, connections: int) -> dict[str, float]:
    request = (
        b"POST /v1/endpoints/bc/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *[_client(port, request, until, latencies, errors) for _ in range(connections)]
    )
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / wall,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": float(len(errors)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelyard-offload-"))
    columns, row = prepare(home)
    bodies = {
        "1 row": json.dumps({"records": [dict(zip(columns, row, strict=True))]}).encode(),
        "1000 rows": json.dumps(
            {"columns": {c: [v] * 1000 for c, v in zip(columns, row, strict=True)}}
        ).encode(),
    }
    servers = {name: start(name, home) for name in VARIANTS}
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        n: {b: [] for b in bodies} for n in VARIANTS
    }
    load_before = os.getloadavg()
    try:
        for _, port in servers.values():  # warm up
            for body in bodies.values():
                asyncio.run(load(port, body, 1.0, args.connections))
        for run in range(args.runs):
            for body_name, body in bodies.items():
                for name, (proc, port) in servers.items():
                    cpu0 = cpu_seconds(proc.pid)
                    figures = asyncio.run(load(port, body, args.seconds, args.connections))
                    requests = figures["rps"] * args.seconds
                    figures["cpu_us_per_request"] = (
                        (cpu_seconds(proc.pid) - cpu0) / max(requests, 1) * 1e6
                    )
                    results[name][body_name].append(figures)
                    print(
                        f"run {run + 1} {body_name:9} {name:8} {figures['rps']:8.0f} req/s  p99 {figures['p99_ms']:.2f} ms"
                        f"  {figures['cpu_us_per_request']:.0f} us CPU/request",
                        flush=True,
                    )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    load_after = os.getloadavg()
    medians = {
        name: {
            body_name: {
                key: statistics.median(r[key] for r in runs)
                for key in ("rps", "p50_ms", "p99_ms", "errors", "cpu_us_per_request")
            }
            for body_name, runs in by_body.items()
        }
        for name, by_body in results.items()
    }
    out = HERE.parent / "results" / "offload.json"
    out.write_text(
        json.dumps(
            {
                "runs": args.runs,
                "seconds": args.seconds,
                "connections": args.connections,
                "cpus": os.cpu_count(),
                "load_average_before": load_before,
                "load_average_after": load_after,
                "medians": medians,
                "per_run": results,
            },
            indent=1,
        )
    )
    print(
        f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} CPUs)\n"
    )
    print(
        "| request | server | req/s (median) | p50 ms | p99 ms | server CPU µs/request (median) | CPU ÷ before |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for body_name in bodies:
        base = medians["before"][body_name]["cpu_us_per_request"]
        for name in VARIANTS:
            m = medians[name][body_name]
            print(
                f"| {body_name} | {name} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} "
                f"| {m['cpu_us_per_request']:,.0f} | {m['cpu_us_per_request'] / base:.3f} |"
            )


if __name__ == "__main__":
    main()
