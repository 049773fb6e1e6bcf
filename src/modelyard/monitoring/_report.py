"""The monitoring report: an HTML page a person can read and a JSON twin with the same numbers.

What the page shows, from the stored windows and the latest window:

* status cards for the latest window, red while an alert on their figure is open (the alert's
  rule still holds in the latest window);
* drift share, performance and traffic per window (plotted by ``_report_plots``), with the
  windows evenly spaced whatever their length, the model versions that served each window,
  the swaps between them and the alerts marked;
* a table of windows: the time each one covers, the versions that served it, the columns that
  drifted, the headline figures and the alerts that fired;
* the alerts (one row per firing, its actions together), drift by column and the
  reference-vs-current distributions of drifted columns, performance by version and route.

A window can stand for another span of time than the one it was computed over: the demo
replays weeks of traffic in seconds, and names each window by the week it replays
(``WindowLabel``).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from modelyard.core.errors import ValidationError
from modelyard.monitoring._alerts import Condition, parse_condition
from modelyard.monitoring._monitor import WindowResult
from modelyard.monitoring._report_plots import distribution_png, over_time_png
from modelyard.store._monitor_store import AlertEvent, MetricPoint

SERIES = ("rows", "drift_share", "auc", "accuracy", "rmse", "mae", "p99_latency_ms", "error_rate")
_LABELS = {
    "rows": "rows",
    "drift_share": "drift share",
    "auc": "AUC",
    "accuracy": "accuracy",
    "log_loss": "log loss",
    "rmse": "RMSE",
    "mae": "MAE",
    "p99_latency_ms": "p99 latency (ms)",
    "error_rate": "error rate",
}


@dataclass(frozen=True)
class WindowLabel:
    """What a window stands for: a short name (``week 6``) and the span of time it covers."""

    label: str
    start: _dt.datetime
    end: _dt.datetime


@dataclass
class Window:
    """One stored window, as the report shows it."""

    start_ms: int
    end_ms: int
    figures: dict[str, float]
    versions: dict[str, float] = field(default_factory=dict)  # model version -> rows it served
    drifted: list[str] = field(default_factory=list)
    label: str = ""
    span: str = ""
    alerts: list[str] = field(default_factory=list)
    covers: _dt.datetime | None = None  # the start of the span a labelled window stands for

    @property
    def served_by(self) -> str:
        return ", ".join(f"v{v}\u00a0({int(n):,})" for v, n in _by_version(self.versions)) or "-"  # no break inside

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "span": self.span,
            "start": _stamp(self.start_ms),
            "end": _stamp(self.end_ms),
            "versions": {v: int(n) for v, n in self.versions.items()},
            "drifted_columns": self.drifted,
            "alerts": self.alerts,
            "figures": self.figures,
        }


def _by_version(versions: Mapping[str, float]) -> list[tuple[str, float]]:
    def key(item: tuple[str, float]) -> tuple[int, str]:
        return (int(item[0]), item[0]) if item[0].isdigit() else (1 << 30, item[0])

    return sorted(versions.items(), key=key)


def figure(name: str, value: Any) -> str:
    """A window's figure: counts with thousands separators, the rest as ``fmt``."""
    if name in ("rows", "requests") and isinstance(value, float) and value == value:
        return f"{int(value):,}"
    return fmt(value)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.4g}"
    return str(value)


def epoch_ms(value: _dt.datetime) -> int:
    """A time as the monitor stores window bounds (whole milliseconds since the epoch)."""
    return int(value.timestamp() * 1000)


def _utc(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC)


def _stamp(ms: int) -> str:
    return _utc(ms).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(start: _dt.datetime, end: _dt.datetime) -> str:
    """A time range as people write it: no microseconds, no repeated date, seconds only when
    the range is shorter than an hour, dates only when it runs midnight to midnight."""
    start, end = start.astimezone(_dt.UTC), end.astimezone(_dt.UTC)
    midnight = _dt.time(0, 0)
    if start.time() == midnight and end.time() == midnight:
        last = end - _dt.timedelta(days=1)
        if last <= start:
            return f"{start:%Y-%m-%d}"
        return f"{start:%Y-%m-%d} → {last:%Y-%m-%d}"
    clock = "%H:%M:%S" if end - start < _dt.timedelta(hours=1) else "%H:%M"
    if start.date() == end.date():
        return f"{start:%Y-%m-%d} {start.strftime(clock)} → {end.strftime(clock)} UTC"
    return f"{start:%Y-%m-%d} {start.strftime(clock)} → {end:%Y-%m-%d} {end.strftime(clock)} UTC"


