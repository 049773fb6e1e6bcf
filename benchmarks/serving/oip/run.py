"""What the v2/input-checking changes cost or save, end to end: the scoring server of a base
commit (default 9b3d24e, before them) against this working tree, one after the other, on the
same registered model.

    .venv/bin/python benchmarks/serving/oip/run.py [--base 9b3d24e] [--repeats 5] [--requests 300]

* Model: GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0) on
  scikit-learn's breast-cancer data (30 float columns), registered with an input example in a
  fresh store; `modelyard serve models:/bc/1 --workers 1` on a free loopback port, one with
  the base commit's `src` (extracted with `git archive`), one with this tree's.
* Cases, one keep-alive client per server (httpx), sequential requests: native records 1 row,
  native 1,000 rows, v2 JSON tensor [1, 30], v2 [1000, 30]; per repeat the median latency of
  --requests requests (a tenth for 1,000 rows); the figure is the median over repeats. Both
  servers run side by side and every repeat measures each case on both, alternating which
  goes first, so the shared machine's load changes hit both alike.
* D4: four bodies of 60,000 rows of the 30 columns (3.6 MB `{"columns": ...}`) sent at once while
  `/v2/health/live` is polled; the time until all four are refused (413) and the slowest health
  answer meanwhile.
* Besides wall latency (which on a loaded, shared machine is mostly waiting for a core), the
  server's CPU time per request (utime + stime from /proc, over the same requests).
* Writes benchmarks/serving/oip/results.json and prints a table; the machine is shared, so the
  load average is recorded with the figures.
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
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def register(store: Path) -> list[str]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    from modelyard.registry import Client

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    Client(str(store)).register_model("bc", model, input_example=X.head(5))
    return [str(c) for c in X.columns]


def source_of(base: str | None, into: Path) -> Path:
    if base is None:
        return ROOT / "src"
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), base, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def serve(src: Path, store: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "MODELYARD_TRACKING_URI": str(store)}
    code = "from modelyard.cli import main; main()"
    proc = subprocess.Popen(
        [str(VENV_BIN / "python"), "-c", code, "serve", "models:/bc/1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/v2/health/ready", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), unaffected by how long it
    waited for a core on a loaded machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency(
    client: httpx.Client, path: str, body: bytes, count: int, pid: int
) -> tuple[float, float]:
    """(median wall latency, server CPU per request), both in ms."""
    times = []
    cpu = cpu_seconds(pid)
    for _ in range(count):
        started = time.perf_counter()
        answer = client.post(path, content=body, headers={"content-type": "application/json"})
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[:200]
    return statistics.median(times) * 1000.0, (cpu_seconds(pid) - cpu) / count * 1000.0


async def d4(base: str, columns: list[str]) -> dict[str, float]:
    body = json.dumps(
        {"columns": {c: [0] * 60_000 for c in columns}}, separators=(",", ":")
    ).encode()
    async with httpx.AsyncClient(timeout=120) as client:
        health: list[float] = []
        done = asyncio.Event()

        async def poll() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await client.get(f"{base}/v2/health/live")
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)

        async def bombs() -> list[int]:
            started = time.perf_counter()
            answers = await asyncio.gather(
                *[
                    client.post(
                        f"{base}/v1/endpoints/bc/predict", content=body, headers={"content-type": "application/json"}
                    )
                    for _ in range(4)
                ]
            )
            bombs.seconds = time.perf_counter() - started  # type: ignore[attr-defined]
            done.set()
            return [a.status_code for a in answers]

        poller = asyncio.create_task(poll())
        statuses = await bombs()
        await poller
    assert statuses == [413] * 4, statuses
    return {"refused_all_four_s": bombs.seconds, "health_max_s": max(health)}  # type: ignore[attr-defined]


def cases(requests: int) -> dict[str, tuple[str, bytes, int]]:
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
    big = X.sample(1000, replace=True, random_state=0)
    one = X.head(1)

    def v2(frame: Any) -> dict[str, Any]:
        data = np.asarray(frame).ravel().tolist()
        return {
            "inputs": [{"name": "x", "shape": [len(frame), 30], "datatype": "FP64", "data": data}]
        }

    native, infer = "/v1/endpoints/bc/predict", "/v2/models/bc/infer"
    plain = {
        "native 1 row": (native, {"records": one.to_dict(orient="records")}, requests),
        "native 1000 rows": (native, {"records": big.to_dict(orient="records")}, requests // 10),
        "v2 [1, 30]": (infer, v2(one), requests),
        "v2 [1000, 30]": (infer, v2(big), requests // 10),
    }
    return {name: (path, json.dumps(body).encode(), n) for name, (path, body, n) in plain.items()}


def measure(
    sources: dict[str, Path], store: Path, columns: list[str], repeats: int, requests: int
) -> dict[str, Any]:
    """Both servers run side by side; each repeat measures every case on both, alternating
    which goes first, so a change in the machine's load hits both alike."""
    servers = {label: serve(src, store) for label, src in sources.items()}
    try:
        work = cases(requests)
        runs: dict[str, dict[str, list[tuple[float, float]]]] = {
            label: {c: [] for c in work} for label in servers
        }
        clients = {
            label: httpx.Client(base_url=base, timeout=60) for label, (_, base) in servers.items()
        }
        for label, client in clients.items():  # warm-up
            for path, body, count in work.values():
                latency(client, path, body, max(count // 5, 3), servers[label][0].pid)
        labels = list(servers)
        for repeat in range(repeats):
            order = labels if repeat % 2 == 0 else labels[::-1]
            for case, (path, body, count) in work.items():
                for label in order:
                    runs[label][case].append(
                        latency(clients[label], path, body, count, servers[label][0].pid)
                    )
        for client in clients.values():
            client.close()
        out: dict[str, Any] = {}
        for label, (_, base) in servers.items():
            out[label] = {
                c: {
                    "median_ms": statistics.median(w for w, _ in r),
                    "cpu_ms_per_request": statistics.median(c for _, c in r),
                    "runs": r,
                }
                for c, r in runs[label].items()
            }
            out[label]["d4"] = asyncio.run(d4(base, columns))
        return out
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", default="9b3d24e")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "store"
        columns = register(store)
        sources = {args.base: source_of(args.base, folder), "this tree": source_of(None, folder)}
        load_before = os.getloadavg()
        results: dict[str, Any] = measure(sources, store, columns, args.repeats, args.requests)
        results["load_average_before"] = load_before
        results["load_average_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(
        f"load average before {results['load_average_before']}, after {results['load_average_after']}"
    )
    base, tree = results[args.base], results["this tree"]
    print(
        f"{'case':18s} {'wall ' + args.base:>14s} {'wall tree':>10s} {'cpu ' + args.base:>13s} {'cpu tree':>9s}"
    )
    for case in tree:
        if case == "d4":
            continue
        print(
            f"{case:18s} {base[case]['median_ms']:12.2f}ms {tree[case]['median_ms']:8.2f}ms"
            f" {base[case]['cpu_ms_per_request']:11.2f}ms {tree[case]['cpu_ms_per_request']:7.2f}ms"
        )
    for key in ("refused_all_four_s", "health_max_s"):
        print(
            f"d4 {key:17s} {results[args.base]['d4'][key]:10.2f}s  {results['this tree']['d4'][key]:10.2f}s"
        )


if __name__ == "__main__":
    main()
