"""Server CPU time per single-row request, a base commit against this working tree (issue 14).

    .venv/bin/python benchmarks/serving/perf/run.py [--base d03e2c8] [--repeats 7] [--requests 400]

* Model: GradientBoostingClassifier(n_estimators=100, max_depth=3) on breast-cancer (30 float
  columns), registered with an input example and an ONNX graph (``onnx=True``).
* Deployments, each served by ``modelyard serve DEPLOY.yaml --workers 2`` (so prometheus_client
  runs in multiprocess mode, as in production), once with the base commit's ``src`` and once
  with this tree's: ``sklearn`` (prediction log on), ``sklearn-nolog`` (log off), ``onnx``
  (``engine: onnx``, log on), ``onnx-nolog``.
* The floor: ``lean_onnx.py`` (Starlette, uvicorn with uvloop/httptools, 2 workers, orjson,
  one onnxruntime run on the same graph), measured with ``onnx-nolog``.
* One keep-alive client per server, sequential native-JSON single-row requests; after each batch
  of --requests requests, the CPU time (schedstat, ns, every thread) of the server's whole
  process tree divided by the requests: unaffected by how long a process waited for a core
  on a loaded machine, unlike wall time. Every repeat measures every deployment on both trees, alternating
  which goes first; the figure is the median over repeats.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

_OIP = importlib.util.spec_from_file_location(
    "oip_run", Path(__file__).resolve().parents[1] / "oip" / "run.py"
)
assert _OIP is not None and _OIP.loader is not None
oip = importlib.util.module_from_spec(_OIP)
_OIP.loader.exec_module(oip)
free_port, source_of = oip.free_port, oip.source_of

VENV_BIN = Path(sys.executable).parent
PATH = "/v1/endpoints/bc/predict"


def register(store: Path) -> bytes:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    from modelyard.registry import Client

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    Client(str(store)).register_model("bc", model, input_example=X.head(5), onnx=True)
    import onnx

    from modelyard.flavors._onnx_convert import _convert

    # the floor's graph: converted the way register_model(onnx=True) converts it
    onnx.save_model(_convert(model, "sklearn", X.shape[1]), str(store.parent / "bc.onnx"))
    return json.dumps({"records": X.head(1).to_dict(orient="records")}).encode()


def deployments(folder: Path) -> dict[str, Path]:
    out = {}
    for name, engine, logged in (
        ("sklearn", "native", True),
        ("sklearn-nolog", "native", False),
        ("onnx", "onnx", True),
        ("onnx-nolog", "onnx", False),
    ):
        path = folder / f"{name}.yaml"
        path.write_text(
            json.dumps(
                {
                    "endpoints": [
                        {"name": "bc", "routes": [{"model": "models:/bc/1", "engine": engine}]}
                    ],
                    "prediction_log": {"enabled": logged, "path": str(folder / f"log-{name}")},
                }
            )
        )
        out[name] = path
    return out


def serve(src: Path, store: Path, deploy: Path, home: Path, workers: int = 2) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "MODELYARD_TRACKING_URI": str(store),
        "MODELYARD_HOME": str(home),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    code = "from modelyard.cli import main; main()"
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-c",
            code,
            "serve",
            str(deploy),
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(proc, lambda: httpx.get(f"{base}/v2/health/ready", timeout=1), f"server {deploy.name} from {src}")
    return proc, base


def wait_until(proc: subprocess.Popen[bytes], probe: Any, what: str) -> None:
    """Poll ``probe`` (an HTTP call) until it answers 200; kill ``proc`` after 180 s."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if probe().status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{what} did not start")


