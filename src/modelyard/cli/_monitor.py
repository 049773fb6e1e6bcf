"""``modelyard monitor``: run a window, write the report, list alerts."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from modelyard.cli._common import Json, TrackingUri
from modelyard.cli._output import emit_json, friendly_errors, say, table
from modelyard.core.errors import ValidationError

app = typer.Typer(help="Watch served models: drift, data quality, performance, latency; alerts; reports.", no_args_is_help=True)

Endpoint = Annotated[str, typer.Argument(help="Endpoint name, as served (its prediction log partition).")]
Window = Annotated[str, typer.Option(help="Window length: 90s, 30m, 6h, 1d, 2w.")]
End = Annotated[str | None, typer.Option(help="Window end, ISO-8601 (default: now).")]
Reference = Annotated[
    str | None,
    typer.Option(help="Reference rows (Parquet). Default: the training set in the served version's lineage."),
]
LogRoot = Annotated[str | None, typer.Option(help="Prediction log folder (default: <home>/predictions).")]


def _end(text: str | None) -> _dt.datetime | None:
    if text is None:
        return None
    try:
        value = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--end {text!r} is not an ISO-8601 time such as 2026-11-29T12:00") from None
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


def _rules(path: str | None, pipelines_file: str | None = None, tracking_uri: str | None = None) -> list[Any]:
    from modelyard.monitoring import parse_rule

    if path is None:
        return []
    file = Path(path)
    if not file.is_file():
        raise ValidationError(f"alerts file {path} does not exist")
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    items = data.get("alerts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValidationError(f"{path}: expected 'alerts:' with a list of rules")
    wanted = _triggers_named(items)
    if wanted and pipelines_file is None:
        rule, name = wanted[0]
        raise ValidationError(
            f"{path}: alert {rule!r} triggers pipeline {name!r}; give the Python file that defines it "
            f"with --pipelines (e.g. --pipelines pipelines.py)"
        )
    triggers: dict[str, Any] = {}
    if pipelines_file is not None:
        from modelyard.pipelines import load_file, pipeline_trigger

        pipelines, _ = load_file(pipelines_file)
        for rule, name in wanted:
            if name not in pipelines:
                raise ValidationError(
                    f"{path}: alert {rule!r} triggers pipeline {name!r}, which {pipelines_file} (--pipelines) "
                    f"does not define; it defines {sorted(pipelines)}"
                )
        triggers = {name: pipeline_trigger(p, tracking_uri=tracking_uri) for name, p in pipelines.items()}
    return [parse_rule(item, triggers) for item in items]


def _triggers_named(items: list[Any]) -> list[tuple[str, str]]:
    """(rule, pipeline) for every ``{trigger: NAME}`` action in the alert specs."""
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("actions"), list):
            for action in item["actions"]:
                if isinstance(action, dict) and "trigger" in action:
                    found.append((str(item.get("rule", "?")), str(action["trigger"])))
    return found


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@app.command("run")
def run(
    endpoint: Endpoint,
    window: Window = "1d",
    end: End = None,
    reference: Reference = None,
    alerts: Annotated[str | None, typer.Option(help="YAML file of alert rules to check (alerts: [...]).")] = None,
    pipelines: Annotated[
        str | None, typer.Option(help="Python file of pipelines that alert actions {trigger: NAME} may run.")
    ] = None,
    log_root: LogRoot = None,
    profiles: Annotated[
        bool,
        typer.Option(
            "--profiles",
            help="Read only log files not profiled before; drift and quality from merged sketches "
            "(any log size; labels, latency and errors need the rows).",
        ),
    ] = False,
    compact: Annotated[
        bool,
        typer.Option("--compact", help="With --profiles: then compact the log's days before the window's end."),
    ] = False,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Compute one window's drift, quality, performance and service figures, store them as
    time series, and check the alert rules."""
    from modelyard.monitoring import Monitor, evaluate

    with friendly_errors():
        rules = _rules(alerts, pipelines, tracking_uri)
        monitor = Monitor(endpoint, reference=reference, tracking_uri=tracking_uri, log_root=log_root)
        result = monitor.run(window, end=_end(end), profiles=profiles, compact=compact)
        fired = evaluate(rules, result, monitor.client.store.monitoring) if rules else []
    if json:
        emit_json({**result.to_dict(), "alerts": [{"rule": f.rule, "value": f.value, "actions": f.actions} for f in fired]})
        return
    overall = result.overall
    rows = [["window", f"{result.start:%Y-%m-%d %H:%M} → {result.end:%Y-%m-%d %H:%M} UTC"], ["rows scored", f"{result.rows:,}"]]
    if result.drift is not None:
        rows.append(["drifted columns", f"{len(result.drift.drifted_columns)} of {len(result.drift.columns)}: {', '.join(result.drift.drifted_columns) or 'none'}"])
        rows.append(["dataset drift", "yes" if result.drift.drifted else "no"])
    for key in ("auc", "accuracy", "log_loss", "rmse", "labelled", "p50_latency_ms", "p99_latency_ms", "error_rate", "throughput_rps"):
        if key in overall:
            rows.append([key, _fmt(overall[key])])
    if result.prediction_drift is not None:
        rows.append(["prediction drift", "yes" if result.prediction_drift.drifted else "no"])
    for finding in result.findings:
        rows.append(["finding", finding])
    for firing in fired:
        rows.append(["ALERT", f"{firing.rule} (value {firing.value:.4g}): " + ", ".join(f"{a} {s}" for a, s, _ in firing.actions)])
    table(f"monitor {endpoint}", ["", "value"], rows, caption=f"reference: {result.reference_source or '-'}")


