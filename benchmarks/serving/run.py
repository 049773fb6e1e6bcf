"""Serving benchmark: modelyard's scoring server vs BentoML, `mlflow models serve` and a lean
hand-written Starlette server, side by side; plus batch scoring vs a pandas chunk loop.

    .venv/bin/python benchmarks/serving/run.py [--repeats 3] [--duration 20]
                                              [--batch-rows 10000000] [--skip-batch]
                                              [--out benchmarks/results/serving.json]

* Every server loads the same pickled GradientBoostingClassifier(n_estimators=100,
  random_state=0) fitted on scikit-learn's breast-cancer data, and runs 2 worker processes.
  BentoML and MLflow run in their own virtualenvs (benchmarks/.venvs/bentoml,
  benchmarks/.venvs/mlflow, created here on first use, with scikit-learn pinned to the
  project's version so the pickle is the same object); modelyard and the lean server run
  with this interpreter.
* Load: wrk with a Lua script POSTing one breast-cancer row as JSON, -t2 -c16 -d20s
  --latency; per server one untimed warm-up run, then --repeats timed runs. The one-client
  latency case is -t1 -c1. Each server's response body is checked once against the
  in-process prediction.
* Batch: `modelyard score ... --workers 2` (with and without the prediction log) against a
  one-process pyarrow/pandas chunk loop, on --batch-rows rows of a generated 20-column
  dataset scored by an LGBMClassifier(n_estimators=100); rows/s and the peak RSS summed over
  the process tree (sampled every 50 ms) plus /usr/bin/time's max RSS.
* Waits until no `benchmarks/features` process runs before any timed measurement.
* Writes raw runs, medians, ratios, targets and machine info to --out; prints tables.
  Figures are measurements of this machine, not pass/fail thresholds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402

VENVS = BENCH_DIR / ".venvs"
BENTOML_PIN = "1.4.40"
MLFLOW_PIN = "3.17.2"  # as benchmarks/tracking/run.py (3.18.0's mlflow-skinny is not installable here)
WRK = shutil.which("wrk") or "/usr/bin/wrk"
MAIN_PY = sys.executable
MAIN_BIN = Path(sys.executable).parent


# ------------------------------------------------------------------ environments


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("MLFLOW_TRACKING_URI", "MODELYARD_TRACKING_URI", "MODELYARD_HOME", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(k, None)
    env.update({"PYTHONUNBUFFERED": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                "BENTOML_DO_NOT_TRACK": "True"})
    env.update(extra)
    return env


def dist_versions(python: str, dists: list[str]) -> dict[str, Any]:
    code = ("import json, sys, platform\nfrom importlib import metadata\n"
            "def v(d):\n    try: return metadata.version(d)\n    except Exception: return None\n"
            f"print(json.dumps({{'python': platform.python_version(), 'executable': sys.executable,"
            f" **{{d: v(d) for d in {dists!r}}}}}))")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    except Exception as exc:
        return {"error": str(exc)}


def sklearn_version() -> str:
    from importlib import metadata
    return metadata.version("scikit-learn")


def numpy_version() -> str:
    from importlib import metadata
    return metadata.version("numpy")


def ensure_venv(name: str, reqs: list[str], check: dict[str, str], log) -> str:
    """benchmarks/.venvs/NAME with exactly the pinned distributions in `check`."""
    root = VENVS / name
    py = root / "bin" / "python"
    if py.exists():
        got = dist_versions(str(py), list(check))
        if all(got.get(d) == v for d, v in check.items()):
            return str(py)
        log(f"{root.relative_to(REPO)} has {got}, want {check}: rebuilding")
    log(f"creating {root.relative_to(REPO)}: pip install {' '.join(reqs)} (one-off)")
    VENVS.mkdir(parents=True, exist_ok=True)
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", "--clear", str(root)], check=True)
    pip_log = VENVS / f"{name}-pip.log"
    with open(pip_log, "w") as f:
        rc = subprocess.run([str(py), "-m", "pip", "install", *reqs], stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise SystemExit(f"pip install {reqs} failed (exit {rc}); see {pip_log}")
    return str(py)


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    return sum(rss_bytes(p) for p in descendants(pid))


def cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        parts = stat[stat.rindex(")") + 2:].split()
        return int(parts[11]) + int(parts[12])
    except (OSError, ValueError, IndexError):
        return 0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def stop_tree(proc: subprocess.Popen, pids: list[int]) -> None:
    """Stop a server we started: its process group, then any of its (recorded) descendants."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)
        deadline = time.time() + wait
        while time.time() < deadline:
            if proc.poll() is not None and not any(os.path.exists(f"/proc/{p}") and _alive(p) for p in pids):
                return
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def features_pids() -> list[str]:
    found = subprocess.run(["pgrep", "-f", "benchmarks/features"], capture_output=True, text=True).stdout.split()
    return [p for p in found if int(p) != os.getpid()]


WAIT_LOG: list[dict[str, Any]] = []


