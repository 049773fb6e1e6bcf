"""What the prediction log costs the ONNX route, from pairs of fresh servers: issue 14's "log
and ``/metrics`` ≤ 5%" goal measured against the noise between two instances of one server.

    .venv/bin/python benchmarks/serving/perf/log_cost.py [--pairs 8] [--seconds 10] [--src SRC]

Why not ``wrk_floor.py``: it starts each server once and drives it several times, so what
differs between two instances of the same code (where the kernel put their pages and their
processes, what their allocators hold) stays in every repeat. On this machine two instances of
one server differed by up to 4%, as much as the goal. Here every measurement is a new server:

* Model and deployments as in ``wrk_floor.py`` (GBM-100 on breast cancer, ``engine: onnx``,
  2 workers, ``wrk -t2 -c16``), the prediction log on and off.
* A pair is one server with the log and one without, started fresh, warmed up for 2 s and driven
  for ``--seconds``, then stopped; the pair's order alternates. Each pair gives the log's cost in
  throughput (1 - on/off) and in server CPU per request (on/off - 1, user and system time of the
  server's processes from ``/proc``).
* Prints the median cost over the pairs and its spread (the quartiles), and ``--null`` pairs
  of the log-off server against itself: the spread a cost must clear to mean anything.

``--together`` is for a machine whose other tenants come and go: run one after the other, two
instances of one server differed by up to 19% there, because the neighbours changed between
them. Then a pair's two servers (one worker each) are started and driven at the same time, each
by its own ``wrk -t1 -c8``, so whatever the neighbours do falls on both alike. The cost to read
is the CPU a request (each server's whole process tree, from ``/proc``): throughput is shared
by the scheduler, which counts threads, not servers, so the log's writer thread, while it
flushes, takes a share from the other server too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as perf  # perf/run.py: register, deployments, serve
import wrk_floor  # wrk, tree_cpu

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def measure(
    src: Path, store: Path, deploys: list[Path], homes: list[Path], body: bytes, seconds: int, folder: Path
) -> list[dict[str, float]]:
    """Fresh servers, warmed up and driven by wrk at the same time, one wrk each; stopped. One
    server gets 2 workers and ``wrk -t2 -c16``; several (``--together``) 1 worker and
    ``wrk -t1 -c8`` each."""
    alone = len(deploys) == 1
    started: list[tuple[Any, str]] = []
    try:
        for deploy, home in zip(deploys, homes, strict=True):
            started.append(perf.serve(src, store, deploy, home, workers=2 if alone else 1))
        scripts = [folder / f"post-{k}.lua" for k in range(len(started))]

        def drive(k: int, secs: int) -> dict[str, float]:
            url = started[k][1] + perf.PATH
            return wrk_floor.wrk(url, body, secs, scripts[k], threads=2 if alone else 1, connections=16 if alone else 8)

        with ThreadPoolExecutor(len(started)) as pool:
            list(pool.map(lambda k: drive(k, 2), range(len(started))))
            before = [wrk_floor.tree_cpu(proc.pid) for proc, _ in started]
            runs = list(pool.map(lambda k: drive(k, seconds), range(len(started))))
            after = [wrk_floor.tree_cpu(proc.pid) for proc, _ in started]
        for run, b, a in zip(runs, before, after, strict=True):
            run["cpu_us"] = (a - b) * 1e6 / (run["req_s"] * seconds)
        return runs
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            proc.wait(timeout=30)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--null", type=int, default=4, help="pairs of the log-off server against itself")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--src", default=str(ROOT / "src"), help="the checkout's src folder to serve")
    ap.add_argument("--out", default=str(HERE / "log_cost.json"))
    ap.add_argument("--together", action="store_true", help="drive each pair's two servers at the same time (see above)")
    args = ap.parse_args()
    src = Path(args.src)
    pairs: list[dict[str, Any]] = []
    nulls: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = folder / "store"
        body = perf.register(store)
        deploys = perf.deployments(folder)
        for i in range(args.pairs + args.null):
            null = i >= args.pairs
            names = ["onnx-nolog", "onnx-nolog"] if null else ["onnx", "onnx-nolog"]
            if i % 2:
                names.reverse()
            homes = [folder / f"home-{i}-{j}" for j in range(len(names))]
            batches = [list(range(len(names)))] if args.together else [[j] for j in range(len(names))]
            runs = {}
            for batch in batches:
                done = measure(src, store, [deploys[names[j]] for j in batch], [homes[j] for j in batch], body, args.seconds, folder)
                runs.update({f"{names[j]}#{j}": run for j, run in zip(batch, done, strict=True)})
            on, off = (runs[k] for k in sorted(runs, key=lambda k: (k.startswith("onnx-nolog"), k)))
            pair = {
                "order": names,
                "on": on,
                "off": off,
                "throughput_cost": 1 - on["req_s"] / off["req_s"],
                "cpu_cost": on["cpu_us"] / off["cpu_us"] - 1,
            }
            (nulls if null else pairs).append(pair)
            kind = "null" if null else "pair"
            print(
                f"{kind} {i + 1}: {on['req_s']:8.0f} vs {off['req_s']:8.0f} req/s, cost {100 * pair['throughput_cost']:5.1f}%; "
                f"cpu {on['cpu_us']:5.1f} vs {off['cpu_us']:5.1f} µs/req, cost {100 * pair['cpu_cost']:5.1f}%",
                flush=True,
            )
    summary = {}
    for label, group in (("log on vs off", pairs), ("off vs off (null)", nulls)):
        if len(group) < 2:
            continue
        for key in ("throughput_cost", "cpu_cost"):
            q1, q2, q3 = quartiles([p[key] for p in group])
            summary[f"{label}: {key}"] = {"median": q2, "q1": q1, "q3": q3, "n": len(group)}
            print(f"{label:20s} {key:16s} median {100 * q2:5.1f}%  quartiles {100 * q1:5.1f}% .. {100 * q3:5.1f}%  (n={len(group)})")
    Path(args.out).write_text(
        json.dumps({"together": args.together, "summary": summary, "pairs": pairs, "nulls": nulls}, indent=2)
    )


if __name__ == "__main__":
    main()