def tick_labels(windows: list[Window]) -> list[str]:
    """A short, distinct name per window for the x axis: its label, else its end time at the
    coarsest precision that tells the windows apart."""
    if windows and all(w.label for w in windows):
        return [f"{w.label}\n{w.covers:%b %d}" if w.covers else w.label for w in windows]
    ends = [_utc(w.end_ms) for w in windows]
    for pattern in ("%b %d", "%b %d %H:%M", "%m-%d %H:%M:%S"):
        labels = [e.strftime(pattern) for e in ends]
        if len(set(labels)) == len(labels):
            break
    return [w.label or text for w, text in zip(windows, labels, strict=True)]


def windows_of(
    points: list[MetricPoint],
    alerts: list[AlertEvent],
    labels: Mapping[tuple[int, int], WindowLabel] | None = None,
) -> list[Window]:
    """The stored windows, oldest first, with their versions, drifted columns and alerts."""
    found: dict[tuple[int, int], Window] = {}
    for p in points:
        key = (p.window_start, p.window_end)
        window = found.get(key)
        if window is None:
            window = found[key] = Window(p.window_start, p.window_end, {})
        if p.value is None:
            continue
        if not p.column and not p.version:
            window.figures[p.name] = p.value
        elif p.version and p.name == "rows" and p.value > 0:
            window.versions[p.version] = window.versions.get(p.version, 0.0) + p.value
        elif p.column and p.name == "column_drifted" and p.value >= 1:
            window.drifted.append(p.column)
    fired: dict[int, list[str]] = defaultdict(list)
    for a in alerts:
        if a.rule not in fired[a.window_end]:
            fired[a.window_end].append(a.rule)
    out = []
    for key in sorted(found, key=lambda k: (k[1], k[0])):
        window = found[key]
        given = (labels or {}).get(key)
        if given is not None:
            window.label = given.label
            window.span = span(given.start, given.end)
            window.covers = given.start
        else:
            window.span = span(_utc(window.start_ms), _utc(window.end_ms))
        window.alerts = sorted(fired.get(window.end_ms, []))
        out.append(window)
    return out


def swaps(windows: list[Window]) -> list[tuple[int, str]]:
    """Where a model version first served, after another: (index of the window, ``v1 → v3``).
    A version seen before (a rollback, or a long window over many short ones) is no swap."""
    out: list[tuple[int, str]] = []
    seen: set[str] = set()
    main: str | None = None
    for i, window in enumerate(windows):
        if not window.versions:
            continue
        new = sorted(set(window.versions) - seen, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))
        if main is not None and new:
            out.append((i, f"v{main} → {'/'.join('v' + v for v in new)}"))
        seen |= set(window.versions)
        main = max(window.versions, key=lambda v: window.versions[v])
    return out


@dataclass(frozen=True)
class OpenAlert:
    rule: str
    metric: str
    value: float


def open_alerts(alerts: list[AlertEvent], latest: WindowResult | None) -> list[OpenAlert]:
    """The rules that fired and still hold in the latest window."""
    if latest is None:
        return []
    values = latest.overall
    out: list[OpenAlert] = []
    for rule in dict.fromkeys(a.rule for a in alerts):
        try:
            condition: Condition = parse_condition(rule)
        except ValidationError:
            continue
        observed = values.get(condition.metric)
        if observed is not None and observed == observed and condition.holds(observed):
            out.append(OpenAlert(rule, condition.metric, observed))
    return out


