"""``modelyard demo``: the whole loop on a credit-scoring scenario, in about a minute.

History (4 weeks of labelled applications) goes into a feature repository; the training
pipeline builds a point-in-time training set, trains and tracks a logistic regression and a
gradient-boosted model, registers both, and promotes the better through the gate. The
champion is served over HTTP with features looked up online; the following weeks are
replayed as live traffic, labels arrive a week late, and each week is monitored against the
champion's training set. Mid-way incomes fall and debt rises, and the risk changes: drift
is detected, the AUC drops, an alert triggers the pipeline, which retrains on recent labelled
data and promotes the new version while traffic flows; the server swaps it in without a
failed request, and the next weeks show the recovery. Ends with a table and an HTML report.

The demo prints one line per stage with the figure that matters. Its timeline starts at
``origin`` (by default the weeks that end on this week's Monday), and it rewrites its own
files in ``workdir`` on every run, so a rerun in the same folder — on another day, with
other weeks — starts from its own data.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import uvicorn
import yaml
from rich.progress import Progress

from modelyard.core.formatting import number
from modelyard.demo._credit_data import (
    REPO,
    TARGET,
    applications,
    default_origin,
    entity_rows,
    week_start,
    write_week,
)
from modelyard.demo._credit_pipeline import KINDS, MODEL, SERVICE, retrain
from modelyard.demo._show import console, say, table
from modelyard.monitoring import WindowLabel

HISTORY_WEEKS = 4
ALERTS = [
    # weeks last seconds here, so the cool-down is seconds too (the trigger retrains once per demo)
    {"rule": "drift_share >= 0.3", "min_rows": 200, "cooldown": "5s", "actions": ["log", {"trigger": "retrain"}]},
    {"rule": "auc < 0.7", "min_rows": 200, "cooldown": "5s", "actions": ["log", {"trigger": "retrain"}]},
]


@dataclass
class Week:
    number: int
    shifted: bool
    frame: pd.DataFrame
    start: _dt.datetime | None = None
    end: _dt.datetime | None = None
    request_ids: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    monitor: Any = None
    alerts: list[str] = field(default_factory=list)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    """The scoring server on a loopback port, in a thread of this process."""

    def __init__(self, deployment: Path, tracking_uri: str) -> None:
        from modelyard.http._direct import DirectProtocol
        from modelyard.serving import ScoringServer

        self.server = ScoringServer(str(deployment), tracking_uri=tracking_uri)
        self.port = _free_port()
        config = uvicorn.Config(  # the protocol ``modelyard serve`` runs
            self.server.app(), host="127.0.0.1", port=self.port, log_level="error", lifespan="on", http=DirectProtocol
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, name="demo-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._uvicorn.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the scoring server did not start")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout=20)


class _StoryLog(logging.Handler):
    """While the demo runs, modelyard's log lines (alerts fired, a model swapped) are told by
    the demo's own lines; only errors are printed, through the same console, in order."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            say(("log: ", "red"), self.format(record))


@contextmanager
def _told_by_the_demo() -> Iterator[None]:
    logger = logging.getLogger("modelyard")
    handler = _StoryLog()
    saved = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = saved


def _outcomes(repo: Path, week: Week) -> None:
    folder = repo / "data" / "outcomes"
    folder.mkdir(parents=True, exist_ok=True)
    entity_rows(week.frame).to_parquet(folder / f"week-{week.number:02d}.parquet", index=False)


