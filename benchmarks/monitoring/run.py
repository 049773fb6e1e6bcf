"""Monitoring benchmark: modelyard drift detection vs Evidently (DataDriftPreset), side by side.

    .venv/bin/python benchmarks/monitoring/run.py [--workloads speed,accuracy] [--repeats 3]
        [--out benchmarks/results/monitoring.json] [--merge]

* Evidently runs in its own virtualenv (benchmarks/.venvs/evidently, created here on first
  use, evidently==EVIDENTLY_PIN); modelyard and the plain SciPy floor run with this
  interpreter (sys.executable).
* Data: 25 columns (20 normal numbers, 5 categories), written once as Parquet per
  (n, seed, scenario) by _common.py and read by every tool; the known truth is in _common.TRUTH.
* speed: every (tool, n, repeat) is a fresh subprocess; wall time of the drift computation
  after the data are loaded, the process's peak RSS (loading included) and the extra RSS of
  the computation (peak during it minus RSS before it). 3 repeats where a run takes < 60 s,
  else 1. Before the first timed run, waits until no benchmarks/serving|features process
  is running (polls every 30 s, at most --wait-max s).
* accuracy: per (tool, n, scenario) one subprocess over all seeds (not timed; run niced);
  share of truly drifted columns found per kind, false-alarm rate on unchanged columns, and
  the all-unchanged ("null") scenario at n=1k.
* Prints tables of medians / rates (Markdown) and writes raw + summary + machine info to --out.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402

EVIDENTLY_VENV = BENCH_DIR / ".venvs" / "evidently"
EVIDENTLY_PIN = "0.7.23"  # newest on the reachable index
# evidently 0.7.23 does not pin pandas, but does not import under pandas 3
# ("cannot import name 'infer_dtype_from_object' from 'pandas.core.dtypes.common'")
EVIDENTLY_EXTRA = ["pandas<3"]
SPEED_SIZES = [100_000, 1_000_000]
SPEED_SEED = 0
SPEED_CASES = ["modelyard-raw", "modelyard-profile", "evidently", "scipy"]
DEFAULT_SEEDS = "1000:50,10000:30,100000:10,1000000:3"
RUN_TIMEOUT_S = 3600
BUSY_PATTERN = "benchmarks/serving|benchmarks/features"


def log(msg: str) -> None:
    print(msg, flush=True)


def mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def interp_info(python: str) -> dict[str, Any]:
    code = ("import json, sys, platform\nfrom importlib import metadata\n"
            "def v(d):\n    try: return metadata.version(d)\n    except Exception: return None\n"
            "print(json.dumps({'python': platform.python_version(), 'executable': sys.executable, "
            "**{d: v(d) for d in ('modelyard', 'evidently', 'numpy', 'pandas', 'scipy', 'pyarrow')}}))")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    except Exception as exc:
        return {"error": str(exc)}


def ensure_evidently_venv() -> str:
    py = EVIDENTLY_VENV / "bin" / "python"
    if py.exists() and interp_info(str(py)).get("evidently") == EVIDENTLY_PIN:
        return str(py)
    log(f"Creating {EVIDENTLY_VENV.relative_to(REPO)} with evidently=={EVIDENTLY_PIN} (one-off)...")
    EVIDENTLY_VENV.parent.mkdir(parents=True, exist_ok=True)
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", "--clear", str(EVIDENTLY_VENV)], check=True)
    with open(EVIDENTLY_VENV.parent / "evidently-pip.log", "w") as f:
        rc = subprocess.run([str(py), "-m", "pip", "install", f"evidently=={EVIDENTLY_PIN}", *EVIDENTLY_EXTRA],
                            stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise SystemExit(f"pip install evidently=={EVIDENTLY_PIN} failed (exit {rc})")
    return str(py)


def wait_quiet(max_s: float, extra_pattern: str | None = None) -> dict[str, Any]:
    t0 = time.time()
    pattern = BUSY_PATTERN + (f"|{extra_pattern}" if extra_pattern else "")
    while True:
        busy = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
        busy = [p for p in busy if int(p) != os.getpid()]
        waited = time.time() - t0
        if not busy:
            return {"waited_s": round(waited), "busy_at_start": False}
        if waited >= max_s:
            log(f"  other benchmarks still running after {waited:.0f}s (pids {busy}): running anyway")
            return {"waited_s": round(waited), "busy_at_start": True, "busy_pids": busy}
        log(f"  waiting for other benchmarks (pids {' '.join(busy)}), {waited:.0f}s so far")
        time.sleep(30)


def last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        if line.strip().startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def run_one(cmd: list[str], log_path: Path, nice: int = 0) -> dict[str, Any]:
    t0 = time.perf_counter()
    with open(log_path, "w") as errf:
        errf.write("$ " + " ".join(cmd) + "\n")
        errf.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                preexec_fn=(lambda: os.nice(nice)) if nice else None)
        try:
            out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    res = last_json(out or "")
    if proc.returncode != 0 or res is None:
        tail = log_path.read_text()[-3000:]
        return {"error": True, "exit_code": proc.returncode, "wall_s": round(wall, 2), "stderr_tail": tail,
                "log": str(log_path)}
    res["process_wall_s"] = round(wall, 2)
    return res


def med(values: list[Any]) -> Any:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(nums) if nums else None


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    if n == 0:
        return None
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [round(max(0.0, c - h), 4), round(min(1.0, c + h), 4)]


# ------------------------------------------------------------------ speed


def speed(args, pythons, log_dir) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": {}, "profile_build": {}}
    prof_dir = Path(args.data_dir) / "profiles"
    prof_dir.mkdir(parents=True, exist_ok=True)
    for n in SPEED_SIZES:
        ref_p, cur_p = C.ensure_data(args.data_dir, n, SPEED_SEED, "drift")
        prof_p = prof_dir / f"n{n}-s{SPEED_SEED}.json"
        out["wait"] = out.get("wait") or wait_quiet(args.wait_max, args.also_wait_for)
        cmds = {
            "modelyard-profile-build": [pythons["modelyard"], str(HERE / "workload_modelyard.py"), "profile-build", str(ref_p), str(prof_p)],
            "modelyard-raw": [pythons["modelyard"], str(HERE / "workload_modelyard.py"), "speed-raw", str(ref_p), str(cur_p)],
            "modelyard-profile": [pythons["modelyard"], str(HERE / "workload_modelyard.py"), "speed-profile", str(prof_p), str(cur_p)],
            "evidently": [pythons["evidently"], str(HERE / "workload_evidently.py"), "speed", str(ref_p), str(cur_p)],
            "scipy": [pythons["modelyard"], str(HERE / "workload_scipy.py"), "speed", str(ref_p), str(cur_p)],
        }
        done: dict[str, int] = {}
        for rep in range(args.repeats):
            for case in ["modelyard-profile-build", *SPEED_CASES]:
                key = f"{case}/n={n}"
                runs = out["runs"].setdefault(key, [])
                if runs and (runs[0].get("error") or runs[0].get("seconds", 0) >= 60):
                    continue  # one repeat only for runs of a minute or more
                res = run_one(cmds[case], log_dir / f"speed-{case}-n{n}-{rep + 1}.log")
                res["repeat"] = rep + 1
                runs.append(res)
                if res.get("error"):
                    log(f"  [{rep + 1}] {key}: FAILED exit={res['exit_code']}\n{res['stderr_tail'][-1500:]}")
                else:
                    log(f"  [{rep + 1}] {key}: {res['seconds']:.3f} s, peak RSS {res['process_peak_rss_mib']} MiB, "
                        f"extra {res.get('phase_extra_rss_mib')} MiB; drifted {res.get('drifted_columns') or res.get('drifted_columns_p05')}")
        del done
    summary = {}
    for key, runs in out["runs"].items():
        ok = [r for r in runs if not r.get("error")]
        summary[key] = {
            "ok_runs": len(ok), "failed_runs": len(runs) - len(ok),
            "seconds": med([r["seconds"] for r in ok]),
            "process_peak_rss_mib": med([max(r["process_peak_rss_mib"], r.get("phase_peak_rss_mib") or 0) for r in ok]),
            "rss_after_load_mib": med([r["rss_after_load_mib"] for r in ok]),
            "phase_extra_rss_mib": med([r.get("phase_extra_rss_mib") for r in ok]),
        }
    out["median"] = summary
    return out


def speed_table(sp: dict[str, Any]) -> str:
    m = sp["median"]
    lines = ["| n | tool | drift time s (median) | peak RSS MiB (process) | RSS after load MiB | extra RSS during drift MiB | runs | time vs modelyard-raw | time vs SciPy floor |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in SPEED_SIZES:
        base = m.get(f"modelyard-raw/n={n}", {}).get("seconds")
        floor = m.get(f"scipy/n={n}", {}).get("seconds")
        for case in ["modelyard-raw", "modelyard-profile", "evidently", "scipy", "modelyard-profile-build"]:
            s = m.get(f"{case}/n={n}")
            if not s:
                continue
            t = s["seconds"]
            r1 = f"{t / base:.2f}x" if t and base else "—"
            r2 = f"{t / floor:.2f}x" if t and floor else "—"
            label = case if case != "modelyard-profile-build" else "(profile build, not in drift time)"
            lines.append(f"| {n:,} | {label} | {fmt(t)} | {fmt(s['process_peak_rss_mib'])} | {fmt(s['rss_after_load_mib'])} | "
                         f"{fmt(s['phase_extra_rss_mib'])} | {s['ok_runs']} | {r1} | {r2} |")
    lines.append("")
    lines.append("| n | Evidently time / modelyard-raw | Evidently time / modelyard-profile | modelyard-raw peak / Evidently peak | modelyard-profile peak / Evidently peak | modelyard-raw / SciPy floor | modelyard-profile / SciPy floor |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for n in SPEED_SIZES:
        g = lambda c, f, n=n: m.get(f"{c}/n={n}", {}).get(f)  # noqa: E731
        def r(a, b):
            return f"{a / b:.2f}x" if a and b else "—"
        lines.append(f"| {n:,} | {r(g('evidently', 'seconds'), g('modelyard-raw', 'seconds'))} | "
                     f"{r(g('evidently', 'seconds'), g('modelyard-profile', 'seconds'))} | "
                     f"{r(g('modelyard-raw', 'process_peak_rss_mib'), g('evidently', 'process_peak_rss_mib'))} | "
                     f"{r(g('modelyard-profile', 'process_peak_rss_mib'), g('evidently', 'process_peak_rss_mib'))} | "
                     f"{r(g('modelyard-raw', 'seconds'), g('scipy', 'seconds'))} | {r(g('modelyard-profile', 'seconds'), g('scipy', 'seconds'))} |")
    return "\n".join(lines)


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 100 else f"{v:.3g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


# --------------------------------------------------------------- accuracy


def accuracy(args, pythons, log_dir, save_partial, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    grid = [(int(a), int(b)) for a, b in (x.split(":") for x in args.seeds.split(","))]
    plan: list[tuple[str, int, str, list[int]]] = []
    if args.null_seeds:
        plan += [(t, 1000, "null", list(range(1, args.null_seeds + 1))) for t in args.tools]
    for n, k in grid:
        plan += [(t, n, "drift", list(range(1, k + 1))) for t in args.tools]
    # split big cases into chunks so that --jobs subprocesses can share them
    jobs = []
    for tool, n, scenario, seeds in plan:
        size = 1 if n >= 1_000_000 else 5 if n >= 100_000 else len(seeds)
        jobs += [(tool, n, scenario, seeds[i:i + size]) for i in range(0, len(seeds), size)]
    # data first (single writer), then the tool runs, args.jobs at a time, niced
    for _, n, scenario, seeds in jobs:
        for s in seeds:
            C.ensure_data(args.data_dir, n, s, scenario)
    log(f"  accuracy data ready ({len(jobs)} tool runs)")
    script = {"modelyard": "workload_modelyard.py", "evidently": "workload_evidently.py"}
    planned = {f"{t}/n={n}/{sc}" for t, n, sc, _ in plan}
    # with --merge: keep the earlier runs' cases that this invocation does not redo
    raw: dict[str, Any] = {k: v for k, v in (previous or {}).get("raw", {}).items() if k not in planned}

    def go(job):
        tool, n, scenario, seeds = job
        cmd = [pythons[tool], str(HERE / script[tool]), "accuracy", args.data_dir, str(n), scenario, *map(str, seeds)]
        return job, run_one(cmd, log_dir / f"accuracy-{tool}-n{n}-{scenario}-s{seeds[0]}.log", nice=args.nice)

    with cf.ThreadPoolExecutor(args.jobs) as ex:
        futures = [ex.submit(go, j) for j in jobs]
        for fut in cf.as_completed(futures):
            (tool, n, scenario, seeds), res = fut.result()
            key = f"{tool}/n={n}/{scenario}"
            if res.get("error"):
                log(f"  {key} seeds {seeds}: FAILED exit={res['exit_code']}\n{res['stderr_tail'][-1500:]}")
                raw.setdefault(key, {"mode": "accuracy", "n": n, "scenario": scenario, "per_seed": []}).setdefault("errors", []).append(res)
            else:
                log(f"  {key} seeds {seeds[0]}..{seeds[-1]}: {len(res['per_seed'])} seeds in {res['process_wall_s']} s")
                entry = raw.setdefault(key, {"mode": "accuracy", "n": n, "scenario": scenario, "per_seed": []})
                entry["per_seed"] = sorted(entry["per_seed"] + res["per_seed"], key=lambda r: r["seed"])
            save_partial({"raw": raw, "summary": summarize_accuracy(raw)})
    return {"raw": raw, "summary": summarize_accuracy(raw)}


def summarize_accuracy(raw: dict[str, Any]) -> dict[str, Any]:
    summary = {}
    for key, res in raw.items():
        seeds = res["per_seed"]
        if not seeds:
            summary[key] = {"error": True}
            continue
        s: dict[str, Any] = {"seeds": len(seeds)}
        scenario = res["scenario"]
        groups = {"unchanged_numeric": C.UNCHANGED_NUMERIC if scenario == "drift" else C.NUMERIC,
                  "unchanged_categorical": C.UNCHANGED_CATEGORICAL if scenario == "drift" else C.CATEGORICAL}
        if scenario == "drift":
            for kind in sorted(set(C.TRUTH.values())):
                cols = [c for c, k in C.TRUTH.items() if k == kind]
                hits = sum(bool(r["flags"].get(c)) for r in seeds for c in cols)
                s[f"found_{kind}"] = round(hits / (len(seeds) * len(cols)), 4)
        total_k = total_n = 0
        for g, cols in groups.items():
            k = sum(bool(r["flags"].get(c)) for r in seeds for c in cols)
            n = len(seeds) * len(cols)
            s[f"false_alarm_{g}"] = round(k / n, 4)
            s[f"false_alarm_{g}_ci95"] = wilson(k, n)
            total_k, total_n = total_k + k, total_n + n
        s["false_alarm_all_unchanged"] = round(total_k / total_n, 4)
        s["false_alarm_all_unchanged_ci95"] = wilson(total_k, total_n)
        s["runs_with_any_false_alarm"] = round(sum(any(r["flags"].get(c) for cs in groups.values() for c in cs)
                                                   for r in seeds) / len(seeds), 4)
        s["no_verdict"] = sum(v is None for r in seeds for v in r["flags"].values())
        s["median_seconds_per_seed"] = med([r["seconds"] for r in seeds])
        if "methods" in seeds[0]:
            s["methods"] = sorted({m for r in seeds for m in r["methods"]})
        summary[key] = s
    return summary


def accuracy_table(acc: dict[str, Any]) -> str:
    summ = acc["summary"]
    pct = lambda v: "—" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    lines = ["| n | tool | seeds | found numeric shift (0.1 sd, 2 cols) | found scale 1.2x | found subtle categorical | found large categorical | false-alarm rate, unchanged numeric | unchanged categorical | all unchanged (20 cols) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    keys = sorted((k for k in summ if k.endswith("/drift")), key=lambda k: (int(k.split("/n=")[1].split("/")[0]), k))
    for k in keys:
        s = summ[k]
        tool, n = k.split("/n=")[0], int(k.split("/n=")[1].split("/")[0])
        if s.get("error"):
            lines.append(f"| {n:,} | {tool} | failed | | | | | | | |")
            continue
        lines.append(f"| {n:,} | {tool} | {s['seeds']} | {pct(s['found_numeric_shift'])} | {pct(s['found_numeric_scale'])} | "
                     f"{pct(s['found_categorical_subtle'])} | {pct(s['found_categorical_large'])} | "
                     f"{pct(s['false_alarm_unchanged_numeric'])} | {pct(s['false_alarm_unchanged_categorical'])} | "
                     f"{pct(s['false_alarm_all_unchanged'])} |")
    nulls = [k for k in summ if k.endswith("/null")]
    if nulls:
        lines += ["", "All-unchanged data (null), n = 1,000 reference vs 1,000 current:", "",
                  "| tool | seeds | false-alarm rate, categorical (5 cols) [95% CI] | numeric (20 cols) [95% CI] | runs with any false alarm | methods |",
                  "|---|---:|---:|---:|---:|---|"]
        for k in sorted(nulls):
            s = summ[k]
            if s.get("error"):
                lines.append(f"| {k.split('/')[0]} | failed | | | | |")
                continue
            ci = lambda c: f"[{100 * c[0]:.1f}-{100 * c[1]:.1f}%]" if c else ""  # noqa: E731
            lines.append(f"| {k.split('/')[0]} | {s['seeds']} | {pct(s['false_alarm_unchanged_categorical'])} {ci(s['false_alarm_unchanged_categorical_ci95'])} | "
                         f"{pct(s['false_alarm_unchanged_numeric'])} {ci(s['false_alarm_unchanged_numeric_ci95'])} | "
                         f"{pct(s['runs_with_any_false_alarm'])} | {', '.join(s.get('methods', [])) or 'KS / chi2 (Bonferroni), effect floor'} |")
    return "\n".join(lines)


# ------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default="speed,accuracy")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", default=DEFAULT_SEEDS, help="accuracy grid n:seeds,... (default %(default)s)")
    ap.add_argument("--null-seeds", type=int, default=120, help="all-unchanged seeds at n=1k (0 = skip)")
    ap.add_argument("--tools", default="modelyard,evidently", help="accuracy tools")
    ap.add_argument("--jobs", type=int, default=2, help="accuracy subprocesses at a time")
    ap.add_argument("--nice", type=int, default=19, help="niceness of the (untimed) accuracy runs")
    ap.add_argument("--wait-max", type=float, default=1800)
    ap.add_argument("--also-wait-for", default=None,
                    help="extra pgrep -f pattern to wait for before timed runs (e.g. a running accuracy pass)")
    ap.add_argument("--data-dir", default="/tmp/modelyard-monitoring-bench-data")
    ap.add_argument("--log-dir", default="/tmp/modelyard-monitoring-bench-logs")
    ap.add_argument("--out", default=str(BENCH_DIR / "results" / "monitoring.json"))
    ap.add_argument("--merge", action="store_true", help="keep sections of an existing --out not run now")
    ap.add_argument("--report-only", action="store_true", help="print the tables of an existing --out")
    args = ap.parse_args()
    args.tools = [t for t in args.tools.split(",") if t]
    out_path = Path(args.out).resolve()

    if args.report_only:
        result = json.loads(out_path.read_text())
        if "speed" in result:
            log(speed_table(result["speed"]) + "\n")
        if "accuracy" in result:
            log(accuracy_table(result["accuracy"]))
        return 0

    workloads = [w for w in args.workloads.split(",") if w]
    owned = set(workloads)
    pythons = {"modelyard": sys.executable}
    if "speed" in workloads or "evidently" in args.tools:
        pythons["evidently"] = ensure_evidently_venv()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = json.loads(out_path.read_text()) if args.merge and out_path.exists() else {}
    interps = {t: interp_info(p) for t, p in pythons.items()}
    result.update({
        "benchmark": "monitoring",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "mem_total_gib": mem_total_gib(), "platform": platform.platform(),
                    "interpreters": interps},
        "evidently_version": interps.get("evidently", {}).get("evidently") or result.get("evidently_version"),
        "evidently_pin": EVIDENTLY_PIN, "evidently_extra_requirements": EVIDENTLY_EXTRA,
        "data": {"columns": C.COLUMNS, "truth": C.TRUTH, "p_reference": C.P_REF.tolist(), "p_subtle": C.P_SUBTLE.tolist(),
                 "p_large": C.P_LARGE.tolist(), "shift_sd": C.SHIFT_SD, "scale": C.SCALE,
                 "js_distance_from_reference": C.js_distances(), "data_dir": args.data_dir},
    })
    result.setdefault("commands", []).append([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])

    def save() -> None:
        # read-modify-write: with --merge, another invocation may have written its sections meanwhile
        current = json.loads(out_path.read_text()) if args.merge and out_path.exists() else {}
        current.update({k: v for k, v in result.items() if k not in ("accuracy", "speed") or k in owned})
        tmp = out_path.with_name(out_path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(current, indent=1) + "\n")
        os.replace(tmp, out_path)

    log(f"Monitoring benchmark: workloads={workloads} evidently={result['evidently_version']} cpus={os.cpu_count()}")
    t0 = time.time()
    if "accuracy" in workloads:
        t1 = time.time()
        previous_acc = result.get("accuracy")

        def save_partial(acc: dict[str, Any]) -> None:
            result["accuracy"] = {**acc, "partial": True}
            save()

        result["accuracy"] = accuracy(args, pythons, log_dir, save_partial, result.get("accuracy"))
        result["accuracy"].setdefault("settings_history", []).extend(
            [*(previous_acc or {}).get("settings_history", []), (previous_acc or {}).get("settings")] if previous_acc else [])
        result["accuracy"]["settings"] = {"seeds": args.seeds, "null_seeds": args.null_seeds, "tools": args.tools,
                                          "jobs": args.jobs, "nice": args.nice, "wall_s": round(time.time() - t1)}
        save()
        log("\n" + accuracy_table(result["accuracy"]) + "\n")
    if "speed" in workloads:
        t1 = time.time()
        result["speed"] = speed(args, pythons, log_dir)
        result["speed"]["settings"] = {"repeats": args.repeats, "sizes": SPEED_SIZES, "seed": SPEED_SEED,
                                       "wall_s": round(time.time() - t1)}
        save()
        log("\n" + speed_table(result["speed"]) + "\n")
    result["total_wall_s"] = round(time.time() - t0)
    save()
    log(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