def wait_for_features(log, poll_s: int, max_s: int, where: str = "start") -> dict[str, Any]:
    t0 = time.time()
    spent = sum(w["waited_s"] for w in WAIT_LOG)
    max_s = max(0, max_s - spent)  # one budget for the whole run
    while True:
        found = features_pids()
        if not found:
            if time.time() - t0 > 1:
                WAIT_LOG.append({"where": where, "waited_s": round(time.time() - t0), "clear": True})
            time.sleep(0 if time.time() - t0 < 1 else 5)
            return {"waited_s": round(time.time() - t0), "clear": True}
        if time.time() - t0 >= max_s:
            log(f"[red]benchmarks/features still running (pids {found}); wait budget spent: measuring anyway")
            WAIT_LOG.append({"where": where, "waited_s": round(time.time() - t0), "clear": False})
            return {"waited_s": round(time.time() - t0), "clear": False, "pids": found}
        log(f"  waiting for benchmarks/features to finish (pids {' '.join(found)}), {round(time.time() - t0)}s so far")
        time.sleep(poll_s)


# ------------------------------------------------------------------ wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    res: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        res[f"p{q}_ms"] = _ms(m.group(1)) if m else None
    m = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    if m:
        res["mean_ms"], res["max_ms"] = _ms(m.group(1)), _ms(m.group(3))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return res


def lua_script(work: Path, body_file: Path) -> Path:
    path = body_file.with_suffix(".lua")
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = assert(io.open("{body_file}", "rb"))\n'
        "wrk.body = f:read(\"*a\")\nf:close()\n"
    )
    return path


def busy_ticks() -> int:
    """Busy CPU time of the whole machine (all cores), in clock ticks, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    return sum(parts) - parts[3] - parts[4]  # minus idle and iowait


def run_wrk(url: str, lua: Path, threads: int, conns: int, seconds: float,
            server_pid: int | None = None) -> tuple[dict[str, Any], str]:
    """One wrk run. With server_pid, also measures 'foreign' CPU: machine busy time not spent
    by the server's process tree or by wrk (another job on the box contending for the cores)."""
    import resource

    cmd = [WRK, f"-t{threads}", f"-c{conns}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
           "-s", str(lua), url]
    tree = descendants(server_pid) if server_pid else []
    srv0 = sum(cpu_ticks(p) for p in tree)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, t0 = busy_ticks(), time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    busy1, wall = busy_ticks(), time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    srv1 = sum(cpu_ticks(p) for p in tree)
    text = out.stdout + out.stderr
    res = parse_wrk(text)
    if server_pid:
        hz = os.sysconf("SC_CLK_TCK")
        wrk_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        res["server_cpu_s"] = round((srv1 - srv0) / hz, 2)
        res["wrk_cpu_s"] = round(wrk_s, 2)
        res["machine_busy_s"] = round((busy1 - busy0) / hz, 2)
        res["foreign_cpu_s"] = round(res["machine_busy_s"] - res["server_cpu_s"] - wrk_s, 2)
        res["foreign_cpu_share"] = round(res["foreign_cpu_s"] / (wall * (os.cpu_count() or 1)), 3)
        res["features_bench_running"] = bool(features_pids())
    return res, text


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ------------------------------------------------------------------ cases


@dataclass
class Load:
    name: str            # case id shown in tables
    path: str            # URL path
    body: str            # "records" | "split"
    threads: int = 2
    conns: int = 16


@dataclass
class Server:
    name: str
    loads: list[Load]
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


def servers(work: Path, py: dict[str, str], lat_conns: int) -> list[Server]:
    bc_env = {"BC_PICKLE": str(work / C.PICKLE), "BC_META": str(work / C.META)}
    my = str(MAIN_BIN / "modelyard")
    store = str(work / C.STORE)

    def my_env(tag: str) -> dict[str, str]:
        home = work / f"home-{tag}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        return {"MODELYARD_HOME": str(home), "MODELYARD_TRACKING_URI": store}

    native = f"/v1/endpoints/{C.MODEL_NAME}/predict"
    return [
        Server("lean", [Load("lean", "/predict", "records"),
                        Load("lean-c1", "/predict", "records", 1, lat_conns)],
               [MAIN_PY, "-m", "uvicorn", "lean_app:app", "--app-dir", str(HERE), "--host", "127.0.0.1",
                "--port", "{port}", "--workers", "2", "--loop", "uvloop", "--http", "httptools",
                "--log-level", "warning", "--no-access-log"], bc_env),
        Server("modelyard", [Load("modelyard", native, "records"),
                             Load("modelyard-invocations", "/invocations", "split"),
                             Load("modelyard-c1", native, "records", 1, lat_conns)],
               [my, "serve", f"models:/{C.MODEL_NAME}@champion", "--port", "{port}", "--workers", "2",
                "-t", store], {"_home": "log-on"}),
        Server("modelyard-nolog", [Load("modelyard-nolog", native, "records"),
                                   Load("modelyard-nolog-c1", native, "records", 1, lat_conns)],
               [my, "serve", str(work / "deploy-log-off.yaml"), "--port", "{port}", "--workers", "2",
                "-t", store], {"_home": "log-off"}),
        Server("modelyard-onnx", [Load("modelyard-onnx", native, "records")],
               [my, "serve", str(work / "deploy-onnx.yaml"), "--port", "{port}", "--workers", "2",
                "-t", store], {"_home": "onnx"}),
        Server("bentoml", [Load("bentoml", "/predict", "records")],
               [str(Path(py["bentoml"]).parent / "bentoml"), "serve", "bento_service:BreastCancer",
                "--working-dir", str(HERE), "--host", "127.0.0.1", "--port", "{port}"],
               {**bc_env, "BENTOML_HOME": str(work / "bentoml-home")}, str(HERE)),
        Server("mlflow", [Load("mlflow", "/invocations", "split")],
               [str(Path(py["mlflow"]).parent / "mlflow"), "models", "serve", "-m", str(work / C.MLFLOW_MODEL),
                "--env-manager", "local", "--workers", "2", "-h", "127.0.0.1", "-p", "{port}"],
               # mlflow runs `bash -c "exec uvicorn ..."`: its venv's bin must be on PATH
               {"PATH": f"{Path(py['mlflow']).parent}:{os.environ.get('PATH', '')}"}),
    ], my_env


