"""The load_big workload for two source trees side by side: this checkout and another.

    git archive <rev> src | tar -x -C /tmp/before
    .venv/bin/python benchmarks/registry/load_big_ab.py --before /tmp/before/src [--repeats 7]

Each repeat runs ``workload_modelyard.py load_big`` (register a PythonModel holding a
50 MiB array, then, in a fresh interpreter, read+sha256 a 50 MiB file and time the first
``load_model``) once with ``--before`` first on PYTHONPATH and once with this checkout's
package, alternating which goes first, each against a brand-new store. Prints the medians
of the first load, of the reference measured in the same process, and of their ratio,
with the load average before and after. Figures are measurements of this machine, not
thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "workload_modelyard.py"
FIELDS = ("first_load_s", "reference_s", "load_over_reference", "max_rss_mb")


def run(src: str | None) -> dict[str, float]:
    env = dict(os.environ)
    for key in ("MODELYARD_HOME", "MODELYARD_ARTIFACT_URI", "MODELYARD_TRACKING_URI"):
        env.pop(key, None)
    if src is not None:
        env["PYTHONPATH"] = src
    with tempfile.TemporaryDirectory(prefix="load-big-") as store:
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "load_big", store],
            cwd=store,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(
            f"load_big failed ({'before' if src else 'after'}):\n{proc.stderr[-3000:]}"
        )
    result = json.loads(lines[-1])
    if not result.get("predict_ok"):
        raise SystemExit(f"the loaded model predicted wrong: {result}")
    return {field: float(result[field]) for field in FIELDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the other tree's src folder")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for i in range(args.repeats):
        order = ["before", "after"] if i % 2 == 0 else ["after", "before"]
        for name in order:
            got = run(args.before if name == "before" else None)
            results[name].append(got)
            print(
                f"{i + 1:2d} {name:6s} " + " ".join(f"{k}={v}" for k, v in got.items()), flush=True
            )
    print(f"load average after: {os.getloadavg()}")
    print(f"medians of {args.repeats}:")
    for name, rows in results.items():
        medians = {k: round(statistics.median(r[k] for r in rows), 4) for k in FIELDS}
        print(f"  {name:6s} " + " ".join(f"{k}={v}" for k, v in medians.items()))


if __name__ == "__main__":
    main()