def _alert_rows(alerts: list[AlertEvent], names: Mapping[int, str]) -> list[dict[str, Any]]:
    """One row per firing (a rule on a window), its actions together, newest first."""
    grouped: dict[tuple[str, int], list[AlertEvent]] = {}
    for a in alerts:
        grouped.setdefault((a.rule, a.window_end), []).append(a)
    rows: list[dict[str, Any]] = []
    for (rule, window_end), events in grouped.items():
        events.sort(key=lambda e: e.fired_time)
        actions = [
            f"{e.action}: {e.status}" + (f" — {e.detail}" if e.detail else "") for e in events
        ]
        rows.append(
            {
                "fired": _utc(events[0].fired_time).strftime("%Y-%m-%d %H:%M UTC"),
                "fired_ms": events[0].fired_time,
                "window": names.get(window_end) or _utc(window_end).strftime("%Y-%m-%d %H:%M:%S"),
                "rule": rule,
                "value": events[0].value,
                "actions": actions,
                "failed": any(e.status == "failed" for e in events),
            }
        )
    rows.sort(key=lambda r: r["fired_ms"], reverse=True)
    return rows


_CARD_OF = {"drift_share": "drifted columns", "dataset_drift": "drifted columns", "rows": "rows scored", "requests": "rows scored"}


def _cards(latest: WindowResult, opened: list[OpenAlert]) -> list[tuple[str, str, bool]]:
    red = {_CARD_OF.get(o.metric, o.metric) for o in opened}
    overall = latest.overall
    cards: list[tuple[str, str, bool]] = [("rows scored", f"{latest.rows:,}", latest.rows == 0 or "rows scored" in red)]
    if latest.drift is not None:
        drifted = latest.drift.drifted_columns
        cards.append(
            (
                "drifted columns",
                f"{len(drifted)} of {len(latest.drift.columns)}" + (f": {', '.join(drifted)}" if drifted else ""),
                latest.drift.drifted or "drifted columns" in red,
            )
        )
    shown = {"rows", "requests", "drift_share", "dataset_drift"}
    for key in ("auc", "accuracy", "log_loss", "rmse", "mae", "p99_latency_ms", "error_rate"):
        if key in overall and overall[key] == overall[key]:
            cards.append((_LABELS[key], fmt(overall[key]), key in red))
            shown.add(key)
    for o in opened:  # an open alert on a figure without a card gets one
        if o.metric not in shown:
            cards.append((o.metric, fmt(o.value), True))
            shown.add(o.metric)
    return cards


def _performance(latest: WindowResult) -> tuple[list[str], list[dict[str, Any]]]:
    columns = [c for c in ("auc", "accuracy", "log_loss", "rmse", "mae") if any(p.get(c) is not None and p.get(c) == p.get(c) for p in latest.performance)]
    rows = []
    for p in latest.performance:
        aggregate = p.get("route") == "*"
        rows.append(
            {
                "version": "all versions" if aggregate else f"v{p.get('version')}",
                "route": "live traffic" if aggregate else p.get("route"),
                "shadow": "-" if aggregate else fmt(bool(p.get("shadow"))),
                "rows": int(p.get("rows") or 0),
                "labelled": int(p.get("labelled") or 0),
                "values": [fmt(p.get(c)) for c in columns],
                "aggregate": aggregate,
            }
        )
    return [_LABELS[c] for c in columns], rows