def _auc(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def _weeks(numbers: list[int]) -> str:
    return f"week {numbers[0]}" if len(numbers) == 1 else f"weeks {numbers[0]} to {numbers[-1]}"


def _candidates(outcome: dict[str, Any]) -> str:
    """``logistic (v1) AUC 0.806, gbm (v2) AUC 0.788``: the pipeline trains them in KINDS order."""
    return ", ".join(f"{kind} (v{uri.rsplit('/', 1)[-1]}) AUC {auc:.3f}" for kind, (uri, auc) in zip(KINDS, outcome["candidates"].items(), strict=False))


def run_loop(
    tracking_uri: str,
    workdir: Path,
    *,
    weeks: int = 10,
    shift_week: int = 6,
    rows_per_week: int = 800,
    report: Path | None = None,
    seed: int = 0,
    origin: _dt.datetime | None = None,
) -> dict[str, Any]:
    """Run the loop; ``origin`` is when week 0 starts (default: ``weeks`` whole weeks ending
    on this week's Monday, UTC). Returns a summary of what happened, week by week."""
    from modelyard.features import FeatureStore
    from modelyard.monitoring import Monitor, parse_rule, write_report

    started = time.perf_counter()
    began = _dt.datetime.now(_dt.UTC)
    origin = origin or default_origin(began.date(), weeks)
    workdir = workdir.resolve()
    repo = workdir / "credit_repo"
    # the demo's own data: rewritten on every run, so a rerun never reads the last one's
    shutil.rmtree(repo / "data", ignore_errors=True)
    (workdir / "online.db").unlink(missing_ok=True)
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "definitions.py").write_text(REPO, encoding="utf-8")
    plan = [Week(w, w >= shift_week, applications(w, rows_per_week, shifted=w >= shift_week, origin=origin, seed=seed)) for w in range(weeks)]
    history = [w.number for w in plan[:HISTORY_WEEKS]]
    live = [w.number for w in plan[HISTORY_WEEKS:]]

    # 1. history into the feature store; the first models through the pipeline
    console.rule("[bold]1 · features and the first models")
    for week in plan[:HISTORY_WEEKS]:
        write_week(repo, week.number, week.frame)
        _outcomes(repo, week)
    store = FeatureStore(repo_path=repo, tracking_uri=tracking_uri, online_store=str(workdir / "online.db"))
    store.apply()
    store.materialize(origin, week_start(origin, HISTORY_WEEKS), progress=False)
    say(
        "features: ",
        (f"{HISTORY_WEEKS * rows_per_week:,}", "bold"),
        f" labelled applications ({_weeks(history)}, from {origin:%Y-%m-%d}) in {repo}, feature service {SERVICE}",
    )
    first = retrain.run(repo=str(repo), weeks=history, store_uri=tracking_uri, challenge=False, tracking_uri=tracking_uri)
    outcome = first.output
    say(
        "training: ",
        _candidates(outcome),
        " on the held-out rows → ",
        (f"{outcome['promoted']} is champion" if outcome["promoted"] else f"no champion ({outcome.get('reason')})", "bold green" if outcome["promoted"] else "bold red"),
    )
    say(("  pipeline run " + first.run_id[:12] + ": " + ", ".join(f"{s.name} {s.status}" for s in first.steps), "dim"))

    # 2. serve the champion, with features looked up online
    deployment = workdir / "deployment.yaml"
    deployment.write_text(
        yaml.safe_dump(
            {
                "endpoints": [
                    {
                        "name": MODEL,
                        "routes": [{"name": "champion", "model": f"models:/{MODEL}@champion"}],
                        "features": {"repo": str(repo), "service": SERVICE, "online_store": str(workdir / "online.db")},
                    }
                ],
                "poll_seconds": 0.25,
                "prediction_log": {"flush_seconds": 0.2},  # <home>/predictions, where the CLI looks
            }
        ),
        encoding="utf-8",
    )
    console.rule("[bold]2 · serving, monitoring, retraining")
    server = _Server(deployment, tracking_uri)
    say(
        f"serving: models:/{MODEL}@champion on {server.base}, features looked up online; "
        f"{_weeks(live)} replayed as live traffic, labels a week late; the world shifts in week {shift_week}"
    )
    retrain_threads: list[threading.Thread] = []
    retrain_results: list[Any] = []
    swaps_before: list[int] = []  # the server's swap count when retraining began

    def await_swap() -> None:
        """The week retraining runs in ends with the new version served, however slow the
        machine: wait for the retraining to finish and, if it promoted a version, for the
        server's watcher to swap it in, so the week's last requests are served by it."""
        for thread in retrain_threads:
            thread.join(timeout=900)
        if not retrain_results or not retrain_results[0].output.get("promoted"):
            return  # nothing promoted: nothing to swap in
        deadline = time.monotonic() + 120
        while server.server.runtime.swaps <= swaps_before[0] and time.monotonic() < deadline:
            time.sleep(0.05)

    def trigger(payload: dict[str, Any]) -> str:
        if retrain_threads:
            return "already retraining" if retrain_threads[0].is_alive() else "already retrained in this demo"
        labelled = [w.number for w in plan if w.number >= shift_week and (repo / "data" / "outcomes" / f"week-{w.number:02d}.parquet").exists()]
        weeks_to_use = labelled or [plan[-1].number]

        def work() -> None:
            retrain_results.append(
                retrain.run(repo=str(repo), weeks=weeks_to_use, store_uri=tracking_uri, tracking_uri=tracking_uri, trigger=f"alert:{payload['rule']}")
            )

        thread = threading.Thread(target=work, name="retrain", daemon=True)
        swaps_before.append(server.server.runtime.swaps)
        retrain_threads.append(thread)
        thread.start()  # in the background: traffic goes on while the candidate trains
        return f"retraining on {_weeks(weeks_to_use)} (in the background)"

    rules = [parse_rule(spec, {"retrain": trigger}) for spec in ALERTS]
    monitor = Monitor(MODEL, tracking_uri=tracking_uri, target=TARGET)
    told = {"retrained": False, "awaited": False}
    # what happens during a week's traffic is told after the line of the week before it
    # (closed, a week late, when its labels are in), so the story reads in order
    pending: list[tuple[Any, ...]] = []

    def tell_pending() -> None:
        for parts in pending:
            say(*parts)
        pending.clear()

    def tell_retraining() -> None:
        if told["retrained"] or not retrain_results:
            return
        told["retrained"] = True
        result = retrain_results[0].output
        pending.append((
            "retraining: ",
            _candidates(result),
            f" vs the champion's {result['champion_auc']:.3f} on held-out recent weeks → ",
            (f"{result['promoted']} promoted to champion" if result["promoted"] else f"not promoted ({result.get('reason')})", "bold green" if result["promoted"] else "yellow"),
        ))

    try:
        with _told_by_the_demo(), httpx.Client(base_url=server.base, timeout=30) as http, Progress(console=console, transient=True) as progress:
            task = progress.add_task("traffic", total=(weeks - HISTORY_WEEKS) * rows_per_week)
            serving: str | None = None
            for index in range(HISTORY_WEEKS, weeks):
                week = plan[index]
                write_week(repo, week.number, week.frame)
                store.materialize(week_start(origin, week.number), week_start(origin, week.number + 1), progress=False)
                progress.update(task, description=f"week {week.number} traffic")
                week.start = _dt.datetime.now(_dt.UTC)
                applicants = week.frame["applicant_id"].tolist()
                # retraining began before this week's traffic (when the last week closed): the
                # swap lands in this week, even on a machine that trains slower than the pacing
                swap_this_week = bool(retrain_threads) and not told["awaited"]
                for i, applicant in enumerate(applicants):
                    if i > len(applicants) // 3 and any(t.is_alive() for t in retrain_threads):
                        time.sleep(0.02)  # retraining: keep traffic flowing, slowly, until the swap
                    if swap_this_week and i == len(applicants) - 1:
                        told["awaited"] = True
                        if not told["retrained"]:  # not swapped yet: the last request waits for it
                            await_swap()
                    answer = http.post(f"/v1/endpoints/{MODEL}/predict", json={"records": [{"applicant_id": applicant}]})
                    if answer.status_code != 200:
                        week.failures += 1
                        continue
                    body = answer.json()
                    version = str(body["version"])
                    week.request_ids.append(body["request_id"])
                    week.versions[version] = week.versions.get(version, 0) + 1
                    if serving is not None and version != serving:
                        for thread in retrain_threads:  # the promotion is its last step: finishing
                            thread.join(timeout=60)
                        tell_retraining()
                        failed = sum(w.failures for w in plan)
                        pending.append((
                            "swap: ",
                            (f"v{serving} → v{version}", "bold"),
                            f" during week {week.number}'s traffic, at request {i + 1:,} of {len(applicants):,}; failed requests so far: ",
                            (str(failed), "bold green" if failed == 0 else "bold red"),
                        ))
                    serving = version
                    progress.advance(task)
                time.sleep(0.05)
                week.end = _dt.datetime.now(_dt.UTC)
                # last week's outcomes arrive a week late: feedback, and a monitoring pass
                if index > HISTORY_WEEKS:
                    _close_week(plan[index - 1], http, repo, monitor, rules, server)
                tell_pending()
            _close_week(plan[weeks - 1], http, repo, monitor, rules, server)
        for thread in retrain_threads:
            thread.join()
        tell_retraining()
        tell_pending()
    finally:
        server.stop()

    # 3. what happened
    console.rule("[bold]3 · the loop, week by week")
    rows = []
    for week in plan[HISTORY_WEEKS:]:
        result = week.monitor
        drift = result.drift if result is not None else None
        overall = result.overall if result is not None else {}
        rows.append(
            [
                f"{week.number} (shifted)" if week.shifted else str(week.number),
                f"{sum(week.versions.values()):,}",
                " ".join(f"v{v}: {n:,}" for v, n in sorted(week.versions.items())),
                number(overall.get("drift_share")) if drift is not None else "-",
                ", ".join(drift.drifted_columns) if drift is not None and drift.drifted_columns else "-",
                _auc(overall.get("auc")),
                "\n".join(week.alerts) or "-",
            ]
        )
    table(f"{MODEL}: {weeks - HISTORY_WEEKS} weeks of traffic; the world shifts in week {shift_week}", ["week", "requests", "served by", "drift", "drifted columns", "AUC", "alerts"], rows)
    retrained = retrain_results[0].output if retrain_results else None
    report_path = report or workdir / "report.html"
    since = int(began.timestamp() * 1000)
    mine = [p for p in monitor.client.store.monitoring.points(MODEL) if p.window_start >= since]
    labels = {(w.monitor.start, w.monitor.end): WindowLabel(f"week {w.number}", week_start(origin, w.number), week_start(origin, w.number + 1)) for w in plan if w.monitor is not None}
    alerts = [a for a in monitor.client.store.monitoring.alerts(MODEL) if a.window_end >= since]
    html, _ = write_report(MODEL, mine, plan[-1].monitor, alerts, report_path, labels=labels)
    failures = sum(w.failures for w in plan)
    seconds = time.perf_counter() - started
    summary = {
        "first_champion": outcome["promoted"],
        "first_run": {s.name: s.status for s in first.steps},
        "retrained": retrained,
        "failed_requests": failures,
        "weeks": {w.number: {"auc": (w.monitor.overall.get("auc") if w.monitor else None), "drift": (w.monitor.drift.drifted_columns if w.monitor and w.monitor.drift else None), "versions": w.versions} for w in plan[HISTORY_WEEKS:]},
        "report": str(html),
        "seconds": seconds,
    }
    say(
        "done: ",
        (f"{failures} failed requests", "bold green" if failures == 0 else "bold red"),
        f" of {sum(sum(w.versions.values()) + w.failures for w in plan):,}, across the swap; whole loop in {seconds:.0f}s",
    )
    say("report: ", (str(html), "bold"), " (open it in a browser)")
    _next_steps(workdir, deployment)
    return summary


