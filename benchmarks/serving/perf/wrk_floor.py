"""Throughput against the lean floor with wrk: modelyard's scoring server and the lean servers
side by side, each model path (issue 14's first table).

    .venv/bin/python benchmarks/serving/perf/wrk_floor.py [--repeats 3] [--seconds 10] [--base SRC]
        [--protocol native|v2]

  ``--base`` also serves every modelyard deployment from another checkout's ``src`` folder
  (``git worktree add /tmp/base <commit>``; then ``--base /tmp/base/src``), as ``before …``,
  in the same run: a before/after on the same machine at the same time.

* Model: perf/run.py's GBM-100 on breast cancer (30 float columns), registered with an ONNX
  graph; every server has ``--workers 2`` and is driven by ``wrk -t2 -c16`` with the same
  single-row native-JSON body (wrk must be on PATH: ``apt-get install wrk``).
* Servers: modelyard with ``engine: native`` (scikit-learn) and ``engine: onnx``, each with
  the prediction log on and off; the lean scikit-learn server (``../lean_app.py``: JSON, array,
  ``predict``) and the lean ONNX server (``lean_onnx.py``: JSON, float32 array, one
  onnxruntime run, labels and probabilities).
* ``--protocol v2`` sends modelyard's servers the same row as an Open Inference Protocol
  JSON tensor (``POST /v2/models/bc/infer``, one FP64 tensor of shape [1, 30]); the lean
  servers keep their native body (the model's work is the same; the floor is theirs).
* Every repeat runs every server once, in a rotated order; the figures are medians over the
  repeats. wrk shares the machine's two cores with the server, as in the issue's table.
* ``cpu µs/req``: the CPU time (user and system, from ``/proc``) the server's processes spent
  during a wrk run, per request answered. Throughput on two shared cores moves by ±4% from run
  to run; what a server spends per request moves less, so a cost of a few percent shows there.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as perf  # perf/run.py: register, deployments, serve, serve_floor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def serve_lean_sklearn(folder: Path, body: bytes) -> tuple[subprocess.Popen[bytes], str, str]:
    """The lean scikit-learn server on the same fitted model (pickled by this script)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    (folder / "bc.pkl").write_bytes(pickle.dumps(model))
    (folder / "bc.json").write_text(json.dumps({"columns": list(X.columns)}))
    env = {"BC_PICKLE": str(folder / "bc.pkl"), "BC_META": str(folder / "bc.json")}
    proc, base = perf.serve_lean("lean_app:app", HERE.parent, env)
    perf.wait_until(
        proc,
        lambda: httpx.post(f"{base}/predict", content=body, timeout=1),
        "the lean scikit-learn server",
    )
    return proc, base, "/predict"


def v2_body(native: bytes) -> bytes:
    """The native body's row as an Open Inference Protocol JSON tensor."""
    row = list(json.loads(native)["records"][0].values())
    tensor = {"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}
    return json.dumps({"inputs": [tensor]}).encode()


def wrk(url: str, body: bytes, seconds: int, script: Path, threads: int = 2, connections: int = 16) -> dict[str, float]:
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\n'
        f"wrk.body = [[{body.decode()}]]\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("P50 %d\\nP99 %d\\nERRORS %d\\n", latency:percentile(50), '
        "latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.read"
        " + summary.errors.write + summary.errors.timeout))\nend\n"
    )
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50, p99, errors = (re.search(rf"{k} (\d+)", out) for k in ("P50", "P99", "ERRORS"))
    if not (found and p50 and p99 and errors):
        raise RuntimeError(f"wrk said:\n{out}")
    return {
        "req_s": float(found.group(1)),
        "p50_ms": int(p50.group(1)) / 1000,
        "p99_ms": int(p99.group(1)) / 1000,
        "errors": int(errors.group(1)),
    }


