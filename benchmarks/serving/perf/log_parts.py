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
* ``--cache-sim`` also simulates the caches (callgrind's ``--cache-sim=yes``: first-level
  instruction and data caches of 32 KiB, a last level of 8 MiB) and reports, beside
  the instructions, callgrind's cycle estimate: instructions + 10 * first-level misses + 100 *
  last-level misses. Instructions alone miss what new memory a request costs in the caches.
* valgrind must be on PATH; a run at the default sizes takes ~25 minutes on two cores (about
  twice that with ``--cache-sim``).
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


# caches as simulated: this machine reports a 320 MiB last level (direct-mapped), no server's
CACHES = ["--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64"]


def count(src: Path, variant: str, requests: int, work: Path, part: str, caches: bool) -> dict[str, int]:
    """Callgrind's events for one run: ``Ir`` (instructions), and with ``caches`` the misses
    and ``CEst``, its cycle estimate."""
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
         f"--cache-sim={'yes' if caches else 'no'}", *(CACHES if caches else []),
         sys.executable, __file__, "--drive", variant, str(requests), str(work), part],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    names = [line for line in done.stderr.splitlines() if "Events    :" in line]
    found = [line for line in done.stderr.splitlines() if "Collected :" in line]
    if done.returncode != 0 or not found or not names:
        raise RuntimeError(f"{variant} {part} from {src}:\n{done.stderr[-2000:]}")
    values = map(int, found[-1].split(":")[-1].replace(",", "").split())
    events = dict(zip(names[-1].split(":")[-1].split(), values, strict=True))
    if caches:
        first = events["I1mr"] + events["D1mr"] + events["D1mw"]
        last = events["ILmr"] + events["DLmr"] + events["DLmw"]
        events["CEst"] = events["Ir"] + 10 * first + 100 * last
    return events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="154fa09", help="the commit to compare this tree with")
    ap.add_argument("--requests", type=int, nargs=2, default=[1000, 12000])
    ap.add_argument("--out", default=str(HERE / "log_parts.json"))
    ap.add_argument("--cache-sim", action="store_true", help="simulate the caches too; report cycle estimates")
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
            futures = {
                (s, v, p, n): pool.submit(count, sources[s], v, n, work, p, args.cache_sim)
                for s, v, p in jobs for n in (small, large)
            }  # fmt: skip
            totals = {k: f.result() for k, f in futures.items()}
    metrics = ("Ir", "CEst") if args.cache_sim else ("Ir",)
    report: dict[str, object] = {"base": args.base, "requests": [small, large], "cache_sim": args.cache_sim}
    for metric in metrics:
        per = {
            f"{s} {v} {p}": (totals[(s, v, p, large)][metric] - totals[(s, v, p, small)][metric]) / (large - small)
            for s, v, p in jobs
        }  # fmt: skip
        parts = {
            s: {"response": per[f"{s} onnx response"] - per[f"{s} onnx-nolog response"], "flush": per[f"{s} onnx flush"],
                "answer": per[f"{s} onnx-nolog response"]}
            for s in sources
        }  # fmt: skip
        key = "" if metric == "Ir" else f"_{metric}"
        report[f"parts{key}"], report[f"per_request{key}"] = parts, per
        print(f"{metric}: {'tree':6s} {'answer (log off)':>17s} {'response path':>14s} {'flush a row':>12s} {'log in all':>11s} {'share':>7s}")
        for s, p in parts.items():
            log = p["response"] + p["flush"]
            print(f"{' ' * len(metric)}  {s:6s} {p['answer']:17,.0f} {p['response']:14,.0f} {p['flush']:12,.0f} {log:11,.0f} {100 * log / p['answer']:6.1f}%")
    report["totals"] = {" ".join(map(str, k)): v for k, v in totals.items()}
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