def check_answer(server: str, body: bytes, meta: dict) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except Exception:
        return {"ok": False, "body": body[:300].decode(errors="replace")}
    preds = data.get("predictions") if isinstance(data, dict) else None
    got = preds[0] if isinstance(preds, list) and preds else None
    if isinstance(got, dict):  # some servers answer [{"...": label}]
        got = next(iter(got.values()), None)
    ok = got is not None and int(got) == meta["expected_prediction"]
    return {"ok": bool(ok), "prediction": got, "expected": meta["expected_prediction"],
            "body": body[:300].decode(errors="replace")}


# ------------------------------------------------------------------ profiling


# Leaf frames of threads that are waiting, not working: the prediction-log and swap-watcher
# threads (Condition/Event.wait) and uvicorn's supervisor pipe reader (Connection._recv).
IDLE_LEAVES = ("Condition.wait (threading.py", "Event.wait (threading.py", "Connection._recv (multiprocessing/",
               "Connection._poll (multiprocessing/", "wait (threading.py", "select (selectors.py")


def summarize_profile(raw_file: Path, top: int = 25) -> dict[str, Any]:
    """py-spy raw (collapsed) stacks -> self and inclusive sample shares by frame, over the
    samples whose leaf is not an idle wait (see IDLE_LEAVES; those are counted apart)."""
    self_c: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    idle = 0
    for line in raw_file.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        n_i = int(n)
        frames = stack.split(";")
        # drop the thread/process header frame py-spy adds
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if frames[-1].startswith(IDLE_LEAVES):
            idle += n_i
            continue
        total += n_i
        self_c[frames[-1]] = self_c.get(frames[-1], 0) + n_i
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n_i

    def short(f: str) -> str:
        return f.replace(str(REPO) + "/", "").replace(str(VENVS) + "/", "")

    def rank(d: dict[str, int]) -> list[dict[str, Any]]:
        return [{"frame": short(k), "samples": v, "pct": round(100 * v / total, 1)}
                for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]] if total else []

    my_incl = {k: v for k, v in incl.items() if "modelyard/" in k}
    return {"samples": total, "idle_samples_excluded": idle, "self": rank(self_c), "inclusive": rank(incl),
            "inclusive_modelyard": rank(my_incl)}


def profile_server(name: str, main_pid: int, url: str, lua: Path, work: Path, log) -> dict[str, Any]:
    kids = [p for p in descendants(main_pid) if p != main_pid]
    before = {p: cpu_ticks(p) for p in kids}
    wrk = subprocess.Popen([WRK, "-t2", "-c16", "-d16s", "-s", str(lua), url],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.5)
    busy = max(kids, key=lambda p: cpu_ticks(p) - before.get(p, 0)) if kids else main_pid
    out = work / f"profile-{name}.txt"
    spy = str(MAIN_BIN / "py-spy")
    log(f"    py-spy on {name} worker pid {busy} ({cmdline(busy)[:80]})")
    r = subprocess.run([spy, "record", "-p", str(busy), "-d", "10", "-f", "raw", "-o", str(out)],
                       capture_output=True, text=True)
    wrk.wait(timeout=60)
    if r.returncode != 0 or not out.exists():
        return {"error": (r.stdout + r.stderr)[-1500:]}
    dest = HERE / "profiles"
    dest.mkdir(exist_ok=True)
    shutil.copy(out, dest / out.name)
    res = summarize_profile(out)
    res["file"] = str((dest / out.name).relative_to(REPO))
    return res


# ------------------------------------------------------------------ helpers


def med(values: list[Any]) -> Any:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(nums) if nums else None


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:,.1f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.{digits}g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ratio(a: Any, b: Any) -> float | None:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return a / b
    return None


def mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


# ------------------------------------------------------------------ serving


