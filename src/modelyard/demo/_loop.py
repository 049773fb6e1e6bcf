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
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
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
    entity_rows,
    week_start,
    write_week,
)
from modelyard.demo._credit_pipeline import MODEL, retrain
from modelyard.demo._show import console, table

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
        from modelyard.serving import ScoringServer

        self.server = ScoringServer(str(deployment), tracking_uri=tracking_uri)
        self.port = _free_port()
        config = uvicorn.Config(self.server.app(), host="127.0.0.1", port=self.port, log_level="error", lifespan="on")
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


def _outcomes(repo: Path, week: Week) -> None:
    folder = repo / "data" / "outcomes"
    folder.mkdir(parents=True, exist_ok=True)
    entity_rows(week.frame).to_parquet(folder / f"week-{week.number:02d}.parquet", index=False)


def run_loop(
    tracking_uri: str,
    workdir: Path,
    *,
    weeks: int = 10,
    shift_week: int = 6,
    rows_per_week: int = 800,
    report: Path | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    from modelyard.features import FeatureStore
    from modelyard.monitoring import Monitor, parse_rule, write_report

    started = time.perf_counter()
    workdir = workdir.resolve()
    repo = workdir / "credit_repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "definitions.py").write_text(REPO, encoding="utf-8")
    today = _dt.datetime.now(_dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    origin = today - _dt.timedelta(weeks=weeks + 1)
    plan = [Week(w, w >= shift_week, applications(w, rows_per_week, shifted=w >= shift_week, origin=origin, seed=seed)) for w in range(weeks)]

    # 1. history into the feature store; the first models through the pipeline
    console.rule("[bold]1 · features and the first models")
    for week in plan[:HISTORY_WEEKS]:
        write_week(repo, week.number, week.frame)
        _outcomes(repo, week)
    store = FeatureStore(repo_path=repo, tracking_uri=tracking_uri, online_store=str(workdir / "online.db"))
    store.apply()
    first = retrain.run(repo=str(repo), weeks=list(range(HISTORY_WEEKS)), store_uri=tracking_uri, tracking_uri=tracking_uri)
    outcome = first.output
    table(
        "training pipeline (first run)",
        ["step", "status", "time", "produced"],
        [[s.name, s.status, f"{s.seconds:.1f}s", ", ".join(f"{k}: {v}" for k, v in s.links.items())] for s in first.steps],
        caption="candidates on held-out weeks: "
        + ", ".join(f"{u} AUC {a:.3f}" for u, a in outcome["candidates"].items())
        + f"; champion → {outcome['promoted']}",
    )
    store.materialize(origin, week_start(origin, HISTORY_WEEKS), progress=False)

    # 2. serve the champion, with features looked up online
    deployment = workdir / "deployment.yaml"
    deployment.write_text(
        yaml.safe_dump(
            {
                "endpoints": [
                    {
                        "name": MODEL,
                        "routes": [{"name": "champion", "model": f"models:/{MODEL}@champion"}],
                        "features": {"repo": str(repo), "service": "credit_v1", "online_store": str(workdir / "online.db")},
                    }
                ],
                "poll_seconds": 0.25,
                "prediction_log": {"flush_seconds": 0.2},  # <home>/predictions, where the CLI looks
            }
        ),
        encoding="utf-8",
    )
    server = _Server(deployment, tracking_uri)
    console.rule(f"[bold]2 · serving models:/{MODEL}@champion on {server.base}, replaying weeks {HISTORY_WEEKS} to {weeks - 1}")
    retrain_threads: list[threading.Thread] = []
    retrain_results: list[Any] = []

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
        retrain_threads.append(thread)
        thread.start()  # in the background: traffic goes on while the candidate trains
        return f"retraining on weeks {weeks_to_use} (in the background)"

    rules = [parse_rule(spec, {"retrain": trigger}) for spec in ALERTS]
    monitor = Monitor(MODEL, tracking_uri=tracking_uri, target=TARGET)
    try:
        with httpx.Client(base_url=server.base, timeout=30) as http, Progress(console=console, transient=True) as progress:
            task = progress.add_task("traffic", total=(weeks - HISTORY_WEEKS) * rows_per_week)
            for index in range(HISTORY_WEEKS, weeks):
                week = plan[index]
                write_week(repo, week.number, week.frame)
                store.materialize(week_start(origin, week.number), week_start(origin, week.number + 1), progress=False)
                progress.update(task, description=f"week {week.number} traffic")
                week.start = _dt.datetime.now(_dt.UTC)
                applicants = week.frame["applicant_id"].tolist()
                for i, applicant in enumerate(applicants):
                    if i > len(applicants) // 3 and any(t.is_alive() for t in retrain_threads):
                        time.sleep(0.02)  # retraining: keep traffic flowing, slowly, until the swap
                    answer = http.post(f"/v1/endpoints/{MODEL}/predict", json={"records": [{"applicant_id": applicant}]})
                    if answer.status_code != 200:
                        week.failures += 1
                        continue
                    body = answer.json()
                    week.request_ids.append(body["request_id"])
                    week.versions[body["version"]] = week.versions.get(body["version"], 0) + 1
                    progress.advance(task)
                time.sleep(0.05)
                week.end = _dt.datetime.now(_dt.UTC)
                # last week's outcomes arrive a week late: feedback, and a monitoring pass
                if index > HISTORY_WEEKS:
                    _close_week(plan[index - 1], http, repo, monitor, rules, server, shift_week)
            last = plan[weeks - 1]
            _close_week(last, http, repo, monitor, rules, server, shift_week)
        for thread in retrain_threads:
            thread.join()
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
                f"[red]{week.number}*[/]" if week.shifted else str(week.number),
                f"{sum(week.versions.values()):,}",
                " ".join(f"v{v}:{n}" for v, n in sorted(week.versions.items())),
                number(overall.get("drift_share")) if drift is not None else "-",
                " ".join(drift.drifted_columns) if drift is not None and drift.drifted_columns else "-",
                number(overall.get("auc")),
                "\n".join(week.alerts) or "-",
            ]
        )
    table(
        f"{MODEL}: {weeks - HISTORY_WEEKS} weeks of traffic; * the world has shifted (from week {shift_week})",
        ["week", "requests", "served by", "drift", "drifted", "AUC", "alerts"],
        rows,
    )
    retrained = retrain_results[0].output if retrain_results else None
    report_path = report or workdir / "report.html"
    points = monitor.client.store.monitoring.points(MODEL)
    html, _ = write_report(MODEL, points, plan[-1].monitor, monitor.client.store.monitoring.alerts(MODEL), report_path)
    failures = sum(w.failures for w in plan)
    seconds = time.perf_counter() - started
    summary = {
        "first_champion": outcome["promoted"],
        "retrained": retrained,
        "failed_requests": failures,
        "weeks": {w.number: {"auc": (w.monitor.overall.get("auc") if w.monitor else None), "drift": (w.monitor.drift.drifted_columns if w.monitor and w.monitor.drift else None), "versions": w.versions} for w in plan[HISTORY_WEEKS:]},
        "report": str(html),
        "seconds": seconds,
    }
    if retrained is not None:
        console.print(
            f"retraining pipeline run {retrain_results[0].run_id[:12]}: candidates "
            + ", ".join(f"{u} AUC {a:.3f}" for u, a in retrained["candidates"].items())
            + f" vs champion {retrained['champion_auc']:.3f} on held-out recent weeks → "
            + (f"[bold green]{retrained['promoted']} promoted to champion[/] and swapped in under traffic" if retrained["promoted"] else f"not promoted ({retrained.get('reason')})")
        )
    console.print(f"{failures} failed request(s) across the swap; whole loop in {seconds:.0f}s. Report: [bold]{html}[/]", highlight=False)
    console.print(
        f"Next: [cyan]modelyard lineage models:/{MODEL}@champion[/], [cyan]modelyard monitor alerts[/], "
        f"[cyan]modelyard pipelines runs[/], [cyan]modelyard serve {deployment}[/]"
    )
    return summary


def _close_week(week: Week, http: httpx.Client, repo: Path, monitor: Any, rules: list[Any], server: _Server, shift_week: int) -> None:
    from modelyard.monitoring import evaluate

    labels = week.frame[TARGET].tolist()
    http.post("/v1/feedback", json={"feedback": [{"request_id": rid, "label": int(y)} for rid, y in zip(week.request_ids, labels, strict=False)]})
    _outcomes(repo, week)
    writer = server.server.writer
    if writer is not None:
        writer.flush()
    assert week.start is not None and week.end is not None
    week.monitor = monitor.run(start=week.start, end=week.end)
    for firing in evaluate(rules, week.monitor, monitor.client.store.monitoring):
        details = " ".join(detail for _, status, detail in firing.actions if status != "logged")
        action = (
            "already retraining" if "already retraining" in details
            else "already retrained" if "already retrained" in details
            else "retrain" if "retraining" in details
            else "logged"
        )
        week.alerts.append(f"{firing.rule} → {action}")
