"""Instructions per single-row request, counted by valgrind's callgrind: a base commit against
this tree and the lean ONNX floor (issue 14). Counts, not seconds: the same for the same code
and inputs whatever else the machine is doing, which makes small changes measurable on a
shared, noisy machine where req/s and CPU time move by ±30% from one run to the next.

    .venv/bin/python benchmarks/serving/perf/instructions.py [--base a205b54] [--requests 200 1000]

* Model and deployments as in perf/run.py: GBM-100 on breast cancer with its ONNX graph,
  ``engine: onnx`` with the prediction log on (flushed once, inside the counted part, with
  every row of the run) and off; the floor is ``lean_onnx.py``.
* Each app is driven in process through ASGI (no sockets: the server's own work only), 50
  requests to warm up, then callgrind's instrumentation is switched on around N requests.
  Per request = (count at the larger N - count at the smaller N) / the difference in N, so
  start-up, imports and the instrumentation switch cancel out.
* valgrind must be on PATH (``apt-get install valgrind``); a run of the six apps at both
  sizes takes ~5 minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as perf  # noqa: E402  (perf/run.py: register, source_of)

PATH = perf.PATH


def prepare(work: Path) -> None:
    """The store, the request body, the deployments and the floor's graph, made once."""
    body = perf.register(work / "store")
    (work / "body.json").write_bytes(body)
    for name, log in (("onnx", {"enabled": True, "flush_seconds": 3600}), ("onnx-nolog", {"enabled": False})):
        deployment = {
            "endpoints": [{"name": "bc", "routes": [{"model": "models:/bc/1", "engine": "onnx"}]}],
            "prediction_log": {**log, "path": str(work / f"log-{name}")},
        }
        (work / f"{name}.yaml").write_text(json.dumps(deployment))
    from sklearn.datasets import load_breast_cancer

    X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
    (work / "columns.json").write_text(json.dumps(list(X.columns)))


def prepared(work: Path, base: str) -> dict[str, Path]:
    """``prepare`` in ``work``, and the ``src`` folders to compare: ``base``'s and this tree's."""
    prepare(work)
    base_dir = work / "base"
    base_dir.mkdir()
    return {"base": perf.source_of(base, base_dir), "tree": perf.source_of(None, work)}


def requester(app: Any, body: bytes) -> tuple[Callable[[int], Awaitable[None]], list[int]]:
    """``many(n)``: ``n`` POSTs of ``body`` to the predict path of the ASGI ``app``, in
    process; and the list their statuses go to."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
        "headers": [(b"host", b"x"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    message = {"type": "http.request", "body": body, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(m: MutableMapping[str, Any]) -> None:
        if m["type"] == "http.response.start":
            statuses.append(m["status"])

    async def many(n: int) -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)

    return many, statuses


def drive(variant: str, requests: int, work: Path) -> None:
    """Inside valgrind: build the app, warm it up, count ``requests`` requests."""
    os.environ["MODELYARD_HOME"] = str(work / "home")
    body = (work / "body.json").read_bytes()
    server = None
    if variant == "lean":
        os.environ["LEAN_ONNX"] = str(work / "bc.onnx")
        os.environ["LEAN_COLUMNS"] = (work / "columns.json").read_text()
        import lean_onnx

        app: Any = lean_onnx.app
    else:
        from modelyard.serving._app import ScoringServer

        server = ScoringServer(str(work / f"{variant}.yaml"), tracking_uri=str(work / "store"), watch=False)
        app = server.app()
    many, statuses = requester(app, body)

    def instrument(on: bool) -> None:
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True, capture_output=True)

    asyncio.run(many(50))
    instrument(True)
    asyncio.run(many(requests))
    if server is not None and server.writer is not None:
        server.writer.flush()
    instrument(False)
    if set(statuses) != {200}:
        raise SystemExit(f"{variant}: answered {sorted(set(statuses))}")


def count(src: Path, variant: str, requests: int, work: Path) -> int:
    out = work / f"cg-{src.parent.name}-{variant}-{requests}.out"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         sys.executable, __file__, "--drive", variant, str(requests), str(work)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    found = [line for line in done.stderr.splitlines() if "Collected :" in line]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"{variant} from {src}:\n{done.stderr[-2000:]}")
    return int(found[-1].split(":")[-1].strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="a205b54", help="the commit to compare this tree with")
    ap.add_argument("--requests", type=int, nargs=2, default=[200, 1000])
    ap.add_argument("--out", default=str(HERE / "instructions.json"))
    ap.add_argument("--drive", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drive:
        drive(args.drive[0], int(args.drive[1]), Path(args.drive[2]))
        return
    small, large = args.requests
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sources = prepared(work, args.base)
        jobs = [("tree", "lean")] + [(s, v) for s in ("base", "tree") for v in ("onnx", "onnx-nolog")]
        with ThreadPoolExecutor(max_workers=2) as pool:  # counts do not depend on what runs beside
            counts = {
                (s, v, n): pool.submit(count, sources[s], v, n, work)
                for s, v in jobs
                for n in (small, large)
            }
            totals = {k: f.result() for k, f in counts.items()}
    per = {f"{s} {v}": (totals[(s, v, large)] - totals[(s, v, small)]) / (large - small) for s, v in jobs}
    floor = per["tree lean"]
    Path(args.out).write_text(json.dumps({"base": args.base, "requests": [small, large], "per_request": per, "totals": {" ".join(map(str, k)): v for k, v in totals.items()}}, indent=2))
    print(f"{'app':22s} {'instructions/request':>21s} {'floor share':>12s}")
    for name, value in per.items():
        print(f"{name:22s} {value:21,.0f} {100 * floor / value:11.0f}%")


if __name__ == "__main__":
    main()
