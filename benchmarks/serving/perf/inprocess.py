"""Microseconds per single-row request, in process: a base commit against this tree, the app
driven through ASGI as in instructions.py, timed by the clock instead of counted by callgrind.

    .venv/bin/python benchmarks/serving/perf/inprocess.py [--base 7b5f85a] [--rounds 3]

Why both: callgrind counts instructions, the same whatever the machine does, but not what an
instruction waits for. Between two requests the model's run, the JSON parser and the event
loop take the caches, so work on the response path costs more in place than its count says
(the prediction log's lane ``add`` with its checks and copies: 2.8 µs in place against 0.8 µs
in a loop of its own). This harness measures the response path and the log's flush as a
served request pays them, on a quiet machine.

* Model and deployments as in instructions.py (GBM-100 on breast cancer, ``engine: onnx``,
  the prediction log on and off). Each measurement is a fresh process: 500 requests to warm
  up, then five times 3,000 requests followed by the log's flush (the rows of those
  requests); the best of the five, per request. ``--rounds`` alternates base and tree that
  many times; the figures are medians over the rounds.
* Prints, per app: µs per request with the flush, of which the flush per row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import instructions  # noqa: E402  (prepared, requester)

BATCH = 3000


def drive(variant: str, work: Path) -> dict[str, float]:
    """In a fresh process: the app, warmed up, then five timed batches of requests."""
    os.environ["MODELYARD_HOME"] = str(work / "home")
    from modelyard.serving._app import ScoringServer

    server = ScoringServer(str(work / f"{variant}.yaml"), tracking_uri=str(work / "store"), watch=False)
    app = server.app()
    many, statuses = instructions.requester(app, (work / "body.json").read_bytes())
    writer = server.writer
    asyncio.run(many(500))
    if writer is not None:
        writer.flush()
    best, best_flush = float("inf"), 0.0
    for _ in range(5):
        started = time.perf_counter()
        asyncio.run(many(BATCH))
        answered = time.perf_counter()
        if writer is not None:
            writer.flush()
        done = time.perf_counter()
        if done - started < best:
            best, best_flush = done - started, done - answered
    if set(statuses) != {200}:
        raise SystemExit(f"{variant}: answered {sorted(set(statuses))}")
    return {"us_per_request": best / BATCH * 1e6, "flush_us_per_row": best_flush / BATCH * 1e6}


def measure(src: Path, variant: str, work: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    done = subprocess.run(
        [sys.executable, __file__, "--drive", variant, str(work)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{variant} from {src}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="7b5f85a", help="the commit to compare this tree with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "inprocess.json"))
    ap.add_argument("--drive", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drive:
        print(json.dumps(drive(args.drive[0], Path(args.drive[1]))))
        return
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sources = instructions.prepared(work, args.base)
        load_before = os.getloadavg()
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for variant in ("onnx", "onnx-nolog"):
                for name, src in sources.items():
                    runs.setdefault(f"{name} {variant}", []).append(measure(src, variant, work))
        load_after = os.getloadavg()
    summary = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("us_per_request", "flush_us_per_row")}
        for name, rs in runs.items()
    }
    result = {
        "base": args.base, "load_average_before": load_before, "load_average_after": load_after,
        "summary": summary, "runs": runs,
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"load average before {load_before}, after {load_after}; medians of {args.rounds}")
    print(f"{'app':20s} {'µs/request':>11s} {'flush µs/row':>13s} {'log costs':>10s}")
    for name, s in summary.items():
        off = summary[name.replace("onnx", "onnx-nolog")] if name.endswith("onnx") else None
        cost = "" if off is None else f"{s['us_per_request'] - off['us_per_request']:7.2f} µs"
        print(f"{name:20s} {s['us_per_request']:11.2f} {s['flush_us_per_row']:13.2f} {cost:>10s}")


if __name__ == "__main__":
    main()
