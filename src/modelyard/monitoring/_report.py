"""The monitoring report: an HTML page a person can read (drift and performance over time,
reference-vs-current distributions of drifted columns, the latest window's tables) and a
JSON twin with the same numbers."""

from __future__ import annotations

import base64
import datetime as _dt
import io
import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2

from modelyard.monitoring._monitor import WindowResult
from modelyard.store._monitor_store import AlertEvent, MetricPoint

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>modelyard monitor — {{ endpoint }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde;padding-bottom:.3rem}
.sub{color:#667} table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem} td,th{padding:.3rem .7rem;border-bottom:1px solid #eee;text-align:left}
th{background:#f4f6fa} .bad{color:#b42318;font-weight:600} .ok{color:#067647} .cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #dde;border-radius:8px;padding:.7rem 1rem;min-width:150px} .card b{font-size:1.3rem;display:block}
img{max-width:100%;border:1px solid #eee;border-radius:6px;margin:.4rem 0}
</style></head><body>
<h1>Monitoring report: {{ endpoint }}</h1>
<div class="sub">written {{ written }} · {{ windows|length }} window(s){% if latest %} · latest {{ latest.start }} → {{ latest.end }}{% endif %}{% if latest and latest.reference %} · reference: {{ latest.reference }}{% endif %}</div>
{% if latest %}
<h2>Latest window</h2>
<div class="cards">
{% for label, value, bad in cards %}<div class="card">{{ label }}<b class="{{ 'bad' if bad else 'ok' }}">{{ value }}</b></div>{% endfor %}
</div>
{% if latest.findings %}<p>Findings:</p><ul>{% for f in latest.findings %}<li>{{ f }}</li>{% endfor %}</ul>{% endif %}
{% endif %}
{% if over_time %}<h2>Over time</h2><img alt="drift share and performance over time" src="data:image/png;base64,{{ over_time }}">{% endif %}
{% if alerts %}<h2>Alerts</h2><table><tr><th>fired</th><th>rule</th><th>value</th><th>action</th><th>status</th><th>detail</th></tr>
{% for a in alerts %}<tr><td>{{ a.fired }}</td><td>{{ a.rule }}</td><td>{{ "%.4g"|format(a.value) if a.value is not none else "-" }}</td><td>{{ a.action }}</td><td class="{{ 'bad' if a.status == 'failed' else '' }}">{{ a.status }}</td><td>{{ a.detail }}</td></tr>{% endfor %}</table>{% endif %}
{% if latest and latest.drift %}
<h2>Drift by column (latest window)</h2>
<table><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th><th>PSI</th><th>JS</th><th>Wasserstein</th><th>drifted</th><th>note</th></tr>
{% for c in latest.drift.columns %}<tr><td>{{ c.column }}</td><td>{{ c.kind }}</td><td>{{ c.test }}</td><td>{{ fmt(c.statistic) }}</td><td>{{ fmt(c.p_value) }}</td><td>{{ fmt(c.psi) }}</td><td>{{ fmt(c.js) }}</td><td>{{ fmt(c.wasserstein) }}</td>
<td class="{{ 'bad' if c.drifted else 'ok' }}">{{ 'yes' if c.drifted else ('no' if c.drifted is not none else 'n/a') }}</td><td>{{ c.note }}</td></tr>{% endfor %}</table>
{% for name, img in distributions %}<h3>{{ name }}: reference vs current</h3><img alt="{{ name }}" src="data:image/png;base64,{{ img }}">{% endfor %}
{% endif %}
{% if latest and latest.performance %}
<h2>Performance by version and route (latest window)</h2>
<table><tr><th>version</th><th>route</th><th>shadow</th><th>rows</th><th>labelled</th><th>AUC</th><th>accuracy</th><th>log loss</th><th>RMSE</th><th>MAE</th></tr>
{% for p in latest.performance %}<tr><td>{{ p.version }}</td><td>{{ p.route }}</td><td>{{ p.shadow }}</td><td>{{ p.rows|int }}</td><td>{{ (p.labelled or 0)|int }}</td><td>{{ fmt(p.auc) }}</td><td>{{ fmt(p.accuracy) }}</td><td>{{ fmt(p.log_loss) }}</td><td>{{ fmt(p.rmse) }}</td><td>{{ fmt(p.mae) }}</td></tr>{% endfor %}</table>
{% endif %}
{% if latest and latest.technical %}<h2>Service (latest window)</h2><table>{% for k, v in latest.technical.items() %}<tr><th>{{ k }}</th><td>{{ fmt(v) }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Windows</h2><table><tr><th>end</th>{% for m in series_names %}<th>{{ m }}</th>{% endfor %}</tr>
{% for w in windows %}<tr><td>{{ w.end }}</td>{% for m in series_names %}<td>{{ fmt(w.figures.get(m)) }}</td>{% endfor %}</tr>{% endfor %}</table>
</body></html>
"""
)

SERIES = ("rows", "drift_share", "auc", "accuracy", "p99_latency_ms", "error_rate")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.4g}"
    return str(value)


def _iso(ms: int) -> str:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC).strftime("%Y-%m-%d %H:%M")


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _windows(points: list[MetricPoint]) -> list[dict[str, Any]]:
    rows: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
    for p in points:
        if not p.column and not p.version and p.value is not None:
            rows[(p.window_start, p.window_end)][p.name] = p.value
    return [
        {"start": _iso(s), "end": _iso(e), "end_ms": e, "figures": values}
        for (s, e), values in sorted(rows.items(), key=lambda kv: kv[0][1])
    ]


def _over_time(windows: list[dict[str, Any]], alerts: list[AlertEvent]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not windows:
        return None
    x = [_dt.datetime.fromtimestamp(w["end_ms"] / 1000, _dt.UTC) for w in windows]
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    drift = [w["figures"].get("drift_share") for w in windows]
    axes[0].plot(x, [d if d is not None else float("nan") for d in drift], marker="o", color="#b42318")
    axes[0].set_ylabel("drift share")
    axes[0].set_ylim(-0.05, 1.05)
    for name, color in (("auc", "#1f6feb"), ("accuracy", "#067647")):
        values = [w["figures"].get(name) for w in windows]
        if any(v is not None for v in values):
            axes[1].plot(x, [v if v is not None else float("nan") for v in values], marker="o", label=name, color=color)
    axes[1].set_ylabel("performance")
    axes[1].legend(loc="lower left")
    rows = [w["figures"].get("rows", 0.0) for w in windows]
    axes[2].bar(x, rows, width=0.6 * ((x[1] - x[0]) if len(x) > 1 else _dt.timedelta(hours=1)), color="#8899aa")
    axes[2].set_ylabel("rows scored")
    for alert in alerts:
        when = _dt.datetime.fromtimestamp(alert.window_end / 1000, _dt.UTC)
        for ax in axes:
            ax.axvline(when, color="#f79009", linestyle="--", linewidth=1)
    axes[0].set_title("drift, performance and traffic per window (dashed: alerts)")
    fig.autofmt_xdate()
    return _png(fig)


def _distribution(column: dict[str, Any]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ref, cur = column.get("reference_share") or [], column.get("current_share") or []
    if not ref:
        return None
    fig, ax = plt.subplots(figsize=(9, 2.8))
    if column["kind"] == "numeric":
        edges = column["bins"]
        centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        widths = [max(b - a, 1e-12) for a, b in itertools.pairwise(edges)]
        ax.bar(centers, [r / w for r, w in zip(ref, widths, strict=False)], width=widths, alpha=0.45, label="reference", color="#1f6feb")
        ax.bar(centers, [c / w for c, w in zip(cur, widths, strict=False)], width=widths, alpha=0.45, label="current", color="#b42318")
        ax.set_ylabel("density")
    else:
        labels = column["bins"]
        idx = list(range(len(labels)))
        ax.bar([i - 0.2 for i in idx], ref, width=0.4, label="reference", color="#1f6feb")
        ax.bar([i + 0.2 for i in idx], cur, width=0.4, label="current", color="#b42318")
        ax.set_xticks(idx, labels, rotation=30, ha="right")
        ax.set_ylabel("share")
    ax.legend()
    return _png(fig)


def write_report(
    endpoint: str,
    points: list[MetricPoint],
    latest: WindowResult | None,
    alerts: list[AlertEvent],
    output: str | Path,
) -> tuple[Path, Path]:
    """Write ``output`` (HTML) and its JSON twin beside it; returns both paths."""
    html_path = Path(output)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = html_path.with_suffix(".json")
    windows = _windows(points)
    latest_dict: dict[str, Any] | None = None
    distributions: list[tuple[str, str]] = []
    cards: list[tuple[str, str, bool]] = []
    if latest is not None:
        latest_dict = latest.to_dict()
        latest_dict["reference"] = latest.reference_source
        overall = latest.overall
        cards.append(("rows scored", f"{latest.rows:,}", latest.rows == 0))
        if latest.drift is not None:
            cards.append(("drifted columns", f"{len(latest.drift.drifted_columns)} / {len(latest.drift.columns)}", latest.drift.drifted))
            for column in latest.drift.columns:
                if column.drifted:
                    img = _distribution(column.to_dict(with_bins=True))
                    if img:
                        distributions.append((column.column, img))
        for key, label in (("auc", "AUC"), ("accuracy", "accuracy"), ("p99_latency_ms", "p99 latency (ms)"), ("error_rate", "error rate")):
            if key in overall:
                cards.append((label, _fmt(overall[key]), False))
    alert_rows = [
        {"fired": _iso(a.fired_time), "rule": a.rule, "value": a.value, "action": a.action, "status": a.status, "detail": a.detail}
        for a in alerts
    ]
    html = _TEMPLATE.render(
        endpoint=endpoint,
        written=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        windows=windows,
        latest=latest_dict,
        cards=cards,
        over_time=_over_time(windows, alerts),
        distributions=distributions,
        alerts=alert_rows,
        series_names=[s for s in SERIES if any(s in w["figures"] for w in windows)],
        fmt=_fmt,
    )
    temp = html_path.with_name(f".{html_path.name}.tmp")
    temp.write_text(html, encoding="utf-8")
    temp.replace(html_path)
    twin = {"endpoint": endpoint, "windows": [{k: v for k, v in w.items() if k != "end_ms"} for w in windows], "latest": latest_dict, "alerts": alert_rows}
    json_path.write_text(json.dumps(twin, indent=2, default=str), encoding="utf-8")
    return html_path, json_path