def measure(args, ld: Load, url: str, lua: Path, server_pid: int, rep: int, log) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One timed repeat of one load case; re-run (up to --max-attempts) when other processes
    took more than --max-foreign of the machine's CPU meanwhile; keeps the least contaminated."""
    dur = args.duration if ld.conns > 1 else args.latency_duration
    chosen: dict[str, Any] | None = None
    discarded: list[dict[str, Any]] = []
    for attempt in range(args.max_attempts):
        res, text = run_wrk(url, lua, ld.threads, ld.conns, dur, server_pid)
        res["repeat"], res["attempt"] = rep + 1, attempt + 1
        res["started"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        res["server_rss_mb"] = round(tree_rss(server_pid) / 1e6, 1)
        if res["rps"] is None:
            res["error"] = text[-800:]
        share = res.get("foreign_cpu_share") or 0.0
        res["contaminated"] = bool(share > args.max_foreign or res.get("features_bench_running"))
        log(f"    [{rep + 1}/{args.repeats}] {ld.name}{f' (attempt {attempt + 1})' if attempt else ''}: "
            f"{fmt(res['rps'])} req/s, p50 {fmt(res['p50_ms'])} ms, "
            f"p99 {fmt(res['p99_ms'])} ms, non-2xx {res['non_2xx']}, socket errors {res['socket_errors']}, "
            f"foreign CPU {fmt(res.get('foreign_cpu_share'))}"
            + (" [yellow](contaminated)[/yellow]" if res["contaminated"] else "")
            + (" [red]features bench running[/red]" if res.get("features_bench_running") else ""))
        if chosen is None or share < (chosen.get("foreign_cpu_share") or 0.0):
            if chosen is not None:
                discarded.append(chosen)
            chosen = res
        else:
            discarded.append(res)
        if not res["contaminated"]:
            break
        if attempt + 1 < args.max_attempts:
            if not args.no_wait:
                wait_for_features(log, 30, args.wait_max, f"{ld.name} retry")
            time.sleep(args.retry_pause)
    assert chosen is not None
    return chosen, discarded


def run_serving(args, work: Path, py: dict[str, str], meta: dict, log) -> dict[str, Any]:
    """Start every server (each idle while another is loaded), check and warm each load
    case, then run the timed repeats round-robin over all cases (rotating the order each
    round), so load from other jobs on the machine spreads over all servers alike."""
    bodies = {"records": work / "body-records.json", "split": work / "body-split.json"}
    bodies["records"].write_bytes(C.records_body(meta))
    bodies["split"].write_bytes(C.split_body(meta))
    luas = {k: lua_script(work, v) for k, v in bodies.items()}
    srv_list, my_env = servers(work, py, 1)
    only = set(args.only.split(",")) if args.only else None
    results: dict[str, Any] = {}
    server_info: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    running: dict[str, tuple[subprocess.Popen, str]] = {}  # server -> (process, base url)
    cases: list[tuple[Server, Load]] = []
    try:
        # ---- start all
        for srv in srv_list:
            loads = [ld for ld in srv.loads if only is None or ld.name in only or srv.name in only]
            if not loads:
                continue
            port = free_port()
            env = dict(srv.env)
            tag = env.pop("_home", None)
            if tag:
                env.update(my_env(tag))
            argv = [a.replace("{port}", str(port)) for a in srv.argv]
            slog = work / f"server-{srv.name}.log"
            log(f"[bold]{srv.name}[/bold]: {' '.join(argv)}")
            with open(slog, "w") as lf:
                proc = subprocess.Popen(argv, cwd=srv.cwd or str(work), env=child_env(**env), stdout=lf,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            info: dict[str, Any] = {"argv": argv, "log": str(slog)}
            server_info[srv.name] = info
            base = f"http://127.0.0.1:{port}"
            running[srv.name] = (proc, base)
            t0 = time.time()
            status = 0
            first = loads[0]
            while time.time() - t0 < args.start_timeout:
                if proc.poll() is not None:
                    break
                try:
                    status, _ = post(base + first.path, bodies[first.body].read_bytes(), timeout=5)
                    if status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            info["ready_s"] = round(time.time() - t0, 1)
            if status != 200:
                tail = slog.read_text(errors="replace")[-3000:]
                info["error"] = f"not ready after {info['ready_s']}s (last status {status}, exit {proc.poll()})"
                info["log_tail"] = tail
                log(f"  [red]{info['error']}[/red]\n{tail}")
                for ld in loads:
                    results[ld.name] = {"server": srv.name, "error": info["error"], "runs": []}
                continue
            time.sleep(1.0)  # let every worker come up
            pids = descendants(proc.pid)
            info["processes"] = len(pids)
            info["cmdlines"] = [cmdline(p)[:200] for p in pids]
            cases.extend((srv, ld) for ld in loads)

        # ---- check and warm up each case
        if not args.no_wait:
            wait_for_features(log, 30, args.wait_max, "serving warm-up")
        for srv, ld in cases:
            proc, base = running[srv.name]
            url = base + ld.path
            st, bd = post(url, bodies[ld.body].read_bytes())
            check = check_answer(srv.name, bd, meta)
            check["status"] = st
            warm, _ = run_wrk(url, luas[ld.body], ld.threads, ld.conns,
                              args.warmup if ld.conns > 1 else min(args.warmup, 3))
            log(f"  {ld.name}: POST {ld.path} -> {st} {'ok' if check['ok'] else 'WRONG'}: {check['body'][:120]}"
                f" | warm-up {fmt(warm.get('rps'))} req/s")
            dur = args.duration if ld.conns > 1 else args.latency_duration
            results[ld.name] = {"server": srv.name, "path": ld.path, "body": ld.body,
                                "wrk": f"-t{ld.threads} -c{ld.conns} -d{dur:g}s --latency",
                                "check": check, "warmup": warm, "runs": [], "discarded": []}

        # ---- timed rounds
        for rep in range(args.repeats):
            if not args.no_wait:
                wait_for_features(log, 30, args.wait_max, f"round {rep + 1}")
            k = rep % max(1, len(cases))
            order = cases[k:] + cases[:k]
            log(f"[bold]round {rep + 1}/{args.repeats}[/bold]: {' '.join(ld.name for _, ld in order)}")
            for srv, ld in order:
                proc, base = running[srv.name]
                chosen, discarded = measure(args, ld, base + ld.path, luas[ld.body], proc.pid, rep, log)
                results[ld.name]["runs"].append(chosen)
                results[ld.name]["discarded"].extend(discarded)

        # ---- medians
        for _srv, ld in cases:
            r = results[ld.name]
            runs = r["runs"]
            ok = [x for x in runs if x.get("rps") is not None]
            median = {k: med([x.get(k) for x in ok]) for k in
                      ("rps", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "mean_ms", "server_rss_mb",
                       "server_cpu_s", "wrk_cpu_s", "foreign_cpu_share")}
            median["max_foreign_cpu_share"] = max((x.get("foreign_cpu_share") or 0) for x in runs) if runs else None
            median["features_bench_seen"] = any(x.get("features_bench_running") for x in runs)
            median["non_2xx_total"] = sum(x["non_2xx"] for x in runs)
            median["socket_errors_total"] = sum(x["socket_errors"] for x in runs)
            median["contaminated_runs_kept"] = sum(1 for x in runs if x.get("contaminated"))
            median["attempts_discarded"] = len(r["discarded"])
            r["median"] = median

        # ---- profiles: modelyard (and lean, for contrast) when modelyard trails lean by > 20%
        my_vs_lean = ratio(results.get("modelyard", {}).get("median", {}).get("rps"),
                           results.get("lean", {}).get("median", {}).get("rps"))
        want = args.profile == "always" or (args.profile == "auto" and my_vs_lean is not None and my_vs_lean < 0.8)
        if want:
            for name in ("modelyard", "lean"):
                ld = next((ld for s, ld in cases if s.name == name and ld.conns > 1), None)
                if ld is None:
                    continue
                if not args.no_wait:
                    wait_for_features(log, 30, args.wait_max, f"profile {name}")
                proc, base = running[name]
                profiles[name] = profile_server(name, proc.pid, base + ld.path, luas[ld.body], work, log)
        else:
            log(f"    modelyard / lean req/s = {fmt(my_vs_lean)}: not profiled")
    finally:
        for proc, _ in running.values():
            stop_tree(proc, sorted(set(descendants(proc.pid))))
    return {"loads": results, "servers": server_info, "profiles": profiles}


# ------------------------------------------------------------------ batch


def run_measured(argv: list[str], env: dict[str, str], cwd: str, log_path: Path) -> dict[str, Any]:
    import resource

    cmd = ["/usr/bin/time", "-v", *argv]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = busy_ticks()
    t0 = time.perf_counter()
    with open(log_path, "w") as lf:
        lf.write("$ " + " ".join(cmd) + "\n")
        lf.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=lf, text=True,
                                start_new_session=True)
        peak = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss(proc.pid))
                stop.wait(0.05)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        out = proc.communicate()[0]
        stop.set()
        th.join()
    wall = time.perf_counter() - t0
    busy1 = busy_ticks()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    machine = (busy1 - busy0) / os.sysconf("SC_CLK_TCK")
    text = log_path.read_text(errors="replace")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    res: dict[str, Any] = {"exit_code": proc.returncode, "wall_s": round(wall, 2),
                           "peak_tree_rss_mb": round(peak[0] / 1e6, 1),
                           "time_v_max_rss_mb": round(int(m.group(1)) * 1024 / 1e6, 1) if m else None,
                           "cpu_s": round(own, 2),
                           "foreign_cpu_share": round((machine - own) / (wall * (os.cpu_count() or 1)), 3),
                           "features_bench_running": bool(features_pids())}
    text_out = out.strip()
    start = text_out.rfind("\n{")
    for candidate in (text_out, text_out[start + 1:] if start >= 0 else "", text_out[text_out.find("{"):]):
        try:
            res["reported"] = json.loads(candidate)
            break
        except json.JSONDecodeError:
            continue
    if proc.returncode != 0:
        res["error"] = text[-3000:]
        res["stdout_tail"] = out[-1500:]
    return res


