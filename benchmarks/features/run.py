"""Feature-store benchmark: modelyard vs Feast (file and DuckDB offline stores) vs hand-written DuckDB.

    .venv/bin/python benchmarks/features/run.py [--repeats 3]
        [--workloads join_1m,join_10m,materialize_1m,online,http]
        [--out benchmarks/results/features.json] [--scale 1.0] [--tmp-root DIR]

* Feast runs in its own virtualenv (benchmarks/.venvs/feast, created here on first use with
  ``pip install feast[duckdb]==FEAST_PIN``); modelyard and the hand-written DuckDB query run
  with this interpreter (sys.executable).
* The same generated data (_common.py) feeds every tool; it is cached per size and day under
  --tmp-root. Every (tool, workload, repeat) is a fresh subprocess in a brand-new store
  directory and prints one JSON line, collected here.
* A case is repeated --repeats times unless its first run took over REPEAT_LIMIT_S; the
  tables show medians. Join answers (first repeat) are compared row by row with the
  hand-written query's answer.
* online / http reuse the store materialized by the first materialize_1m run of each tool.
* Writes raw + medians + machine info to --out after every case (partial runs keep results)
  and prints one table per workload.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_DIR = HERE.parent
REPO = BENCH_DIR.parent
FEAST_VENV = BENCH_DIR / ".venvs" / "feast"
FEAST_PIN = "0.67.0"  # the newest feast on the package index reachable here (2026-11-29)
WORKLOADS = ["join_1m", "join_10m", "materialize_1m", "online", "http", "materialize_10m"]
DEFAULT_WORKLOADS = ["join_1m", "join_10m", "materialize_1m", "online", "http"]
REPEAT_LIMIT_S = 60.0
RUN_TIMEOUT_S = 1800
FEAST_FILE_JOIN_TIMEOUT_S = 600  # "if Feast's file store at 10M takes >10 min: record, move on"

sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402


@dataclass(frozen=True)
class Case:
    workload: str   # join_1m, join_10m, materialize_1m, materialize_10m, online, http
    tool: str       # modelyard | feast | duckdb
    variant: str    # modelyard: default/sqlite; feast: file | duckdb (offline store);
    #                 duckdb: asof_key (the reference answer) | range_window

    @property
    def id(self) -> str:
        return f"{self.workload}/{self.label}"

    @property
    def label(self) -> str:
        if self.tool == "duckdb":
            return "duckdb_sql" if self.variant == "asof_key" else f"duckdb_sql_{self.variant}"
        return "modelyard" if self.tool == "modelyard" else f"feast_{self.variant}"

    @property
    def size(self) -> str:
        return self.workload.rsplit("_", 1)[1] if "_" in self.workload else "1m"


def cases_for(workloads: list[str], feast_mat_duckdb: bool) -> list[Case]:
    out = []
    for w in workloads:
        if w.startswith("join_"):
            out += [Case(w, "duckdb", "asof_key"), Case(w, "duckdb", "range_window"),
                    Case(w, "modelyard", "default"),
                    Case(w, "feast", "duckdb"), Case(w, "feast", "file")]
        elif w.startswith("materialize_"):
            out += [Case(w, "modelyard", "sqlite"), Case(w, "feast", "file")]
            if feast_mat_duckdb:
                out.append(Case(w, "feast", "duckdb"))
        else:
            out += [Case(w, "modelyard", "sqlite"), Case(w, "feast", "file")]
    return out


# ---------------------------------------------------------------- helpers


def child_env(store: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("MODELYARD_TRACKING_URI", "MODELYARD_ONLINE_STORE", "MODELYARD_FEATURE_REPO",
              "MODELYARD_HOME", "FEAST_FS_YAML_FILE_PATH"):
        env.pop(k, None)
    if store:
        env["MODELYARD_HOME"] = os.path.join(store, "home")
    env["FEAST_USAGE"] = "False"
    env["DO_NOT_TRACK"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def interp_info(python: str, dists: list[str]) -> dict[str, Any]:
    code = (
        "import json, sys, sqlite3, platform\n"
        "from importlib import metadata\n"
        "def v(d):\n"
        "    try: return metadata.version(d)\n"
        "    except Exception: return None\n"
        f"print(json.dumps({{'python': platform.python_version(), 'executable': sys.executable,"
        f" 'sqlite': sqlite3.sqlite_version, 'versions': {{d: v(d) for d in {dists!r}}}}}))"
    )
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    except Exception as exc:
        return {"error": str(exc)}


def git_state() -> dict[str, Any]:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True,
                                  timeout=20).stdout.strip()
        except Exception as exc:
            return f"error: {exc}"

    return {"head": git("rev-parse", "HEAD"),
            "src_dirty_files": git("status", "--short", "--", "src").splitlines()}


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


def ensure_feast_venv(console) -> str:
    py = FEAST_VENV / "bin" / "python"
    if py.exists():
        info = interp_info(str(py), ["feast"])
        if info.get("versions", {}).get("feast") == FEAST_PIN:
            return str(py)
        console.print(f"[yellow]Feast venv has feast {info.get('versions')}, want {FEAST_PIN}: rebuilding")
    console.print(f"Creating {FEAST_VENV.relative_to(REPO)} with feast[duckdb]=={FEAST_PIN} (one-off, ~2 min)...")
    FEAST_VENV.parent.mkdir(parents=True, exist_ok=True)
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", "--clear", str(FEAST_VENV)], check=True)
    log = FEAST_VENV / "pip-install.log"
    with open(log, "w") as f:
        rc = subprocess.run([str(py), "-m", "pip", "install", f"feast[duckdb]=={FEAST_PIN}"],
                            stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise SystemExit(f"pip install feast[duckdb]=={FEAST_PIN} failed (exit {rc}); see {log}")
    return str(py)


def last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def run_cmd(console, cmd: list[str], cwd: str, env: dict[str, str], log_path: Path,
            timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    tail: list[str] = []

    def pump() -> None:
        with open(log_path, "w") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            for line in proc.stderr:  # type: ignore[union-attr]
                log.write(line)
                tail.append(line)
                del tail[:-40]

    out_chunks: list[str] = []
    threads = [threading.Thread(target=pump, daemon=True),
               threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)]  # type: ignore[union-attr]
    for th in threads:
        th.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)  # only the process group we started
        proc.wait()
    for th in threads:
        th.join(timeout=30)
    wall = time.perf_counter() - t0
    res = last_json("".join(out_chunks) or "")
    if timed_out:
        return {"error": True, "timeout": True, "timeout_s": timeout, "wall_s": round(wall, 1),
                "note": f"killed after {timeout:.0f}s", "log": str(log_path)}
    if proc.returncode != 0 or res is None:
        oom = proc.returncode == -9
        return {"error": True, "exit_code": proc.returncode, "wall_s": round(wall, 2),
                "oom_killed_probably": oom, "stderr_tail": "".join(tail)[-4000:],
                "log": str(log_path)}
    res["process_wall_s"] = round(wall, 2)
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def med(values: list[Any]) -> Any:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(nums) if nums else None


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:,.1f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# ---------------------------------------------------------------- data


def ensure_data(console, data_root: str, size: str, scale: float, anchor: _dt.datetime) -> str:
    rows, ents = C.SIZES[size]
    rows, ents = max(1000, int(rows * scale)), max(100, int(ents * scale))
    d = os.path.join(data_root, f"{size}-x{scale:g}-{anchor:%Y%m%d}")
    meta = os.path.join(d, "meta.json")
    if os.path.exists(meta) and os.path.exists(C.data_paths(d)["online_expect"]):
        return d
    console.print(f"  generating data {d} ({rows:,} feature rows, {ents:,} entity rows)...")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "_common.py"), "generate", d, "--rows", str(rows),
                    "--entities", str(ents), "--anchor", anchor.isoformat()], check=True,
                   stdout=subprocess.DEVNULL)
    write_online_expect(d)
    console.print(f"  ... {time.perf_counter() - t0:.1f}s", highlight=False)
    return d


def write_online_expect(d: str) -> None:
    """Latest (event time, then created) values of 50 drivers in the materialization window."""
    import duckdb

    meta = C.read_meta(d)
    anchor = _dt.datetime.fromisoformat(meta["anchor"])
    start, end = C.materialize_window(anchor)
    ids = sorted(set(C.lookup_ids(50, 3, meta)))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    feats = ", ".join(C.FEATURES)
    rows = con.execute(
        f"SELECT driver_id, epoch(event_timestamp), {feats} FROM read_parquet(?) "
        f"WHERE driver_id IN ({', '.join(map(str, ids))}) AND event_timestamp >= ? AND event_timestamp <= ? "
        "QUALIFY row_number() OVER (PARTITION BY driver_id ORDER BY event_timestamp DESC, created DESC) = 1",
        [C.data_paths(d)["features"], start, end]).fetchall()
    now = time.time()
    sample = {str(r[0]): {"ts": float(r[1]), "values": list(r[2:]),
                          "fresh": now - float(r[1]) <= C.TTL_DAYS * 86400} for r in rows}
    with open(C.data_paths(d)["online_expect"], "w") as f:
        json.dump({"drivers": meta["drivers"], "computed_at": now, "sample": sample}, f)


def compare(reference: str, result: str) -> dict[str, Any]:
    """Row-by-row comparison with the hand-written answer, matched on (driver_id, event_timestamp)."""
    import duckdb

    diff = " OR ".join(f"((r.{f} IS NULL) <> (x.{f} IS NULL) OR abs(r.{f} - x.{f}) > 1e-9)"
                       for f in C.FEATURES)
    all_null = " AND ".join(f"r.{f} IS NULL" for f in C.FEATURES)
    q = f"""
    SELECT count(*) FILTER (WHERE r.driver_id IS NOT NULL),
           count(*) FILTER (WHERE r.driver_id IS NOT NULL AND {all_null}),
           count(*) FILTER (WHERE r.driver_id IS NULL),
           count(*) FILTER (WHERE x.driver_id IS NULL),
           count(*) FILTER (WHERE r.driver_id IS NOT NULL AND x.driver_id IS NOT NULL AND ({diff}))
    FROM read_parquet(?) r FULL OUTER JOIN read_parquet(?) x
      ON r.driver_id = x.driver_id AND r.event_timestamp = x.event_timestamp"""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    n, nulls, missing, extra, differ = con.execute(q, [result, reference]).fetchall()[0]
    return {"rows_returned": n, "rows_all_null": nulls, "rows_missing_vs_reference": missing,
            "rows_extra_vs_reference": extra, "rows_differing": differ}


# ---------------------------------------------------------------- http


def post_json(url: str, payload: dict, timeout: float = 5.0) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def group_hwm_mib(pgid: int) -> float | None:
    """Sum of VmHWM over the processes of a process group (server master + workers)."""
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.getpgid(int(p)) != pgid:
                continue
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return round(total / 1024, 1) if total else None


def run_http(console, case: Case, python: str, store: str, data: str, log_dir: Path,
             rep: int, args) -> dict[str, Any]:
    port = free_port()
    script = HERE / f"workload_{case.tool}.py"
    info = run_cmd(console, [python, str(script), "serve_cmd", "--data", data, "--store", store,
                             "--port", str(port)], store, child_env(store),
                   log_dir / f"{case.label}-serve_cmd.log", 120)
    if info.get("error"):
        return info
    env = child_env(store)
    env.update(info["env"])
    log_path = log_dir / f"{case.workload}-{case.label}-{rep}-server.log"
    logf = open(log_path, "w")  # noqa: SIM115 - closed in the finally below
    server = subprocess.Popen(info["cmd"], cwd=store, env=env, stdout=logf, stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/get-online-features"
    with open(C.data_paths(data)["online_expect"]) as f:
        expect = json.load(f)
    key, exp = next((k, e) for k, e in expect["sample"].items() if e["fresh"])
    try:
        t0 = time.perf_counter()
        status, body = None, None
        while time.perf_counter() - t0 < 120:
            if server.poll() is not None:
                return {"error": True, "note": f"server exited {server.returncode}",
                        "log": str(log_path)}
            try:
                status, body = post_json(url, {"features": C.FEATURE_REFS,
                                               "entities": {C.JOIN_KEY: [int(key)]}})
                break
            except OSError:
                time.sleep(0.2)
        startup_s = time.perf_counter() - t0
        check: dict[str, Any] = {"check_status": status}
        if status == 200 and isinstance(body, dict):
            names = body["metadata"]["feature_names"]
            got = {n: r["values"][0] for n, r in zip(names, body["results"], strict=False)}
            vals = [got.get(f) for f in C.FEATURES]
            check["check_ok"] = all(v is not None and abs(v - e) < 1e-9
                                    for v, e in zip(vals, exp["values"], strict=True))
            check["check_statuses"] = sorted({s for r in body["results"] for s in r.get("statuses", [])})
        else:
            check["check_ok"] = False
            check["check_body"] = str(body)[:500]
        load = run_cmd(console, [sys.executable, str(HERE / "_loadgen.py"), url, "--data", data,
                                 "--concurrency", str(args.http_concurrency),
                                 "--duration", str(args.http_duration)],
                       store, child_env(), log_dir / f"{case.workload}-{case.label}-{rep}-load.log",
                       args.http_duration + 120)
        load.update(check)
        load["server_startup_s"] = round(startup_s, 2)
        load["server_peak_rss_mib"] = group_hwm_mib(server.pid)
        load["tool"], load["workload"], load["server_cmd"] = case.tool, "http", info["cmd"]
        load["tool_version"] = info.get("tool_version")
        return load
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)  # only the server's own process group
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        logf.close()


# ---------------------------------------------------------------- tables

# workload kind -> [(field, label, better)]
MEASURES = {
    "join": [("join_s", "join wall s", "lower"), ("peak_rss_mib", "peak RSS MiB", "lower"),
             ("rows_returned", "rows returned", ""), ("rows_all_null", "rows all-null", ""),
             ("rows_missing_vs_reference", "entity rows missing", "lower"),
             ("rows_differing", "rows differing from reference", "lower")],
    "materialize": [("materialize_s", "materialize wall s", "lower"),
                    ("entities_per_s", "entities/s", "higher"),
                    ("rows_per_s", "source rows/s", "higher"),
                    ("entities_written", "entities written", ""),
                    ("peak_rss_mib", "peak RSS MiB", "lower"),
                    ("rematerialize_s", "materialize again into the filled store, s", "lower")],
    "online": [("p50_us", "p50 µs", "lower"), ("p99_us", "p99 µs", "lower"),
               ("mean_us", "mean µs", "lower"), ("check_mismatch", "sample values wrong (of ~50)", "lower"),
               ("check_stale_returned_null", "beyond-TTL sample rows returned null", ""),
               ("peak_rss_mib", "peak RSS MiB", "lower")],
    "http": [("requests_per_s", "requests/s", "higher"), ("p50_ms", "p50 ms", "lower"),
             ("p99_ms", "p99 ms", "lower"), ("errors", "errors", "lower"),
             ("server_peak_rss_mib", "server peak RSS MiB", "lower")],
}
COLUMNS = ["modelyard", "feast_file", "feast_duckdb", "duckdb_sql", "duckdb_sql_range_window"]


def kind(workload: str) -> str:
    return workload.split("_")[0]


def build_tables(cases: list[Case], medians: dict[str, dict], raw: dict[str, list]) -> list[dict]:
    rows = []
    for w in dict.fromkeys(c.workload for c in cases):
        by = {c.label: c for c in cases if c.workload == w}
        for field, label, better in MEASURES[kind(w)]:
            vals = {}
            for col in COLUMNS:
                if col not in by:
                    continue
                cid = by[col].id
                runs = raw.get(cid, [])
                m = medians.get(cid, {})
                v = m.get(field)
                if v is None and runs and all(r.get("error") for r in runs):
                    v = "timeout" if any(r.get("timeout") for r in runs) else "failed"
                vals[col] = v
            my = vals.get("modelyard")
            ratios = {}
            for col, v in vals.items():
                if col == "modelyard" or not isinstance(v, (int, float)) or not isinstance(my, (int, float)):
                    continue
                if better == "lower" and my:
                    ratios[col] = v / my  # >1: modelyard better (x times faster / smaller)
                elif better == "higher" and v:
                    ratios[col] = my / v
            rows.append({"workload": w, "measure": field, "label": label, "better": better,
                         "values": vals, "modelyard_advantage": ratios})
    return rows


def render_markdown(rows: list[dict]) -> str:
    out = []
    for w in dict.fromkeys(r["workload"] for r in rows):
        wr = [r for r in rows if r["workload"] == w]
        cols = [c for c in COLUMNS if any(c in r["values"] for r in wr)]
        others = [c for c in cols if c != "modelyard"]
        out.append(f"\n### {w}\n")
        out.append("| measure | " + " | ".join(cols) + " | "
                   + " | ".join(f"modelyard advantage vs {c}" for c in others) + " |")
        out.append("|---" * (1 + len(cols) + len(others)) + "|")
        for r in wr:
            adv = [(f"{r['modelyard_advantage'][c]:.2f}x" if c in r["modelyard_advantage"] else "")
                   for c in others]
            out.append(f"| {r['label']} | " + " | ".join(fmt(r["values"].get(c)) for c in cols)
                       + " | " + " | ".join(adv) + " |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS),
                    help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--only", default=None, help="comma-separated tool labels: " + ",".join(COLUMNS))
    ap.add_argument("--out", default=str(BENCH_DIR / "results" / "features.json"))
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply all sizes (smoke runs only; not comparable with full runs)")
    ap.add_argument("--tmp-root", default=None, help="where data and stores go (default: system temp)")
    ap.add_argument("--http-duration", type=float, default=15.0)
    ap.add_argument("--http-concurrency", type=int, default=8)
    ap.add_argument("--online-n", type=int, default=2000)
    ap.add_argument("--no-feast-materialize-duckdb", action="store_true",
                    help="materialize Feast only through its default file offline store")
    ap.add_argument("--keep-stores", action="store_true")
    ap.add_argument("--merge", action="store_true",
                    help="keep the cases of --out that this run does not run (results of both runs "
                         "in one file; each case's runs come from one invocation)")
    ap.add_argument("--render", metavar="JSON", help="print the markdown tables of a results file and exit")
    args = ap.parse_args()

    if args.render:
        print(render_markdown(json.loads(Path(args.render).read_text())["table"]))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    need_mat = [w for w in workloads if w in ("online", "http")]
    if need_mat and "materialize_1m" not in workloads:
        workloads.insert(0, "materialize_1m")  # online/http read the store it leaves
    order = {w: i for i, w in enumerate(WORKLOADS)}
    workloads.sort(key=lambda w: order[w])
    cases = cases_for(workloads, not args.no_feast_materialize_duckdb)
    if args.only:
        only = set(args.only.split(","))
        cases = [c for c in cases if c.label in only]

    pythons = {"modelyard": sys.executable, "duckdb": sys.executable}
    if any(c.tool == "feast" for c in cases):
        pythons["feast"] = ensure_feast_venv(console)

    tmp_root = os.path.abspath(args.tmp_root or tempfile.gettempdir())
    data_root = os.path.join(tmp_root, "modelyard-features-bench-data")
    out_path = Path(args.out).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out_path.parent / (out_path.stem + "-logs.tmp")
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)

    anchor = C.anchor_today()
    machine = {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_gib": mem_total_gib(),
        "platform": platform.platform(),
        "tmp_root": tmp_root,
        "interpreters": {
            "modelyard": interp_info(sys.executable, ["modelyard", "duckdb", "pyarrow", "pandas", "numpy", "uvicorn", "starlette"]),
            **({"feast": interp_info(pythons["feast"], ["feast", "duckdb", "ibis-framework", "pyarrow", "pandas", "dask", "numpy", "gunicorn", "uvicorn", "fastapi"])}
               if "feast" in pythons else {}),
        },
        "loadavg_at_start": os.getloadavg(),
        "modelyard_git": git_state(),
    }
    feast_version = machine["interpreters"].get("feast", {}).get("versions", {}).get("feast")
    console.print(f"[bold]Feature-store benchmark[/bold]: workloads={workloads} repeats={args.repeats} "
                  f"scale={args.scale} cpus={os.cpu_count()} feast={feast_version}")
    console.print(f"  logs: {log_dir}")

    data_dirs: dict[str, str] = {}
    for size in sorted({c.size for c in cases}):
        data_dirs[size] = ensure_data(console, data_root, size, args.scale, anchor)
    data_meta = {s: C.read_meta(d) for s, d in data_dirs.items()}

    raw: dict[str, list[dict[str, Any]]] = {c.id: [] for c in cases}
    notes: list[str] = []
    all_cases = list(cases)
    invocations = [{"created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                    "command": [os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]],
                    "cases": [c.id for c in cases], "loadavg_at_start": os.getloadavg()}]
    if args.merge and out_path.exists():
        prev = json.loads(out_path.read_text())
        mine = {c.id for c in cases}
        for pc in prev["cases"]:
            variant = "asof_key" if pc["tool"] == "duckdb" and pc["variant"] == "sql" else pc["variant"]
            c = Case(pc["workload"], pc["tool"], variant)
            if c.id not in mine:
                all_cases.append(c)
                raw[c.id] = pc["runs"]
        invocations = prev.get("invocations") or [{"created": prev.get("created"),
                                                    "command": prev.get("command")}]
        invocations = [*invocations, {
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "command": [os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]],
            "cases": [c.id for c in cases], "loadavg_at_start": os.getloadavg()}]
        for k, v in prev.get("data", {}).items():
            data_meta.setdefault(k, v)
        notes.extend(n for n in prev.get("notes", []) if n not in notes)
        machine.setdefault("previous_invocation_machine", prev.get("machine"))
    order_w = {w: i for i, w in enumerate(WORKLOADS)}
    order_c = {c: i for i, c in enumerate(COLUMNS)}
    all_cases.sort(key=lambda c: (order_w[c.workload], order_c.get(c.label, 99)))
    stop_repeating: set[str] = set()
    kept_stores: dict[str, str] = {}  # tool label -> materialized store (online/http)
    bases: list[str] = []
    t_start = time.time()
    if args.scale != 1.0:
        notes.append(f"scale={args.scale}: sizes scaled, figures not comparable with full runs")

    def write_out(final: bool) -> dict:
        medians: dict[str, dict[str, Any]] = {}
        for c in all_cases:
            ok = [r for r in raw[c.id] if not r.get("error")]
            fields = sorted({k for r in ok for k, v in r.items()
                             if isinstance(v, (int, float)) and not isinstance(v, bool)})
            medians[c.id] = {k: med([r.get(k) for r in ok]) for k in fields}
            medians[c.id]["ok_runs"] = len(ok)
            medians[c.id]["failed_runs"] = sum(1 for r in raw[c.id] if r.get("error"))
        rows = build_tables(all_cases, medians, raw)
        result = {
            "benchmark": "features",
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "complete": final,
            "command": [os.path.relpath(sys.argv[0], REPO) if sys.argv[0] else "", *sys.argv[1:]],
            "invocations": invocations,
            "settings": {"repeats": args.repeats, "repeat_limit_s": REPEAT_LIMIT_S,
                         "workloads": workloads, "scale": args.scale, "feast_pin": FEAST_PIN,
                         "http_duration_s": args.http_duration,
                         "http_concurrency": args.http_concurrency, "online_n": args.online_n,
                         "feast_file_join_timeout_s": FEAST_FILE_JOIN_TIMEOUT_S},
            "machine": machine,
            "feast_version": feast_version,
            "data": data_meta,
            "total_wall_s": round(time.time() - t_start, 1),
            "notes": notes,
            "table": rows,
            "cases": [{"case": c.id, "tool": c.tool, "variant": c.variant, "workload": c.workload,
                       "median": medians[c.id], "runs": raw[c.id]} for c in all_cases],
        }
        tmp = out_path.with_name(out_path.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1, default=str) + "\n")
        os.replace(tmp, out_path)
        return result

    try:
        for w in workloads:
            for rep in range(1, args.repeats + 1):
                for case in [c for c in cases if c.workload == w]:
                    if case.id in stop_repeating:
                        continue
                    data = data_dirs[case.size]
                    console.print(f"  [{rep}/{args.repeats}] {case.id}", highlight=False)
                    log_path = log_dir / f"{w}-{case.label}-{rep}.log"
                    if w in ("online", "http"):
                        store = kept_stores.get(case.label)
                        if store is None:
                            res = {"error": True, "note": "no materialized store to read"}
                        elif w == "online":
                            res = run_cmd(console, [pythons[case.tool], str(HERE / f"workload_{case.tool}.py"),
                                                    "online", "--data", data, "--store", store,
                                                    "--n", str(args.online_n)],
                                          store, child_env(store), log_path, RUN_TIMEOUT_S)
                        else:
                            res = run_http(console, case, pythons[case.tool], store, data, log_dir, rep, args)
                    else:
                        base = tempfile.mkdtemp(prefix=f"features-{case.label}-{w}-", dir=tmp_root)
                        store = os.path.join(base, "store")
                        os.mkdir(store)
                        cmd = [pythons[case.tool], str(HERE / f"workload_{case.tool}.py"),
                               kind(w), "--data", data, "--store", store]
                        if case.tool == "feast":
                            cmd += ["--offline", case.variant]
                        if case.tool == "duckdb":
                            cmd += ["--variant", case.variant]
                        result_path = os.path.join(base, "result.parquet")
                        ref_path = C.data_paths(data)["reference"]
                        is_ref = case.label == "duckdb_sql"
                        if kind(w) == "join" and rep == 1:
                            cmd += ["--result", ref_path if is_ref else result_path]
                        timeout = (FEAST_FILE_JOIN_TIMEOUT_S if case.label == "feast_file"
                                   and kind(w) == "join" else RUN_TIMEOUT_S)
                        res = run_cmd(console, cmd, store, child_env(store), log_path, timeout)
                        if kind(w) == "join" and rep == 1 and not res.get("error"):
                            try:
                                res.update(compare(ref_path, ref_path if is_ref else result_path))
                            except Exception as exc:
                                res["compare_error"] = repr(exc)
                        keep = (w == "materialize_1m" and not res.get("error")
                                and case.label in ("modelyard", "feast_file")
                                and case.label not in kept_stores)
                        if keep:
                            kept_stores[case.label] = store
                            bases.append(base)
                        elif not args.keep_stores:
                            shutil.rmtree(base, ignore_errors=True)
                    res["repeat"] = rep
                    raw[case.id].append(res)
                    if res.get("error"):
                        stop_repeating.add(case.id)
                        console.print(f"    [red]FAILED[/red] {res.get('note', '')} exit={res.get('exit_code')}; "
                                      f"log {res.get('log', log_path)}\n{res.get('stderr_tail', '')[-1500:]}",
                                      highlight=False)
                    else:
                        console.print("    " + summary_line(kind(w), res), highlight=False)
                        if res.get("process_wall_s", 0) > REPEAT_LIMIT_S:
                            stop_repeating.add(case.id)
                    write_out(False)
    finally:
        if not args.keep_stores:
            for b in bases:
                shutil.rmtree(b, ignore_errors=True)

    machine["modelyard_git_at_end"] = git_state()
    machine["loadavg_at_end"] = os.getloadavg()
    result = write_out(True)
    for w in dict.fromkeys(c.workload for c in all_cases):
        wr = [r for r in result["table"] if r["workload"] == w]
        cols = [c for c in COLUMNS if any(c in r["values"] for r in wr)]
        t = Table(title=f"{w} — medians (modelyard advantage: >1 means modelyard is better)")
        t.add_column("measure")
        for c in cols:
            t.add_column(c, justify="right")
        others = [c for c in cols if c != "modelyard"]
        for c in others:
            t.add_column(f"adv. vs {c}", justify="right")
        for r in wr:
            t.add_row(r["label"], *[fmt(r["values"].get(c)) for c in cols],
                      *[(f"{r['modelyard_advantage'][c]:.2f}x" if c in r["modelyard_advantage"] else "")
                        for c in others])
        console.print(t)
    console.print(f"wrote {out_path} (total {result['total_wall_s']:.0f}s)", highlight=False)
    return 0


def summary_line(k: str, r: dict[str, Any]) -> str:
    if k == "join":
        cmp = (f", rows {r.get('rows_returned')}, all-null {r.get('rows_all_null')}, "
               f"missing {r.get('rows_missing_vs_reference')}, differ {r.get('rows_differing')}"
               if "rows_returned" in r else "")
        return f"join {r['join_s']:.2f}s, peak RSS {r['peak_rss_mib']:.0f} MiB, process {r['process_wall_s']}s{cmp}"
    if k == "materialize":
        return (f"{r['materialize_s']:.2f}s, {r['entities_written']:,} entities, "
                f"{r['entities_per_s']:,.0f} entities/s, {r['rows_per_s']:,.0f} rows/s, RSS {r['peak_rss_mib']:.0f} MiB")
    if k == "online":
        return (f"p50 {r['p50_us']:.0f} µs, p99 {r['p99_us']:.0f} µs, mean {r['mean_us']:.0f} µs, "
                f"check: {r['check_mismatch']} wrong of {r['check_entities']}; of {r['check_stale_expected']} beyond TTL: "
                f"{r['check_stale_returned_null']} null, {r['check_stale_returned_value']} value")
    if k == "http":
        return (f"{r['requests_per_s']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
                f"errors {r['errors']}, check ok={r.get('check_ok')}, server RSS {r.get('server_peak_rss_mib')} MiB")
    return json.dumps(r)[:200]


if __name__ == "__main__":
    sys.exit(main())