def write_report(
    endpoint: str,
    points: list[MetricPoint],
    latest: WindowResult | None,
    alerts: list[AlertEvent],
    output: str | Path,
    *,
    labels: Mapping[tuple[_dt.datetime, _dt.datetime], WindowLabel] | None = None,
    now: _dt.datetime | None = None,
) -> tuple[Path, Path]:
    """Write ``output`` (HTML) and its JSON twin beside it; returns both paths.

    ``labels`` names windows by what they stand for, keyed by the (start, end) they were
    computed over; ``now`` is the time the page says it was written (default: now).
    """
    html_path = Path(output)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = html_path.with_suffix(".json")
    by_ms = {(epoch_ms(s), epoch_ms(e)): label for (s, e), label in (labels or {}).items()}
    windows = windows_of(points, alerts, by_ms)
    names = {w.end_ms: w.label for w in windows if w.label}
    opened = open_alerts(alerts, latest)
    latest_dict: dict[str, Any] | None = None
    distributions: list[tuple[str, str]] = []
    cards: list[tuple[str, str, bool]] = []
    performance: tuple[list[str], list[dict[str, Any]]] = ([], [])
    latest_name = ""
    if latest is not None:
        latest_dict = latest.to_dict()
        key = (epoch_ms(latest.start), epoch_ms(latest.end))
        given = by_ms.get(key)
        latest_name = f"{given.label}, {span(given.start, given.end)}" if given else span(latest.start, latest.end)
        cards = _cards(latest, opened)
        performance = _performance(latest)
        if latest.drift is not None:
            for column in latest.drift.columns:
                if column.drifted:
                    img = distribution_png(column.to_dict(with_bins=True))
                    if img:
                        distributions.append((column.column, img))
    drift_rows = latest.drift.columns if latest is not None and latest.drift is not None else []
    series = [s for s in SERIES if any(s in w.figures for w in windows)]
    html = _TEMPLATE.render(
        endpoint=endpoint,
        written=(now or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        windows=windows,
        latest=latest_dict,
        latest_name=latest_name,
        cards=cards,
        opened=opened,
        over_time=over_time_png(windows, tick_labels(windows), swaps(windows)),
        distributions=distributions,
        drift_rows=drift_rows,
        drift_notes=any(c.note for c in drift_rows),
        alerts=_alert_rows(alerts, names),
        performance_columns=performance[0],
        performance=performance[1],
        series=series,
        series_labels=_LABELS,
        any_versions=any(w.versions for w in windows),
        any_labels=any(w.label for w in windows),
        fmt=fmt,
        figure=figure,
    )
    temp = html_path.with_name(f".{html_path.name}.tmp")
    temp.write_text(html, encoding="utf-8")
    temp.replace(html_path)
    twin = {
        "endpoint": endpoint,
        "windows": [w.to_dict() for w in windows],
        "swaps": [{"window": windows[i].label or windows[i].span, "change": text} for i, text in swaps(windows)],
        "open_alerts": [{"rule": o.rule, "value": o.value} for o in opened],
        "latest": latest_dict,
        "alerts": [{k: v for k, v in row.items() if k != "fired_ms"} for row in _alert_rows(alerts, names)],
    }
    temp_json = json_path.with_name(f".{json_path.name}.tmp")
    temp_json.write_text(json.dumps(twin, indent=2, default=str), encoding="utf-8")
    temp_json.replace(json_path)
    return html_path, json_path


_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>modelyard monitor — {{ endpoint }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.3rem}
.sub{color:#667} table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem} td,th{padding:.3rem .7rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f4f6fa} .bad{color:#b42318;font-weight:600} .ok{color:#067647} .cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #dde;border-radius:8px;padding:.7rem 1rem;min-width:150px} .card b{font-size:1.3rem;display:block}
.card.alert{border-color:#b42318;background:#fef3f2} .card.alert b{color:#b42318}
.banner{border:1px solid #b42318;background:#fef3f2;color:#b42318;border-radius:8px;padding:.6rem 1rem;margin:.8rem 0}
.quiet{color:#889} td.num{text-align:right;font-variant-numeric:tabular-nums} tr.total td{font-weight:600}
.nowrap{white-space:nowrap} .wide{overflow-x:auto} img{max-width:100%;border:1px solid #eee;border-radius:6px;margin:.4rem 0} ul.actions{margin:0;padding-left:1rem}
</style></head><body>
<h1>Monitoring report: {{ endpoint }}</h1>
<div class="sub">written {{ written }} · {{ windows|length }} window(s){% if latest %} · latest: {{ latest_name }}{% endif %}{% if latest and latest.reference %}<br>reference: {{ latest.reference }}{% endif %}</div>
{% if latest %}
<h2>Latest window</h2>
{% if opened %}<div class="banner"><b>{{ opened|length }} alert(s) open</b> (fired, and the rule still holds in the latest window):
{% for o in opened %}{{ o.rule }} (now {{ fmt(o.value) }}){% if not loop.last %}; {% endif %}{% endfor %}</div>{% endif %}
<div class="cards">
{% for label, value, bad in cards %}<div class="card{{ ' alert' if bad }}">{{ label }}<b class="{{ 'bad' if bad else 'ok' }}">{{ value }}</b></div>{% endfor %}
</div>
{% if latest.findings %}<p>Findings:</p><ul>{% for f in latest.findings %}<li>{{ f }}</li>{% endfor %}</ul>{% endif %}
{% endif %}
{% if over_time %}<h2>Over time</h2><img alt="drift share, performance and traffic per window" src="data:image/png;base64,{{ over_time }}">{% endif %}
{% if windows %}<h2>Windows</h2>
<div class="wide"><table><tr>{% if any_labels %}<th>window</th>{% endif %}<th>time covered</th>{% if any_versions %}<th>served by</th>{% endif %}{% for m in series %}<th>{{ series_labels[m] }}</th>{% endfor %}<th>drifted columns</th><th>alerts fired</th></tr>
{% for w in windows %}<tr>{% if any_labels %}<td>{{ w.label }}</td>{% endif %}<td class="nowrap">{{ w.span }}</td>{% if any_versions %}<td>{{ w.served_by }}</td>{% endif %}{% for m in series %}<td class="num">{{ figure(m, w.figures.get(m)) }}</td>{% endfor %}<td class="{{ 'bad' if w.drifted }}">{{ w.drifted|join(', ') or '-' }}</td><td class="{{ 'bad' if w.alerts }}">{{ w.alerts|join('; ') or '-' }}</td></tr>{% endfor %}</table></div>{% endif %}
{% if alerts %}<h2>Alerts</h2><table><tr><th>fired</th><th>window</th><th>rule</th><th>value</th><th>actions</th></tr>
{% for a in alerts %}<tr><td>{{ a.fired }}</td><td>{{ a.window }}</td><td>{{ a.rule }}</td><td class="num">{{ fmt(a.value) }}</td><td class="{{ 'bad' if a.failed }}"><ul class="actions">{% for line in a.actions %}<li>{{ line }}</li>{% endfor %}</ul></td></tr>{% endfor %}</table>{% endif %}
{% if drift_rows %}
<h2>Drift by column (latest window)</h2>
<table><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th><th>PSI</th><th>JS</th><th>Wasserstein</th><th>drifted</th>{% if drift_notes %}<th>note</th>{% endif %}</tr>
{% for c in drift_rows %}<tr><td>{{ c.column }}</td><td>{{ c.kind }}</td><td>{{ c.test }}</td><td class="num">{{ fmt(c.statistic) }}</td><td class="num">{{ fmt(c.p_value) }}</td><td class="num">{{ fmt(c.psi) }}</td><td class="num">{{ fmt(c.js) }}</td><td class="num">{{ fmt(c.wasserstein) }}</td>
<td class="{{ 'bad' if c.drifted else 'ok' }}">{{ 'yes' if c.drifted else ('no' if c.drifted is not none else 'too few values') }}</td>{% if drift_notes %}<td>{{ c.note }}</td>{% endif %}</tr>{% endfor %}</table>
{% for name, img in distributions %}<h3>{{ name }}: reference vs current</h3><img alt="{{ name }}" src="data:image/png;base64,{{ img }}">{% endfor %}
{% endif %}
{% if performance %}
<h2>Performance by version and route (latest window)</h2>
<table><tr><th>version</th><th>route</th><th>shadow</th><th>rows</th><th>labelled</th>{% for c in performance_columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for p in performance %}<tr class="{{ 'total' if p.aggregate }}"><td>{{ p.version }}</td><td>{{ p.route }}</td><td>{{ p.shadow }}</td><td class="num">{{ "{:,}".format(p.rows) }}</td><td class="num">{{ "{:,}".format(p.labelled) }}</td>{% for v in p["values"] %}<td class="num">{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
{% endif %}
{% if latest and latest.technical %}<h2>Service (latest window)</h2><table>{% for k, v in latest.technical.items() %}<tr><th>{{ k }}</th><td class="num">{{ fmt(v) }}</td></tr>{% endfor %}</table>{% endif %}
</body></html>
"""
)
