"""How long `--help` takes: modelyard's CLI (this tree, and a base commit's) against MLflow's,
each a fresh process, alternated, medians of --repeats.

    .venv/bin/python benchmarks/cli_startup.py [--base 729da3e] [--repeats 11]

MLflow's CLI is the dev extra's ``mlflow-skinny`` (the same `mlflow` command, fewer
dependencies: its full package imports more). The base commit's ``src`` is exported with
``git archive`` into a scratch folder and put first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="729da3e", help="the commit to compare this tree with")
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cli-startup.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        archive = subprocess.run(["git", "archive", args.base, "src"], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", scratch], input=archive.stdout, check=True)
        code = "from modelyard.cli import main; main()"
        cases = {
            "modelyard --help (this tree)": ([str(BIN / "python"), "-c", code, "--help"], str(ROOT / "src")),
            f"modelyard --help ({args.base})": ([str(BIN / "python"), "-c", code, "--help"], f"{scratch}/src"),
            "mlflow --help (mlflow-skinny)": ([str(BIN / "mlflow"), "--help"], ""),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for repeat in range(args.repeats + 1):
            for name, (argv, path) in cases.items():
                took = timed(argv, {**os.environ, "PYTHONPATH": path})
                if repeat:  # the first round fills the page cache
                    times[name].append(took)
    summary = {name: statistics.median(t) for name, t in times.items()}
    Path(args.out).write_text(json.dumps({"base": args.base, "median_s": summary, "runs_s": times}, indent=2))
    for name, median in summary.items():
        print(f"{name:32s} median {median:.3f} s  (min {min(times[name]):.3f}, max {max(times[name]):.3f})")


if __name__ == "__main__":
    main()