def _next_steps(workdir: Path, deployment: Path) -> None:
    here = Path.cwd()
    shown = deployment.relative_to(here) if deployment.is_relative_to(here) else deployment
    commands = [
        (f"modelyard lineage models:/{MODEL}@champion", "data → features → run → pipeline → endpoint"),
        ("modelyard monitor alerts", "what fired, and what each action did"),
        ("modelyard pipelines runs", "first training, alert-triggered retraining"),
        (f"modelyard models show {MODEL}", "versions, aliases, gate, audit trail"),
        ('modelyard runs search "metrics.holdout_auc > 0.7"', "the tracked training runs"),
        (f"modelyard serve {shown}", "serve it again (/metrics, /openapi.json)"),
        ("modelyard ui", "the web UI on http://127.0.0.1:5000/ui: runs, the champion, drift, the swap"),
    ]
    say(("Explore what it left:", "bold"))
    width = max(len(c) for c, _ in commands)
    for command, why in commands:
        say("  ", (command.ljust(width), "cyan"), ("  # " + why, "dim"))


def _close_week(week: Week, http: httpx.Client, repo: Path, monitor: Any, rules: list[Any], server: _Server) -> None:
    from modelyard.monitoring import evaluate

    labels = week.frame[TARGET].tolist()
    http.post("/v1/feedback", json={"feedback": [{"request_id": rid, "label": int(y)} for rid, y in zip(week.request_ids, labels, strict=False)]})
    _outcomes(repo, week)
    writer = server.server.writer
    if writer is not None:
        writer.flush()
    if week.start is None or week.end is None:
        raise RuntimeError(f"week {week.number} was closed before its traffic ran")
    week.monitor = monitor.run(start=week.start, end=week.end)
    fired = []
    for firing in evaluate(rules, week.monitor, monitor.client.store.monitoring):
        details = " ".join(detail for _, status, detail in firing.actions if status != "logged")
        action = "retraining" if "retraining on" in details else "already retraining" if "already retraining" in details else "already retrained" if "already retrained" in details else "logged"
        week.alerts.append(f"{firing.rule} → {action}")
        fired.append(f"{firing.rule} ({firing.value:.3g}) → {action}")
    result = week.monitor
    drift = result.drift
    drifted = drift.drifted_columns if drift is not None else []
    served = ", ".join(f"v{v}" for v in sorted(week.versions))
    say(
        (f"week {week.number}", "bold"),
        (" (shifted)" if week.shifted else "", "yellow"),
        f": {sum(week.versions.values()):,} requests to {served}; AUC ",
        (_auc(result.overall.get("auc")), "bold"),
        "; drift ",
        (f"{number(result.overall.get('drift_share'))} in {', '.join(drifted)}" if drifted else "none", "bold red" if drifted else ""),
        *((("; alert: ", ""), ("; ".join(fired), "bold red")) if fired else ()),
    )