@app.command("report")
def report(
    endpoint: Endpoint,
    output: Annotated[str, typer.Option("--output", "-o", help="HTML file to write (a .json twin goes beside it).")] = "monitor-report.html",
    window: Window = "1d",
    end: End = None,
    reference: Reference = None,
    log_root: LogRoot = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Write an HTML report: drift and performance over the stored windows, alerts, and the
    latest window's distributions of drifted columns (recomputed, not stored again)."""
    from modelyard.monitoring import Monitor, write_report

    with friendly_errors():
        monitor = Monitor(endpoint, reference=reference, tracking_uri=tracking_uri, log_root=log_root)
        latest = monitor.run(window, end=_end(end), store=False)
        store = monitor.client.store.monitoring
        html, twin = write_report(endpoint, store.points(endpoint), latest, store.alerts(endpoint), output)
    say("report: ", (str(html), "bold"), f" (JSON: {twin})")


@app.command("compact")
def compact_command(
    endpoint: Endpoint,
    before: Annotated[
        str | None, typer.Option(help="Compact the days before this date, YYYY-MM-DD (default: today, UTC).")
    ] = None,
    log_root: LogRoot = None,
    json: Json = False,
) -> None:
    """Merge each past day's small prediction-log files into one file. Readers never see a row
    twice or miss one meanwhile; a kill leaves the log consistent (run it again to finish)."""
    from modelyard.monitoring import compact_log

    with friendly_errors():
        try:
            limit = _dt.date.fromisoformat(before) if before is not None else None
        except ValueError:
            raise ValidationError(f"--before {before!r} is not a date such as 2026-11-29") from None
        done = compact_log(endpoint, root=log_root, before=limit)
    if json:
        emit_json([{"date": c.date, "files": c.files, "rows": c.rows, "path": str(c.path) if c.path else None, "removed": c.removed} for c in done])
        return
    table(
        f"compacted {endpoint}",
        ["date", "files merged", "rows", "file"],
        [[c.date, str(c.files), f"{c.rows:,}", c.path.name if c.path else "(nothing to do)"] for c in done],
    )


@app.command("alerts")
def alerts_list(
    endpoint: Annotated[str | None, typer.Argument(help="Only this endpoint.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Alerts that fired, with what each action did."""
    from modelyard.tracking import Client

    with friendly_errors():
        events = Client(tracking_uri).store.monitoring.alerts(endpoint, limit)
    rows = [
        [
            _dt.datetime.fromtimestamp(e.fired_time / 1000, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e.endpoint, e.rule, _fmt(e.value), e.action, e.status, e.detail,
        ]
        for e in events
    ]
    if json:
        emit_json([dict(zip(["fired", "endpoint", "rule", "value", "action", "status", "detail"], [r[0], e.endpoint, e.rule, e.value, e.action, e.status, e.detail], strict=True)) for r, e in zip(rows, events, strict=True)])
        return
    table("alerts", ["fired (UTC)", "endpoint", "rule", "value", "action", "status", "detail"], rows)