def tree_cpu(root: int) -> float:
    """CPU seconds (user and system) of process ``root`` and its descendants, from ``/proc``."""
    parents: dict[int, int] = {}
    seconds: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry)] = int(fields[1])
        seconds[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grown = {root}, True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        grown = bool(children)
        tree |= children
    return sum(seconds.get(pid, 0.0) for pid in tree)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out", default=str(HERE / "wrk_floor.json"))
    ap.add_argument("--base", help="an earlier checkout's src folder, served as 'before …'")
    ap.add_argument("--protocol", choices=["native", "v2"], default="native", help="modelyard's request format")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "store"
        body = perf.register(store)
        deploys = perf.deployments(folder)
        src = ROOT / "src"
        servers: dict[str, tuple[subprocess.Popen[bytes], str, str]] = {}
        bodies: dict[str, bytes] = {}
        mine, path = (v2_body(body), "/v2/models/bc/infer") if args.protocol == "v2" else (body, perf.PATH)
        try:
            for name in ("sklearn", "sklearn-nolog", "onnx", "onnx-nolog"):
                proc, base = perf.serve(src, store, deploys[name], folder / f"home-{name}")
                servers[f"modelyard {name}"] = (proc, base, path)
                bodies[f"modelyard {name}"] = mine
                if args.base:
                    proc, base = perf.serve(Path(args.base), store, deploys[name], folder / f"home-before-{name}")
                    servers[f"before {name}"] = (proc, base, path)
                    bodies[f"before {name}"] = mine
            servers["lean scikit-learn"] = serve_lean_sklearn(folder, body)
            proc, base = perf.serve_floor(store, body)
            servers["lean ONNX"] = (proc, base, perf.PATH)
            for name, (_, base, path) in servers.items():  # warm-up; every answer must be a 200
                if httpx.post(base + path, content=bodies.get(name, body), headers={"content-type": "application/json"}).status_code != 200:
                    raise RuntimeError(f"{name} does not answer {path} with 200")
                wrk(base + path, bodies.get(name, body), 2, folder / "post.lua")
            load_before = os.getloadavg()
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in servers}
            names = list(servers)
            for repeat in range(args.repeats):
                order = names[repeat % len(names) :] + names[: repeat % len(names)]
                for name in order:
                    proc, base, path = servers[name]
                    before = tree_cpu(proc.pid)
                    run = wrk(base + path, bodies.get(name, body), args.seconds, folder / "post.lua")
                    run["cpu_us"] = (tree_cpu(proc.pid) - before) * 1e6 / (run["req_s"] * args.seconds)
                    runs[name].append(run)
                    print(f"  repeat {repeat + 1} {name:24s} {runs[name][-1]}", flush=True)
            load_after = os.getloadavg()
        finally:
            for proc, _, _ in servers.values():
                proc.terminate()
            for proc, _, _ in servers.values():
                proc.wait(timeout=30)
    summary: dict[str, Any] = {
        name: {
            k: statistics.median(r[k] for r in rs) for k in ("req_s", "p50_ms", "p99_ms", "errors", "cpu_us")
        }
        for name, rs in runs.items()
    }
    result = {
        "protocol": args.protocol,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "summary": summary,
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"load average before {load_before}, after {load_after}; medians of {args.repeats}")
    floors = {"sklearn": "lean scikit-learn", "onnx": "lean ONNX"}
    print(
        f"{'server':26s} {'req/s':>8s} {'of floor':>9s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s} {'cpu µs/req':>10s}"
    )
    for name, s in summary.items():
        kind = name.split()[-1].removesuffix("-nolog")
        floor = summary[floors[kind]]["req_s"] if kind in floors else s["req_s"]
        print(
            f"{name:26s} {s['req_s']:8.0f} {100 * s['req_s'] / floor:8.0f}% {s['p50_ms']:7.2f} {s['p99_ms']:7.2f} {s['errors']:6.0f} {s['cpu_us']:10.1f}"
        )


if __name__ == "__main__":
    main()