def output_digest(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq
    f = pq.ParquetFile(path)
    out: dict[str, Any] = {"rows": f.metadata.num_rows, "columns": f.schema_arrow.names}
    if "score" in f.schema_arrow.names:
        col = pq.read_table(path, columns=["score", "prediction"])
        out["score_sum"] = float(col.column("score").to_numpy().sum())
        out["positives"] = int(col.column("prediction").to_numpy().astype("int64").sum())
    return out


def run_batch(args, work: Path, log) -> dict[str, Any]:
    rows = args.batch_rows
    src = C.batch_file(work, rows)
    store = str(work / C.STORE)
    my = str(MAIN_BIN / "modelyard")
    home = work / "home-batch"
    cases = {
        "modelyard-nolog": [my, "score", f"models:/{C.LGBM_NAME}@champion", str(src), "--output", "{out}",
                            "--workers", "2", "--no-log", "--json", "-t", store],
        "modelyard-log": [my, "score", f"models:/{C.LGBM_NAME}@champion", str(src), "--output", "{out}",
                          "--workers", "2", "--json", "-t", store],
        "pandas": [MAIN_PY, str(HERE / "batch_pandas.py"), str(work / C.LGBM_PICKLE), str(src), "{out}",
                   str(C.BATCH_CHUNK_ROWS)],
    }
    results: dict[str, Any] = {k: {"runs": []} for k in cases}
    for rep in range(args.batch_repeats):
        for name, argv in cases.items():
            out = work / f"out-{name}.parquet"
            out.unlink(missing_ok=True)
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            env = child_env(MODELYARD_HOME=str(home), MODELYARD_TRACKING_URI=store)
            if not args.no_wait:
                wait_for_features(log, 30, args.wait_max, f"batch {name} {rep + 1}")
            log(f"  batch [{rep + 1}/{args.batch_repeats}] {name}")
            res = run_measured([a.replace("{out}", str(out)) for a in argv], env, str(work),
                               work / f"batch-{name}-{rep + 1}.log")
            res["repeat"] = rep + 1
            if not res.get("error"):
                res["rows"] = rows
                res["rows_per_s_wall"] = round(rows / res["wall_s"])
                if rep == 0:
                    try:
                        res["output"] = output_digest(out)
                    except Exception as exc:
                        res["output"] = {"error": str(exc)}
                if name == "modelyard-log":
                    logdir = home / "predictions"
                    res["prediction_log_mb"] = round(sum(p.stat().st_size for p in logdir.rglob("*") if p.is_file()) / 1e6, 1) if logdir.exists() else None
                log(f"    {res['rows_per_s_wall']:,} rows/s (wall {res['wall_s']}s), peak tree RSS "
                    f"{res['peak_tree_rss_mb']:,} MB, time -v max RSS {res['time_v_max_rss_mb']} MB, "
                    f"CPU {res['cpu_s']}s, foreign CPU {res['foreign_cpu_share']}")
            else:
                log(f"    [red]failed[/red] exit {res['exit_code']}:\n{res['error'][-1500:]}")
            results[name]["runs"].append(res)
            out.unlink(missing_ok=True)
    for r in results.values():
        ok = [x for x in r["runs"] if not x.get("error")]
        r["median"] = {k: med([x.get(k) for x in ok]) for k in
                       ("rows_per_s_wall", "wall_s", "peak_tree_rss_mb", "time_v_max_rss_mb", "cpu_s",
                        "foreign_cpu_share")}
        r["median"]["reported_rows_per_s"] = med([x.get("reported", {}).get("rows_per_second") for x in ok])
        r["failed_runs"] = len(r["runs"]) - len(ok)
    return {"rows": rows, "file": str(src), "file_mb": round(src.stat().st_size / 1e6, 1), "cases": results}


# ------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=20, help="seconds per timed wrk run (-c16)")
    ap.add_argument("--latency-duration", type=float, default=10, help="seconds per timed -c1 run")
    ap.add_argument("--warmup", type=float, default=5, help="seconds of untimed wrk before the repeats")
    ap.add_argument("--start-timeout", type=float, default=180)
    ap.add_argument("--max-foreign", type=float, default=0.10,
                    help="a timed run during which other processes used more than this share of the "
                         "machine's CPU is repeated (up to --max-attempts; the least contaminated is kept)")
    ap.add_argument("--max-attempts", type=int, default=3)
    ap.add_argument("--retry-pause", type=float, default=10)
    ap.add_argument("--only", default=None, help="comma-separated server or case names")
    ap.add_argument("--profile", choices=["auto", "always", "never"], default="auto")
    ap.add_argument("--skip-serving", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--batch-rows", type=int, default=10_000_000)
    ap.add_argument("--batch-repeats", type=int, default=2)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "modelyard-serving-bench"),
                    help="work folder: model, store, data (kept between runs; delete to rebuild)")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for benchmarks/features")
    ap.add_argument("--wait-max", type=int, default=2400)
    ap.add_argument("--out", default=str(BENCH_DIR / "results" / "serving.json"))
    args = ap.parse_args()

    # Stop cleanly (servers are stopped in `finally`) on SIGTERM, and on SIGINT even when the
    # shell started us in the background with SIGINT ignored.
    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(140, Console().width))

    def log(msg: str) -> None:
        console.print(msg, highlight=False)

    t_start = time.time()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sk, npv = sklearn_version(), numpy_version()
    py: dict[str, str] = {}
    if not args.skip_serving:
        py["bentoml"] = ensure_venv("bentoml", [f"bentoml=={BENTOML_PIN}", f"scikit-learn=={sk}", f"numpy=={npv}"],
                                    {"bentoml": BENTOML_PIN, "scikit-learn": sk}, log)
        py["mlflow"] = ensure_venv("mlflow", [f"mlflow=={MLFLOW_PIN}", f"scikit-learn=={sk}", f"numpy=={npv}"],
                                   {"mlflow": MLFLOW_PIN, "scikit-learn": sk}, log)

    prep_env = child_env(MODELYARD_HOME=str(work / "home-prepare"))
    prepared: dict[str, Any] = {}
    if not (work / C.META).exists():
        log(f"preparing model, modelyard store and in-process timings in {work}")
        r = subprocess.run([MAIN_PY, str(HERE / "prepare.py"), "serving", str(work)], env=prep_env, cwd=str(work),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"prepare.py serving failed:\n{r.stderr[-3000:]}")
        prepared["serving"] = json.loads(r.stdout.strip().splitlines()[-1])
    meta = C.load_meta(work)
    if not args.skip_serving and not (work / C.MLFLOW_MODEL / "MLmodel").exists():
        log("saving the MLflow model folder")
        r = subprocess.run([py["mlflow"], str(HERE / "prepare_mlflow.py"), str(work)], env=child_env(),
                           cwd=str(work), capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"prepare_mlflow.py failed:\n{r.stderr[-3000:]}")
    if not args.skip_batch and not C.batch_file(work, args.batch_rows).exists():
        log(f"generating {args.batch_rows:,} batch rows and the LightGBM model")
        r = subprocess.run([MAIN_PY, str(HERE / "prepare.py"), "batch", str(work), str(args.batch_rows)],
                           env=prep_env, cwd=str(work), capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"prepare.py batch failed:\n{r.stderr[-3000:]}")
        prepared["batch"] = json.loads(r.stdout.strip().splitlines()[-1])

    waited = {"skipped": True} if args.no_wait else wait_for_features(log, 30, args.wait_max)
    r = subprocess.run([MAIN_PY, str(HERE / "prepare.py"), "inproc", str(work)], env=prep_env, cwd=str(work),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"prepare.py inproc failed:\n{r.stderr[-3000:]}")
    meta["inproc"] = json.loads(r.stdout.strip().splitlines()[-1])

    machine = {
        "cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "mem_total_gib": mem_total_gib(),
        "platform": platform.platform(), "loadavg_at_start": os.getloadavg(),
        "wrk": subprocess.run([WRK, "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip(),
        "interpreters": {
            "modelyard": dist_versions(MAIN_PY, ["modelyard", "scikit-learn", "numpy", "starlette", "uvicorn",
                                                 "uvloop", "httptools", "orjson", "lightgbm", "onnxruntime",
                                                 "skl2onnx", "pyarrow", "pandas"]),
        },
    }
    for name, p in py.items():
        machine["interpreters"][name] = dist_versions(p, [name, "scikit-learn", "numpy", "uvicorn", "starlette",
                                                          "fastapi", "gunicorn", "pandas"])
    log(f"[bold]Serving benchmark[/bold]: repeats={args.repeats} duration={args.duration}s cpus={os.cpu_count()} "
        f"work={work} waited={waited}")

    serving = run_serving(args, work, py, meta, log) if not args.skip_serving else None
    # a partial result now, in case the batch part is cut short
    partial_path = Path(args.out).resolve()
    partial_path.parent.mkdir(parents=True, exist_ok=True)
    partial_path.with_name(partial_path.name + ".partial").write_text(json.dumps(
        {"partial": True, "command": sys.argv, "machine": machine, "inproc": meta.get("inproc"),
         "waited_for_features": {"start": waited, "later": WAIT_LOG}, "serving": serving},
        indent=1, default=str) + "\n")
    batch = None
    if not args.skip_batch:
        log("[bold]Batch scoring[/bold]")
        batch = run_batch(args, work, log)

    # ------------------------------------------------------------ tables and targets
    table_rows: list[dict[str, Any]] = []
    targets: dict[str, Any] = {}
    notes: list[str] = []
    if serving:
        L = serving["loads"]

        def m(case: str, key: str) -> Any:
            return L.get(case, {}).get("median", {}).get(key)

        ref_rps, ref_p99 = m("modelyard", "rps"), m("modelyard", "p99_ms")
        t = Table(title=f"Serving: one breast-cancer row per request, medians of {args.repeats} wrk runs")
        for col in ("case", "server", "wrk", "req/s", "p50 ms", "p99 ms", "non-2xx", "RSS MB",
                    "modelyard req/s ÷ this", "this p99 ÷ modelyard p99", "answer"):
            t.add_column(col, justify="right" if col not in ("case", "server", "wrk") else "left")
        for case, r in L.items():
            md = r.get("median", {})
            row = {"case": case, "server": r["server"], "wrk": r.get("wrk"), "rps": md.get("rps"),
                   "p50_ms": md.get("p50_ms"), "p99_ms": md.get("p99_ms"), "non_2xx": md.get("non_2xx_total"),
                   "socket_errors": md.get("socket_errors_total"), "server_rss_mb": md.get("server_rss_mb"),
                   "modelyard_rps_over_this": ratio(ref_rps, md.get("rps")),
                   "this_p99_over_modelyard_p99": ratio(md.get("p99_ms"), ref_p99),
                   "answer_ok": r.get("check", {}).get("ok"), "error": r.get("error")}
            table_rows.append(row)
            t.add_row(case, r["server"], r.get("wrk") or "—", fmt(row["rps"]), fmt(row["p50_ms"]),
                      fmt(row["p99_ms"]), fmt(row["non_2xx"]), fmt(row["server_rss_mb"]),
                      fmt(row["modelyard_rps_over_this"]) + "x" if row["modelyard_rps_over_this"] else "—",
                      fmt(row["this_p99_over_modelyard_p99"]) + "x" if row["this_p99_over_modelyard_p99"] else "—",
                      "ok" if row["answer_ok"] else ("WRONG" if row["answer_ok"] is False else (r.get("error") or "—")[:30]))
        console.print(t)
        inproc = meta["inproc"]["predict_ndarray"]["median_ms"]
        targets = {
            "rps_vs_bentoml": {"value": ratio(ref_rps, m("bentoml", "rps")), "target": ">= 10"},
            "rps_vs_mlflow": {"value": ratio(ref_rps, m("mlflow", "rps")), "target": ">= 30"},
            "p99_bentoml_over_modelyard": {"value": ratio(m("bentoml", "p99_ms"), ref_p99), "target": ">= 20"},
            "p99_mlflow_over_modelyard": {"value": ratio(m("mlflow", "p99_ms"), ref_p99), "target": ">= 20"},
            "rps_vs_lean": {"value": ratio(ref_rps, m("lean", "rps")), "target": ">= 0.8"},
            "logging_cost": {"value": (1 - ratio(ref_rps, m("modelyard-nolog", "rps"))) if ratio(ref_rps, m("modelyard-nolog", "rps")) else None,
                             "target": "<= 0.10", "meaning": "1 - rps(log on) / rps(log off)"},
            "c1_p50_minus_inproc_ms": {"value": (m("modelyard-c1", "p50_ms") - inproc) if m("modelyard-c1", "p50_ms") is not None else None,
                                       "target": "<= 0.5", "inproc_predict_ndarray_median_ms": inproc,
                                       "c1_p50_ms": m("modelyard-c1", "p50_ms")},
        }
        for v in targets.values():
            val = v["value"]
            op, num = v["target"].split()
            v["met"] = None if val is None else (val >= float(num) if op == ">=" else val <= float(num))
        t2 = Table(title="Targets")
        for col in ("target", "value", "wanted", "met"):
            t2.add_column(col)
        for k, v in targets.items():
            t2.add_row(k, fmt(v["value"]), v["target"], {True: "yes", False: "NO", None: "—"}[v["met"]])
        console.print(t2)
        log(f"in-process: predict(ndarray) median {fmt(inproc)} ms, predict_proba(ndarray) "
            f"{fmt(meta['inproc']['predict_proba_ndarray']['median_ms'])} ms, predict(DataFrame) "
            f"{fmt(meta['inproc']['predict_dataframe']['median_ms'])} ms (median of {C.INPROC_CALLS})")
        for name, p in serving["profiles"].items():
            if isinstance(p, dict) and p.get("self"):
                log(f"[bold]profile {name}[/bold] ({p['samples']} samples, {p.get('file')}): top self")
                for f in p["self"][:12]:
                    log(f"  {f['pct']:5.1f}%  {f['frame']}")
                log("  top inclusive (modelyard frames)")
                for f in p["inclusive_modelyard"][:15]:
                    log(f"  {f['pct']:5.1f}%  {f['frame']}")
    if batch:
        t3 = Table(title=f"Batch scoring {batch['rows']:,} rows ({batch['file_mb']} MB Parquet), "
                         f"medians of {args.batch_repeats}")
        for col in ("case", "rows/s (wall)", "wall s", "rows/s (reported)", "peak tree RSS MB",
                    "time -v max RSS MB", "modelyard-nolog rows/s ÷ this"):
            t3.add_column(col, justify="right" if col != "case" else "left")
        ref = batch["cases"]["modelyard-nolog"]["median"]["rows_per_s_wall"]
        for name, r in batch["cases"].items():
            md = r["median"]
            row = {"case": name, **md, "modelyard_nolog_over_this": ratio(ref, md["rows_per_s_wall"]),
                   "failed_runs": r["failed_runs"]}
            table_rows.append({"batch": True, **row})
            t3.add_row(name, fmt(md["rows_per_s_wall"]), fmt(md["wall_s"]), fmt(md["reported_rows_per_s"]),
                       fmt(md["peak_tree_rss_mb"]), fmt(md["time_v_max_rss_mb"]),
                       fmt(row["modelyard_nolog_over_this"]) + "x" if row["modelyard_nolog_over_this"] else "—")
        console.print(t3)
        for name in ("modelyard-nolog", "modelyard-log"):
            peak = batch["cases"][name]["median"]["peak_tree_rss_mb"]
            targets[f"batch_{name}_peak_rss_under_2gb"] = {"value": peak, "target": "<= 2000",
                                                           "met": None if peak is None else peak <= 2000}

    result = {
        "benchmark": "serving",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": [os.path.relpath(sys.argv[0], REPO) if sys.argv[0] else "", *sys.argv[1:]],
        "settings": {k: v for k, v in vars(args).items()},
        "pins": {"bentoml": BENTOML_PIN, "mlflow": MLFLOW_PIN, "scikit-learn": sk, "numpy": npv},
        "waited_for_features": {"start": waited, "later": WAIT_LOG},
        "machine": machine,
        "prepared": prepared,
        "inproc": meta.get("inproc"),
        "onnx_error": meta.get("onnx_error"),
        "total_wall_s": round(time.time() - t_start, 1),
        "notes": notes,
        "table": table_rows,
        "targets": targets,
        "serving": serving,
        "batch": batch,
    }
    out_path = Path(args.out).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str) + "\n")
    os.replace(tmp, out_path)
    log(f"wrote {out_path} (total {result['total_wall_s']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
