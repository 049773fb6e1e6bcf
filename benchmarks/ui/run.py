"""The web UI in a real browser (Debian's Chromium through Playwright), on a store of 10,000
runs with 20 params/metrics each; MLflow's UI on the same data where the comparison applies.

    .venv/bin/python benchmarks/ui/run.py [--repeats 5] [--runs 10000] [--keep DIR] [--mlflow]

Builds the store (build_modelyard.py), starts `modelyard ui` on a free loopback port, and times
from navigation to what a person waits for: the runs page's first contentful paint and its
table; sorting by a metric (the table re-sorted); a chart of a 100,000-point metric drawn;
10 runs' histories overlaid; the monitoring page of an endpoint with 12 weeks of hourly
windows with every chart drawn. Medians of --repeats, each in a fresh browser context (cold
cache). With --mlflow, the same runs go into MLflow (benchmarks/.venvs/mlflow) and its UI is
timed side by side on the runs page, the sort and the metric charts (mlflow_case says which
page and what counts as drawn). Writes benchmarks/results/ui.json, with --mlflow ui_mlflow.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
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


def timed(page: Any, url: str, ready: str, timeout: float = 60_000, *, script: bool = False) -> tuple[float, float | None]:
    """ms from navigation to ``ready`` showing (a selector, or with ``script`` a JavaScript
    predicate), and the first contentful paint. Every measurement is a full page load: MLflow's
    pages differ only after the ``#``, which a browser treats as a jump inside the page already
    shown, so those go through about:blank first."""
    if "#" in url and page.url.split("#")[0] == url.split("#")[0]:
        page.goto("about:blank")
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    if script:
        page.wait_for_function(ready, timeout=timeout)
    else:
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


MLFLOW_FIRST_ROW = '.ag-row[row-index="0"] a[href*="/runs/"]'
MLFLOW_FIRST_IS = f"name => [...document.querySelectorAll('{MLFLOW_FIRST_ROW}')].some(a => a.textContent.trim() === name)"
MLFLOW_TRACES = "document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= {n}"
MLFLOW_LAST_STEPS = "[...document.querySelectorAll('tr')].filter(tr => tr.textContent.includes('(step={step})')).length >= {n}"


def mlflow_metric_url(base: str, experiment: str, runs: list[str]) -> str:
    """MLflow's metric page (the one a metric's name links to), with every query parameter
    it parses, as its own links give them."""
    q = urllib.parse.quote
    return (f"{base}/#/metric?runs={q(json.dumps(runs))}&metric={q(json.dumps('loss'))}&experiments={q(json.dumps([experiment]))}"
            f"&plot_metric_keys={q(json.dumps(['loss']))}&plot_layout=%7B%7D&x_axis=step&y_axis_scale=linear"
            "&line_smoothness=1&show_point=false&deselected_curves=%5B%5D&last_linear_y_axis_range=%5B%5D")


def mlflow_case(browser: Any, base: str, info: dict[str, Any]) -> dict[str, float | None]:
    """MLflow 3's React UI (found by looking at its DOM): the runs page is the "Model training"
    view (``workflowType=machine_learning``; the default GenAI view shows traces), an ag-grid whose
    first row holds a run link. A metric is sorted from the "Sort" menu (its grid shows metric
    columns only when added): the menu is opened first, the click on ``m00`` is timed until the
    best run is the first row. Both its charts draw 320 sampled points per run with Plotly
    (get-history-bulk-interval): the run page's Model metrics tab, and the metric page, which
    also fetches up to 25,000 raw points per run (get-history) for its table and counts as done
    when that table shows each run's last step."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    out: dict[str, float | None] = {}
    experiment = info["experiment_id"]
    url = f"{base}/#/experiments/{experiment}/runs?workflowType=machine_learning"
    attempt(out, "runs_table_ms", lambda: timed(page, url, MLFLOW_FIRST_ROW, 120_000))
    out["runs_fcp_ms"] = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null")

    def sort() -> tuple[float, None]:
        page.get_by_role("button", name="Sort: Created").click()
        item = page.get_by_role("menuitemcheckbox", name="m00", exact=True)
        item.wait_for()
        started = time.perf_counter()
        item.click()
        page.wait_for_function(MLFLOW_FIRST_IS, arg=C.top_by_m00(info["bulk"]), timeout=120_000)
        return (time.perf_counter() - started) * 1000, None

    attempt(out, "sort_by_metric_ms", sort)
    attempt(out, "chart_100k_points_ms", lambda: timed(
        page, f"{base}/#/experiments/{experiment}/runs/{info['long_run']}/model-metrics", MLFLOW_TRACES.format(n=1), 120_000, script=True))
    attempt(out, "metric_page_100k_ms", lambda: timed(
        page, mlflow_metric_url(base, experiment, [info["long_run"]]),
        f"({MLFLOW_TRACES.format(n=1)}) && ({MLFLOW_LAST_STEPS.format(step=C.LONG_POINTS - 1, n=1)})", 180_000, script=True))
    attempt(out, "compare_10_histories_ms", lambda: timed(
        page, mlflow_metric_url(base, experiment, info["compare"]),
        f"({MLFLOW_TRACES.format(n=C.COMPARE_RUNS)}) && ({MLFLOW_LAST_STEPS.format(step=C.COMPARE_POINTS - 1, n=C.COMPARE_RUNS)})",
        180_000, script=True))
    out["monitoring_12_weeks_ms"] = None  # MLflow has no monitoring page
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
    results: dict[str, Any] = {"runs": info["runs"], "repeats": args.repeats, "load_average_start": os.getloadavg(), "tools": {}}
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
            wait_http(f"http://127.0.0.1:{mport}/health", 300)  # its start alone takes ~40 s under load
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
    results["load_average_end"] = os.getloadavg()
    out = REPO / "benchmarks" / "results" / ("ui_mlflow.json" if args.mlflow else "ui.json")
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
