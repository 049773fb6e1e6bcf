"""Where the prediction log's instructions go: the response path and the flush, counted
apart by valgrind's callgrind, a base commit against this tree (issue 14's "log ≤ 5%" goal).

    .venv/bin/python benchmarks/serving/perf/log_parts.py [--base 154fa09] [--requests 1000 12000]

``instructions.py`` counts requests and their flush together; here each part is its own
count, so a change to one shows as that part's change:

* Model and deployments as in instructions.py (GBM-100 on breast cancer, ``engine: onnx``, the
  prediction log on and off), driven in process through ASGI.
* ``response``: instructions a request with the log on, minus with it off (the flush
  excluded; what the log adds to answering).
* ``flush``: instructions of the flush a row (the writer thread's share: building the
  columns and writing Parquet).
* Per request = (count at the larger N - count at the smaller N) / the difference in N, so
  start-up, imports and fixed costs cancel out. Counts do not depend on the machine's load,
  but a full pass of the garbage collector (it walks the whole heap) falls in one run and not
  in another as allocations shift, which moved a response figure by thousands at these sizes.
  So each run starts with a full collection after its warm-up, and N is large.
* valgrind must be on PATH; a run at the default sizes takes ~25 minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import instructions  # noqa: E402  (prepared, requester)


def drive(variant: str, requests: int, work: Path, part: str) -> None:
    """Inside valgrind: the app warmed up and flushed, then ``requests`` requests and their
    flush, with the instrumentation on around ``part`` only."""
    os.environ["MODELYARD_HOME"] = str(work / "home")
    from modelyard.serving._app import ScoringServer

    server = ScoringServer(str(work / f"{variant}.yaml"), tracking_uri=str(work / "store"), watch=False)
    many, statuses = instructions.requester(server.app(), (work / "body.json").read_bytes())
    writer = server.writer

    def instrument(on: bool) -> None:
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True, capture_output=True)

    asyncio.run(many(50))
    if writer is not None:
        writer.flush()
    gc.collect()  # every count starts from the same collector state (see the module's notes)
    instrument(part == "response")
    asyncio.run(many(requests))
    instrument(part == "flush")
    if writer is not None:
        writer.flush()
    instrument(False)
    if set(statuses) != {200}:
        raise SystemExit(f"{variant}: answered {sorted(set(statuses))}")


def count(src: Path, variant: str, requests: int, work: Path, part: str) -> int:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--drive", variant, str(requests), str(work), part],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    found = [line for line in done.stderr.splitlines() if "Collected :" in line]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"{variant} {part} from {src}:\n{done.stderr[-2000:]}")
    return int(found[-1].split(":")[-1].strip().replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="154fa09", help="the commit to compare this tree with")
    ap.add_argument("--requests", type=int, nargs=2, default=[1000, 12000])
    ap.add_argument("--out", default=str(HERE / "log_parts.json"))
    ap.add_argument("--drive", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drive:
        variant, requests, work, part = args.drive
        drive(variant, int(requests), Path(work), part)
        return
    small, large = args.requests
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sources = instructions.prepared(work, args.base)
        jobs = [(s, v, p) for s in sources for v, p in (("onnx", "response"), ("onnx-nolog", "response"), ("onnx", "flush"))]
        with ThreadPoolExecutor(max_workers=2) as pool:  # counts do not depend on what runs beside
            futures = {(s, v, p, n): pool.submit(count, sources[s], v, n, work, p) for s, v, p in jobs for n in (small, large)}
            totals = {k: f.result() for k, f in futures.items()}
    per = {f"{s} {v} {p}": (totals[(s, v, p, large)] - totals[(s, v, p, small)]) / (large - small) for s, v, p in jobs}
    parts = {
        s: {"response": per[f"{s} onnx response"] - per[f"{s} onnx-nolog response"], "flush": per[f"{s} onnx flush"],
            "answer": per[f"{s} onnx-nolog response"]}
        for s in sources
    }  # fmt: skip
    Path(args.out).write_text(json.dumps({"base": args.base, "requests": [small, large], "parts": parts, "per_request": per}, indent=2))
    print(f"{'tree':6s} {'answer (log off)':>17s} {'response path':>14s} {'flush a row':>12s} {'log in all':>11s} {'share':>7s}")
    for s, p in parts.items():
        log = p["response"] + p["flush"]
        print(f"{s:6s} {p['answer']:17,.0f} {p['response']:14,.0f} {p['flush']:12,.0f} {log:11,.0f} {100 * log / p['answer']:6.1f}%")


if __name__ == "__main__":
    main()
