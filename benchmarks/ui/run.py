"""The web UI in a real browser (Debian's Chromium through Playwright), on a store of 10,000
runs with 20 params/metrics each; MLflow's UI on the same data where the comparison applies.

    .venv/bin/python benchmarks/ui/run.py [--repeats 5] [--runs 10000] [--keep DIR] [--mlflow]

Builds the store (build_modelyard.py), starts `modelyard ui` on a free loopback port, and times
from navigation to what a person waits for: the runs page's first contentful paint and its
table; sorting by a metric (the table re-sorted); a chart of a 100,000-point metric drawn;
10 runs' histories overlaid; the monitoring page of an endpoint with 12 weeks of hourly
windows with every chart drawn. Medians of --repeats, each in a fresh browser context (cold
cache). With --mlflow, the same runs go into MLflow (benchmarks/.venvs/mlflow) and its UI is
timed on the runs page, the sort and the metric charts. Writes benchmarks/results/ui.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MLFLOW_PY = REPO / "benchmarks" / ".venvs" / "mlflow" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def timed(page: Any, url: str, ready: str, timeout: float = 60_000) -> tuple[float, float | None]:
    """ms from navigation to ``ready`` showing, and the first contentful paint."""
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(ready, timeout=timeout)
    elapsed = (time.perf_counter() - started) * 1000
    fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null")
    return elapsed, fcp


def modelyard_case(browser: Any, base: str, info: dict[str, Any]) -> dict[str, float | None]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    out: dict[str, float | None] = {}
    runs_url = f"{base}/ui/experiments/{info['experiment_id']}?col=metrics.m00&col=metrics.m01&col=params.p00"
    out["runs_table_ms"], out["runs_fcp_ms"] = timed(page, runs_url, "table.runs tbody tr")
    top = C.top_by_m00(info["bulk"])
    started = time.perf_counter()
    page.get_by_role("link", name="m00").click()
    page.wait_for_selector(f"table.runs tbody tr:first-child a:text-is('{top}')")
    out["sort_by_metric_ms"] = (time.perf_counter() - started) * 1000
    out["chart_100k_points_ms"], _ = timed(page, f"{base}/ui/runs/{info['long_run']}", '#run-chart[data-ready="1"] canvas')
    compare = "&".join(f"run={r}" for r in info["compare"])
    out["compare_10_histories_ms"], _ = timed(page, f"{base}/ui/compare?{compare}&key=loss", '#compare-chart[data-ready="1"] canvas')
    out["monitoring_12_weeks_ms"], _ = timed(
        page, f"{base}/ui/monitoring/bench",
        '#chart-traffic[data-ready="1"] canvas')
    ctx.close()
    return out


def attempt(out: dict[str, float | None], key: str, fn: Any) -> None:
    """One MLflow measurement; its UI's markup is not ours, so a miss is recorded, not fatal."""
    try:
        out[key] = fn()[0]
    except Exception as error:  # a selector that never showed: no figure
        print(f"mlflow {key}: {type(error).__name__}: {str(error)[:200]}", file=sys.stderr)
        out[key] = None


def mlflow_case(browser: Any, base: str, info: dict[str, Any]) -> dict[str, float | None]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    out: dict[str, float | None] = {}
    newest = C.run_name(info["bulk"] - 1)
    url = f"{base}/#/experiments/{info['experiment_id']}"
    attempt(out, "runs_table_ms", lambda: timed(page, url, f"text={newest}", 120_000))
    out["runs_fcp_ms"] = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null")
    out["sort_by_metric_ms"] = None  # MLflow sorts through a menu, not a column header
    one = json.dumps([info["long_run"]])
    experiments = f"%5B%22{info['experiment_id']}%22%5D"
    attempt(out, "chart_100k_points_ms", lambda: timed(
        page, f"{base}/#/metric?runs={one}&metric=%22loss%22&experiments={experiments}", ".js-plotly-plot .scatterlayer .trace", 120_000))
    ten = json.dumps(info["compare"])
    attempt(out, "compare_10_histories_ms", lambda: timed(
        page, f"{base}/#/metric?runs={ten}&metric=%22loss%22&experiments={experiments}",
        ".js-plotly-plot .scatterlayer .trace:nth-child(10)", 120_000))
    out["monitoring_12_weeks_ms"] = None
    ctx.close()
    return out


def median(rows: list[dict[str, float | None]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None  # type: ignore[type-var]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=C.RUNS)
    parser.add_argument("--keep", type=Path, default=None, help="build (or reuse) the stores here")
    parser.add_argument("--mlflow", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = args.keep or Path(tempfile.mkdtemp(prefix="modelyard-ui-bench-"))
    mine = folder / "modelyard"
    info_file = mine / "info.json"
    if not info_file.exists():
        mine.mkdir(parents=True, exist_ok=True)
        built = subprocess.run([sys.executable, str(HERE / "build_modelyard.py"), str(mine), str(args.runs)],
                               check=True, capture_output=True, text=True)
        info_file.write_text(built.stdout.strip().splitlines()[-1])
    info = json.loads(info_file.read_text())
    info["bulk"] = info["runs"] - 1 - C.COMPARE_RUNS
    results: dict[str, Any] = {"runs": info["runs"], "repeats": args.repeats, "tools": {}}
    servers = []
    try:
        port = free_port()
        servers.append(subprocess.Popen([str(Path(sys.executable).parent / "modelyard"), "ui", "--port", str(port),
                                         "-t", f"sqlite:///{mine / 'modelyard.db'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(f"http://127.0.0.1:{port}/health")
        tools = {"modelyard": (f"http://127.0.0.1:{port}", modelyard_case, info)}
        if args.mlflow:
            theirs = folder / "mlflow"
            minfo_file = theirs / "info.json"
            if not minfo_file.exists():
                theirs.mkdir(parents=True, exist_ok=True)
                built = subprocess.run([str(MLFLOW_PY), str(HERE / "build_mlflow.py"), str(theirs), str(args.runs)],
                                       check=True, capture_output=True, text=True)
                minfo_file.write_text(built.stdout.strip().splitlines()[-1])
            minfo = json.loads(minfo_file.read_text())
            minfo["bulk"] = info["bulk"]
            mport = free_port()
            servers.append(subprocess.Popen([str(MLFLOW_PY), "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(mport),
                                             "--backend-store-uri", f"sqlite:///{theirs / 'mlflow.db'}", "--workers", "1"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_http(f"http://127.0.0.1:{mport}/health")
            tools["mlflow"] = (f"http://127.0.0.1:{mport}", mlflow_case, minfo)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for name, (base, case, data) in tools.items():
                case(browser, base, data)  # warm the server's caches and the OS page cache once
                rows = [case(browser, base, data) for _ in range(args.repeats)]
                keys = list(rows[0])
                results["tools"][name] = {"median_ms": {k: median(rows, k) for k in keys}, "raw": rows}
                print(name, json.dumps(results["tools"][name]["median_ms"]))
            browser.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    out = REPO / "benchmarks" / "results" / "ui.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
