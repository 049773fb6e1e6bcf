"""Registry benchmark: modelyard vs MLflow, side by side.

    .venv/bin/python benchmarks/registry/run.py [--repeats 3] [--only modelyard|mlflow]
                                               [--out benchmarks/results/registry.json]

Workloads (sizes in _common.py):

* register_live - a fitted GradientBoostingClassifier(100 trees, depth 3) on the
  breast-cancer data, registered as a new version from the live estimator with
  input_example=X.head(5): one untimed warm-up, then 10 timed registrations in one
  process. modelyard: Client.register_model. MLflow: start_run + sklearn.log_model(...,
  registered_model_name=...), the whole call timed.
* load_second - register it once, then in a fresh interpreter load models:/bench/1
  once (first load) and 50 more times (median = the "second load").
  MLflow: pyfunc.load_model and sklearn.load_model, each in its own fresh interpreter.
* load_big - a PythonModel holding a 50 MiB float64 array, registered; in a fresh
  interpreter: read+sha256 of a 50 MiB file (the disk reference), then the first
  load of models:/big/1, timed.

As in benchmarks/tracking: MLflow runs in its own virtualenv (benchmarks/.venvs/mlflow,
created on first use by the tracking benchmark's helper); modelyard runs with this
interpreter. Every (tool, workload, repeat) is a fresh subprocess against a brand-new
temporary store directory (also its working directory, so modelyard's ./.modelyard home
and model cache are new too). Prints a table of medians with the ratio modelyard/MLflow
and writes raw and median results plus machine info to --out. Figures are measurements
of this machine, not pass/fail thresholds.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
REPO = BENCH_DIR.parent

# The tracking benchmark's orchestrator holds the MLflow-venv helper and the small
# formatting helpers; load it under another name (this file is "run.py" too).
_spec = importlib.util.spec_from_file_location("tracking_run", BENCH_DIR / "tracking" / "run.py")
assert _spec is not None and _spec.loader is not None
TR = importlib.util.module_from_spec(_spec)
sys.modules["tracking_run"] = TR
_spec.loader.exec_module(TR)

MLFLOW_PIN = TR.MLFLOW_PIN
WORKLOADS = ["register_live", "load_second", "load_big"]
RUN_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Case:
    workload: str         # benchmark workload (table group)
    tool: str             # "modelyard" | "mlflow"
    script_workload: str  # WORKLOAD argument of the workload script
    variant: str          # how the model is serialized

    @property
    def id(self) -> str:
        return f"{self.workload}/{self.tool}/{self.variant}"


CASES = [
    Case("register_live", "modelyard", "register_live", "pickle"),
    Case("register_live", "mlflow", "register_live", "skops"),
    Case("register_live", "mlflow", "register_live_cloudpickle", "cloudpickle"),
    Case("load_second", "modelyard", "load_second", "pickle"),
    Case("load_second", "mlflow", "load_second", "skops"),
    Case("load_second", "mlflow", "load_second_cloudpickle", "cloudpickle"),
    Case("load_big", "modelyard", "load_big", "cloudpickle"),
    Case("load_big", "mlflow", "load_big", "cloudpickle"),
]

# (workload, modelyard field, MLflow field, label, MLflow API shown, direction)
# direction: "higher"/"lower" is better, "" = information only.
MEASURES = [
    ("register_live", "median_ms", "median_ms", "register median ms (10 calls)",
     "sklearn.log_model+register", "lower"),
    ("register_live", "p90_ms", "p90_ms", "register p90 ms (10 calls)",
     "sklearn.log_model+register", "lower"),
    ("load_second", "repeat_load_median_ms", "pyfunc_repeat_load_median_ms",
     "2nd load: median of 50 reloads, ms", "pyfunc.load_model", "lower"),
    ("load_second", "repeat_load_median_ms", "sklearn_repeat_load_median_ms",
     "2nd load: median of 50 reloads, ms", "sklearn.load_model", "lower"),
    ("load_second", "second_load_ms", "pyfunc_second_load_ms",
     "2nd load: the very 2nd call, ms", "pyfunc.load_model", "lower"),
    ("load_second", "second_load_ms", "sklearn_second_load_ms",
     "2nd load: the very 2nd call, ms", "sklearn.load_model", "lower"),
    ("load_second", "first_load_ms", "pyfunc_first_load_ms",
     "1st load in a fresh process, ms", "pyfunc.load_model", "lower"),
    ("load_second", "first_load_ms", "sklearn_first_load_ms",
     "1st load in a fresh process, ms", "sklearn.load_model", "lower"),
    ("load_big", "first_load_s", "first_load_s", "1st load of 50 MiB bundle, s (fresh process)",
     "pyfunc.load_model", "lower"),
    ("load_big", "reference_s", "reference_s", "reference: read+sha256 of 50 MiB, s",
     "(same process)", ""),
    ("load_big", "load_over_reference", "load_over_reference", "load / reference",
     "pyfunc.load_model", "lower"),
    ("load_big", "second_load_s", "second_load_s", "2nd load of the 50 MiB bundle, s (same process)",
     "pyfunc.load_model", "lower"),
    ("load_big", "artifacts_mb", "artifacts_mb", "artifact store MB after registering",
     "", ""),
]


# ----------------------------------------------------------------- helpers


def child_env() -> dict[str, str]:
    env = TR.child_env()
    # The store dir (the child's cwd) decides everything: no inherited homes or URIs.
    for k in ("MODELYARD_HOME", "MODELYARD_ARTIFACT_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(k, None)
    return env


def run_one(console, python: str, case: Case, store_dir: str, log_path: Path,
            extra_args: list[str]) -> dict[str, Any]:
    """Run one workload subprocess; stream its stderr to a log, echo progress lines."""
    script = HERE / f"workload_{case.tool}.py"
    cmd = [python, str(script), case.script_workload, store_dir, *extra_args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=store_dir, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    stderr_tail: list[str] = []

    def pump() -> None:
        with open(log_path, "w") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            for line in proc.stderr:  # type: ignore[union-attr]
                log.write(line)
                stderr_tail.append(line)
                del stderr_tail[:-60]
                if line.startswith("progress: "):
                    console.print(f"    [dim]{line[10:].rstrip()}[/dim]", highlight=False)

    out_chunks: list[str] = []

    def drain_stdout() -> None:
        out_chunks.append(proc.stdout.read())  # type: ignore[union-attr]

    threads = [threading.Thread(target=pump, daemon=True),
               threading.Thread(target=drain_stdout, daemon=True)]
    for th in threads:
        th.start()
    try:
        proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # only the process group we started
        proc.wait()
    for th in threads:
        th.join(timeout=30)
    wall = time.perf_counter() - t0
    res = TR.last_json("".join(out_chunks))
    if proc.returncode != 0 or res is None:
        return {"error": True, "exit_code": proc.returncode, "wall_s": round(wall, 2),
                "stderr_tail": "".join(stderr_tail)[-6000:], "log": str(log_path)}
    res["process_wall_s"] = round(wall, 2)
    return res


def summary_line(workload: str, r: dict[str, Any]) -> str:
    if workload == "register_live":
        return (f"{r['n']} registrations: median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms "
                f"(warm-up {r['warmup_ms'][0]:.0f} ms; versions ok={r['versions_ok']})")
    if workload == "load_second":
        parts = []
        for prefix in ("", "pyfunc_", "sklearn_"):
            if r.get(f"{prefix}first_load_ms") is None:
                continue
            parts.append(f"{prefix.rstrip('_') or r.get('api')}: first {r[f'{prefix}first_load_ms']:.1f} ms, "
                         f"reload median {r[f'{prefix}repeat_load_median_ms']:.3f} ms "
                         f"(predictions ok={r[f'{prefix}predictions_ok']})")
        return "; ".join(parts)
    if workload == "load_big":
        return (f"first load {r['first_load_s']:.3f} s, reference read+sha256 {r['reference_s']:.3f} s "
                f"-> x{r['load_over_reference']:.2f}; predict ok={r['predict_ok']}")
    return json.dumps(r)[:200]


# -------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["modelyard", "mlflow"], default=None)
    ap.add_argument("--out", default=str(BENCH_DIR / "results" / "registry.json"))
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--mlflow-variants", default="skops,cloudpickle",
                    help="which MLflow sklearn serializations to run for register_live/load_second")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply all counts and sizes (smoke runs only; not comparable with full runs)")
    ap.add_argument("--tmp-root", default=None, help="where temp stores go (default: system temp)")
    ap.add_argument("--keep-stores", action="store_true")
    ap.add_argument("--modelyard-python", default=sys.executable, help=argparse.SUPPRESS)
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if console.width < 140:
        console = Console(width=140)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    ml_variants = {v.strip() for v in args.mlflow_variants.split(",") if v.strip()}
    tools = [args.only] if args.only else ["modelyard", "mlflow"]
    cases = [c for c in CASES if c.tool in tools and c.workload in workloads
             and (c.tool != "mlflow" or c.workload == "load_big" or c.variant in ml_variants)]

    pythons: dict[str, str] = {"modelyard": os.path.abspath(args.modelyard_python)}
    if "mlflow" in tools:
        pythons["mlflow"] = TR.ensure_mlflow_venv(console)

    tmp_root = args.tmp_root or tempfile.gettempdir()
    out_path = Path(args.out).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out_path.parent / (out_path.stem + "-logs.tmp")
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)

    interpreters = {t: TR.interp_info(p, t) for t, p in pythons.items()}
    for t, p in pythons.items():  # the libraries the models are built with, per interpreter
        interpreters[t]["libs"] = {d: TR.interp_info(p, d).get("dist_version")
                                   for d in ("scikit-learn", "numpy", "pandas", "cloudpickle", "skops")}
    machine = {
        "cpu_count": os.cpu_count(),
        "mem_total_gib": TR.mem_total_gib(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "tmp_root": tmp_root,
        "tmp_fs": TR.fs_type(os.path.realpath(tmp_root)),
        "orchestrator_python": platform.python_version(),
        "interpreters": interpreters,
    }
    mlflow_version = interpreters.get("mlflow", {}).get("dist_version")
    machine["python_version"] = {t: i.get("python") for t, i in interpreters.items()}
    machine["mlflow_version"] = mlflow_version
    console.print(f"[bold]Registry benchmark[/bold]: tools={tools} workloads={workloads} "
                  f"repeats={args.repeats} scale={args.scale} cpus={os.cpu_count()} "
                  f"mlflow={mlflow_version}")
    console.print(f"  logs: {log_dir}")

    raw: dict[str, list[dict[str, Any]]] = {c.id: [] for c in cases}
    t_start = time.time()
    for w in workloads:
        for rep in range(args.repeats):
            for case in [c for c in cases if c.workload == w]:
                base = tempfile.mkdtemp(prefix=f"registry-{case.tool}-{case.script_workload}-",
                                        dir=tmp_root)
                store = os.path.join(base, "store")
                os.mkdir(store)
                extra = ["--scale", repr(args.scale)] if args.scale != 1.0 else []
                console.print(f"  [{rep + 1}/{args.repeats}] {case.id}", highlight=False)
                log_path = log_dir / f"{case.tool}-{case.script_workload}-{rep + 1}.log"
                try:
                    res = run_one(console, pythons[case.tool], case, store, log_path, extra)
                finally:
                    if not args.keep_stores:
                        shutil.rmtree(base, ignore_errors=True)
                res["repeat"] = rep + 1
                raw[case.id].append(res)
                if res.get("error"):
                    console.print(f"    [red]FAILED[/red] exit={res['exit_code']}; log {log_path}\n"
                                  f"{res['stderr_tail'][-2500:]}", highlight=False)
                else:
                    console.print("    " + summary_line(w, res), highlight=False)

    # ---- medians (of the per-process figures, over the repeats)
    medians: dict[str, dict[str, Any]] = {}
    for case in cases:
        ok = [r for r in raw[case.id] if not r.get("error")]
        fields = sorted({k for r in ok for k, v in r.items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool)})
        medians[case.id] = {k: TR.med([r.get(k) for r in ok]) for k in fields}
        for k in sorted({k for r in ok for k, v in r.items() if isinstance(v, bool)}):
            medians[case.id][k + "_all"] = all(r.get(k) for r in ok)
        medians[case.id]["ok_runs"] = len(ok)
        medians[case.id]["failed_runs"] = sum(1 for r in raw[case.id] if r.get("error"))

    notes = [
        "Every figure is the median over repeats of a per-process figure (register: median/p90 of "
        "10 timed calls after 1 warm-up; reloads: median of 50 after the first load).",
        "MLflow's default scikit-learn format (skops) makes log_model fail on a "
        "GradientBoostingClassifier ('untrusted types: sklearn.tree._tree.Tree'); the skops variant "
        "passes skops_trusted_types=['sklearn.tree._tree.Tree'], the cloudpickle variant passes "
        "serialization_format='cloudpickle'. modelyard pickles scikit-learn models (protocol 5) and "
        "PythonModels with cloudpickle; MLflow's pyfunc.log_model cloudpickles the PythonModel "
        "too (load_big).",
        "MLflow's log_model also infers pip requirements by loading the saved model in a subprocess "
        "and validates the input example by predicting with the reloaded model: part of the timed call.",
        "First loads include whatever the load imports on the way (scikit-learn, pandas for "
        "signature enforcement); the tool's own import is outside the timing (import_s in the JSON).",
        "load_big: the OS page cache cannot be dropped here, so the model's files and the 50 MiB "
        "reference file (written at the same moment) are both likely in memory; the reference is "
        "read in 1 MiB chunks with hashlib.sha256 in the loading process, right before the load.",
        "modelyard's first load of a version copies the verified bytes into ./.modelyard/cache "
        "(new per repeat: the store dir is the working directory); later loads in the process "
        "return the same object from memory. MLflow reloads from the artifact store every time.",
    ]
    if args.scale != 1.0:
        notes.append(f"scale={args.scale}: sizes scaled, figures not comparable with full runs")

    # ---- table
    table = Table(title=f"Registry benchmark — medians of {args.repeats} run(s) "
                        f"(modelyard {interpreters['modelyard'].get('dist_version') or ''} vs "
                        f"MLflow {mlflow_version or ''})")
    table.add_column("workload")
    table.add_column("measure")
    table.add_column("better")
    table.add_column("modelyard", justify="right")
    table.add_column("MLflow", justify="right")
    table.add_column("MLflow API / format")
    table.add_column("modelyard / MLflow", justify="right")
    rows = []
    for w, my_field, ml_field, label, ml_api, direction in MEASURES:
        if w not in workloads:
            continue
        my_case = next((c for c in cases if c.workload == w and c.tool == "modelyard"), None)
        ml_cases = [c for c in cases if c.workload == w and c.tool == "mlflow"] or [None]
        for ml_case in ml_cases:
            my_v = medians[my_case.id].get(my_field) if my_case else None
            ml_v = medians[ml_case.id].get(ml_field) if ml_case else None
            ratio = (my_v / ml_v if isinstance(my_v, (int, float)) and isinstance(ml_v, (int, float))
                     and ml_v != 0 else None)
            variant = ml_case.variant if ml_case else None
            shown = " / ".join(x for x in (ml_api, variant) if x)
            rows.append({"workload": w, "measure": my_field, "mlflow_measure": ml_field, "label": label,
                         "better": direction, "mlflow_api": ml_api or None, "mlflow_variant": variant,
                         "modelyard": my_v, "mlflow": ml_v, "ratio_modelyard_over_mlflow": ratio})
            table.add_row(w, label, direction, TR.fmt(my_v), TR.fmt(ml_v), shown,
                          (f"{ratio:.3g}x" if ratio is not None else "—"))
    console.print(table)
    for n in notes:
        console.print(f"[dim]note: {n}[/dim]", highlight=False)

    result = {
        "benchmark": "registry",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": [os.path.relpath(sys.argv[0], REPO) if sys.argv[0] else "", *sys.argv[1:]],
        "settings": {"repeats": args.repeats, "only": args.only, "workloads": workloads,
                     "mlflow_variants": sorted(ml_variants), "scale": args.scale,
                     "mlflow_pin": MLFLOW_PIN,
                     "child_env": {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                                   "MODELYARD_HOME": "unset (./.modelyard in the store dir)"}},
        "machine": machine,
        "total_wall_s": round(time.time() - t_start, 1),
        "notes": notes,
        "table": rows,
        "cases": [{"case": c.id, "tool": c.tool, "workload": c.workload, "variant": c.variant,
                   "median": medians[c.id], "runs": raw[c.id]} for c in cases],
    }
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, out_path)
    console.print(f"wrote {out_path} (total {result['total_wall_s']:.0f}s)", highlight=False)
    return 1 if any(m["failed_runs"] for m in medians.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