def serve_lean(app: str, app_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A lean server (``module:app`` in ``app_dir``) under uvicorn with uvloop and httptools,
    2 workers, as the floors run."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "python"), "-m", "uvicorn", app, "--app-dir", str(app_dir),
            "--port", str(port), "--workers", "2", "--loop", "uvloop", "--http", "httptools",
            "--log-level", "warning", "--no-access-log",
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def serve_floor(store: Path, body: bytes) -> tuple[subprocess.Popen[bytes], str]:
    """The lean ONNX server (lean_onnx.py) on the graph modelyard registered, 2 workers."""
    columns = list(json.loads(body)["records"][0])
    env = {"LEAN_ONNX": str(store.parent / "bc.onnx"), "LEAN_COLUMNS": json.dumps(columns)}
    proc, base = serve_lean("lean_onnx:app", Path(__file__).parent, env)
    wait_until(proc, lambda: httpx.post(f"{base}{PATH}", content=body, timeout=1), "the lean ONNX server")
    return proc, base


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants so far, every thread included: the first
    field of /proc/PID/task/TID/schedstat (nanoseconds on a core; /proc/PID/stat counts in
    10 ms ticks, too coarse for a few hundred requests)."""
    total = 0
    for p in tree(pid):
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9


def run_batch(base: str, body: bytes, count: int, pid: int) -> tuple[float, float]:
    """(median wall latency ms, server CPU µs per request). A new keep-alive connection per
    batch: the server closes connections left idle while the others were measured."""
    times = []
    with httpx.Client(base_url=base, timeout=60) as client:
        client.post(PATH, content=body, headers={"content-type": "application/json"})
        cpu = cpu_seconds(pid)
        for _ in range(count):
            started = time.perf_counter()
            answer = client.post(PATH, content=body, headers={"content-type": "application/json"})
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text[:200]
        spent = cpu_seconds(pid) - cpu
    return statistics.median(times) * 1000.0, spent / count * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", default="d03e2c8")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--only", nargs="*", default=None, help="deployment names to run")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "store"
        body = register(store)
        deploys = deployments(folder)
        if args.only:
            deploys = {k: v for k, v in deploys.items() if k in args.only}
        sources = {"base": source_of(args.base, folder), "tree": source_of(None, folder)}
        load_before = os.getloadavg()
        servers = {
            (label, name): serve(src, store, deploy, folder / f"home-{label}-{name}")
            for label, src in sources.items()
            for name, deploy in deploys.items()
        }
        if "onnx-nolog" in deploys:
            servers[("floor", "onnx-nolog")] = serve_floor(store, body)
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in servers}
        try:
            for proc, base in servers.values():  # warm-up: imports, caches
                run_batch(base, body, args.requests // 2, proc.pid)
            for repeat in range(args.repeats):
                labels = ["base", "tree"] if repeat % 2 == 0 else ["tree", "base"]
                labels += ["floor"]
                for name in deploys:
                    for label in labels:
                        k = (label, name)
                        if k not in servers:
                            continue
                        proc, base = servers[k]
                        runs[k].append(run_batch(base, body, args.requests, proc.pid))
        finally:
            for proc, _ in servers.values():
                proc.terminate()
            for proc, _ in servers.values():
                proc.wait(timeout=30)
        load_after = os.getloadavg()
    results: dict[str, Any] = {
        "base": args.base,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cases": {
            name: {
                label: {
                    "cpu_us_per_request": statistics.median(c for _, c in runs[(label, name)]),
                    "median_wall_ms": statistics.median(w for w, _ in runs[(label, name)]),
                    "runs": runs[(label, name)],
                }
                for label in [*sources, "floor"]
                if (label, name) in runs
            }
            for name in deploys
        },
    }
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"load average before {load_before}, after {load_after}")
    print(
        f"{'deployment':14s} {'cpu base µs':>12s} {'cpu tree µs':>12s} {'change':>8s} {'wall base':>10s} {'wall tree':>10s}"
    )
    for name, r in results["cases"].items():
        b, t = r["base"], r["tree"]
        change = (t["cpu_us_per_request"] / b["cpu_us_per_request"] - 1) * 100
        print(
            f"{name:14s} {b['cpu_us_per_request']:12.0f} {t['cpu_us_per_request']:12.0f} {change:+7.0f}%"
            f" {b['median_wall_ms']:8.2f}ms {t['median_wall_ms']:8.2f}ms"
        )
        if "floor" in r:
            f = r["floor"]
            print(
                f"{'  lean floor':14s} {'':12s} {f['cpu_us_per_request']:12.0f} {'':8s}"
                f" {'':10s} {f['median_wall_ms']:8.2f}ms"
            )


if __name__ == "__main__":
    main()
