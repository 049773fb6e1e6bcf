"""Model cards, in Markdown and HTML, rendered from a version's current metadata.

A card is rendered on demand from what the registry holds now, so it is regenerated
whenever the version's metadata changes (and ``Client.model_card`` writes it to files).
"""

from __future__ import annotations

import base64
import html as _html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, StrictUndefined

from modelyard.core.entities import DatasetVersion
from modelyard.core.models import CARD_FIELDS, AuditEntry, ModelVersion, RiskCategory

_TITLES = {
    "intended_use": "Intended use",
    "out_of_scope_use": "Out-of-scope use",
    "training_data": "Training data notes",
    "evaluation": "Evaluation notes",
    "limitations": "Limitations",
    "ethical_considerations": "Ethical considerations",
}

_MARKDOWN = """\
# Model card: {{ v.name }} v{{ v.version }}

{{ v.description or "_No description._" }}

| | |
|---|---|
| Version | `{{ v.uri }}`{% if v.aliases %} ({{ v.aliases | join(", ") }}){% endif %} |
| State | {{ v.state.value }} |
| Risk category | **{{ v.risk_category.value }}** |
| Owner | {{ v.owner or "-" }} |
| Flavor | {{ v.flavor }} ({{ framework }}) |
| Registered | {{ when(v.creation_time) }} |
| Source | `{{ v.source }}` |
{% for f in fields %}
## {{ titles[f] }}

{{ v.card.get(f) or "_Not filled in._" }}
{% endfor %}
## Training data
{% if datasets %}{% for d in datasets %}
**{{ d.name }}** (`{{ d.digest[:12] }}`, {{ d.num_rows }} rows, {{ d.context }})

| column | type | nulls | mean | p5 | median | p95 |
|---|---|---|---|---|---|---|
{% for c in d.columns %}| {{ c.name }} | {{ c.type }} | {{ c.nulls }} | {{ c.mean }} | {{ c.p5 }} | {{ c.p50 }} | {{ c.p95 }} |
{% endfor %}{% endfor %}{% else %}_No dataset recorded._
{% endif %}
## Metrics

{% if v.metrics %}| metric | value |
|---|---|
{% for k, val in v.metrics | dictsort %}| {{ k }} | {{ fmt(val) }} |
{% endfor %}{% else %}_No metrics recorded._{% endif %}
{% if slices %}
### By slice

| slice | {{ slice_metrics | join(" | ") }} |
|---|{% for m in slice_metrics %}---|{% endfor %}
{% for name, values in slices %}| {{ name }} | {% for m in slice_metrics %}{{ fmt(values.get(m)) }} | {% endfor %}
{% endfor %}{% endif %}
## Feature importance
{% if importance %}
| feature | share |
|---|---|
{% for name, val in importance %}| {{ name }} | {{ "%.1f" | format(val * 100) }}% |
{% endfor %}{% else %}
_Not available for this flavor._
{% endif %}{% if plots %}
## Plots
{% for name in plots %}
- {{ name }}{% endfor %}
{% endif %}
## Lineage

| | |
|---|---|
| Run | {{ v.run_id or "-" }} |
| Git commit | {{ lineage.get("git_commit") or "-" }}{% if lineage.get("git_dirty") %} (dirty){% endif %} |
| Feature service | {{ lineage.get("feature_service") or "-" }} |
| Signature | {{ signature }} |

## Risk and approvals

Risk category **{{ v.risk_category.value }}**.{% if high %} High-risk versions need every card field filled in and a named approver before promotion.{% endif %}

{% if v.approvals %}{% for a in v.approvals %}- approved by **{{ a.approver }}** on {{ when(a.at) }}{% if a.note %}: {{ a.note }}{% endif %}
{% endfor %}{% else %}_No approvals._{% endif %}

## History
{% for e in audit %}
- {{ when(e.at) }} {{ e.action }}{% if e.alias %} `{{ e.alias }}`{% endif %}{% if e.from_version is not none %} from v{{ e.from_version }}{% endif %}{% if e.to_version is not none %} to v{{ e.to_version }}{% endif %} by {{ e.actor or "?" }}{% if e.reason %} — {{ e.reason }}{% endif %}{% endfor %}
"""

_HTML = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Model card: {{ v.name }} v{{ v.version }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f4f6f8}.risk-high,.risk-unacceptable{color:#b00020;font-weight:bold}.muted{color:#888}
.bar{background:#4a78c2;height:10px;display:inline-block}img{max-width:440px;margin:4px;border:1px solid #eee}
</style></head><body>
<h1>Model card: {{ v.name }} v{{ v.version }}</h1>
<p>{{ v.description or "No description." }}</p>
<table>
<tr><th>Version</th><td><code>{{ v.uri }}</code>{% if v.aliases %} ({{ v.aliases | join(", ") }}){% endif %}</td></tr>
<tr><th>State</th><td>{{ v.state.value }}</td></tr>
<tr><th>Risk category</th><td class="risk-{{ v.risk_category.value }}">{{ v.risk_category.value }}</td></tr>
<tr><th>Owner</th><td>{{ v.owner or "-" }}</td></tr>
<tr><th>Flavor</th><td>{{ v.flavor }} ({{ framework }})</td></tr>
<tr><th>Registered</th><td>{{ when(v.creation_time) }}</td></tr>
<tr><th>Source</th><td><code>{{ v.source }}</code></td></tr>
</table>
{% for f in fields %}<h2>{{ titles[f] }}</h2><p>{% if v.card.get(f) %}{{ v.card.get(f) }}{% else %}<span class="muted">Not filled in.</span>{% endif %}</p>
{% endfor %}
<h2>Training data</h2>
{% for d in datasets %}<h3>{{ d.name }} <small class="muted">{{ d.digest[:12] }} · {{ d.num_rows }} rows · {{ d.context }}</small></h3>
<details><summary>{{ d.columns | length }} columns: statistics</summary><table><tr><th>column</th><th>type</th><th>nulls</th><th>mean</th><th>p5</th><th>median</th><th>p95</th></tr>
{% for c in d.columns %}<tr><td>{{ c.name }}</td><td>{{ c.type }}</td><td>{{ c.nulls }}</td><td>{{ c.mean }}</td><td>{{ c.p5 }}</td><td>{{ c.p50 }}</td><td>{{ c.p95 }}</td></tr>
{% endfor %}</table></details>{% else %}<p class="muted">No dataset recorded.</p>{% endfor %}
<h2>Metrics</h2>
{% if v.metrics %}<table><tr><th>metric</th><th>value</th></tr>{% for k, val in v.metrics | dictsort %}<tr><td>{{ k }}</td><td>{{ fmt(val) }}</td></tr>{% endfor %}</table>{% else %}<p class="muted">No metrics recorded.</p>{% endif %}
{% if slices %}<h3>By slice</h3><table><tr><th>slice</th>{% for m in slice_metrics %}<th>{{ m }}</th>{% endfor %}</tr>
{% for name, values in slices %}<tr><td>{{ name }}</td>{% for m in slice_metrics %}<td>{{ fmt(values.get(m)) }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
<h2>Feature importance</h2>
{% if importance %}<table>{% for name, val in importance %}<tr><td>{{ name }}</td><td><span class="bar" style="width:{{ (val / (importance[0][1] or 1) * 200) | round(0) }}px"></span> {{ "%.1f" | format(val * 100) }}%</td></tr>{% endfor %}</table>{% else %}<p class="muted">Not available for this flavor.</p>{% endif %}
{% if plots %}<h2>Plots</h2>{% for name, data in plots.items() %}<img alt="{{ name }}" title="{{ name }}" src="data:image/png;base64,{{ data }}">{% endfor %}{% endif %}
<h2>Lineage</h2>
<table><tr><th>Run</th><td>{{ v.run_id or "-" }}</td></tr>
<tr><th>Git commit</th><td>{{ lineage.get("git_commit") or "-" }}{% if lineage.get("git_dirty") %} (dirty){% endif %}</td></tr>
<tr><th>Feature service</th><td>{{ lineage.get("feature_service") or "-" }}</td></tr>
<tr><th>Signature</th><td>{{ signature }}</td></tr></table>
<h2>Risk and approvals</h2>
<p>Risk category <b class="risk-{{ v.risk_category.value }}">{{ v.risk_category.value }}</b>.{% if high %} High-risk versions need every card field filled in and a named approver before promotion.{% endif %}</p>
{% if v.approvals %}<ul>{% for a in v.approvals %}<li>approved by <b>{{ a.approver }}</b> on {{ when(a.at) }}{% if a.note %}: {{ a.note }}{% endif %}</li>{% endfor %}</ul>{% else %}<p class="muted">No approvals.</p>{% endif %}
<h2>History</h2><ul>{% for e in audit %}<li>{{ when(e.at) }} {{ e.action }}{% if e.alias %} <code>{{ e.alias }}</code>{% endif %}{% if e.from_version is not none %} from v{{ e.from_version }}{% endif %}{% if e.to_version is not none %} to v{{ e.to_version }}{% endif %} by {{ e.actor or "?" }}{% if e.reason %} — {{ e.reason }}{% endif %}</li>{% endfor %}</ul>
</body></html>
"""

_ENV_MD = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENV_HTML = Environment(undefined=StrictUndefined, autoescape=True)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _columns(dataset: DatasetVersion) -> list[dict[str, str]]:
    rows = []
    for name, stats in (dataset.profile.get("columns") or {}).items():
        quantiles = stats.get("quantiles") or {}
        rows.append(
            {
                "name": name,
                "type": dataset.schema.get(name, stats.get("kind", "")),
                "nulls": f"{stats.get('null_rate', 0) * 100:.1f}%",
                "mean": _fmt(stats.get("mean")),
                "p5": _fmt(quantiles.get("0.05")),
                "p50": _fmt(quantiles.get("0.5")),
                "p95": _fmt(quantiles.get("0.95")),
            }
        )
    return rows


@dataclass(frozen=True)
class Card:
    """A model card as Markdown and as a self-contained HTML page (``.markdown``, ``.html``).
    Its repr is one line; in a notebook it shows the page in a frame."""

    markdown: str
    html: str
    uri: str = ""

    def __repr__(self) -> str:
        return (
            f"<Card {self.uri or '(unnamed)'}: {len(self.markdown):,} characters of Markdown, "
            f"{len(self.html.encode()) / 1024:,.0f} KiB of HTML>"
        )

    def _repr_html_(self) -> str:
        # a frame keeps the card's own styles from restyling the notebook
        return (
            f'<iframe title="model card {_html.escape(self.uri)}" srcdoc="{_html.escape(self.html)}" '
            'style="width: 100%; height: 640px; border: 1px solid #ddd"></iframe>'
        )


def render_card(
    version: ModelVersion,
    *,
    datasets: list[tuple[DatasetVersion, str]],
    importance: dict[str, float] | None,
    plots: dict[str, bytes],
    audit: list[AuditEntry],
    framework: str,
) -> Card:
    """The card of ``version``; ``datasets`` pairs each input dataset with its role."""
    slices = sorted((version.evaluation.get("slices") or {}).items())
    slice_metrics = sorted({m for _, values in slices for m in values})
    signature = version.signature or {}
    inputs = signature.get("inputs") or []
    signature_text = (
        f"{len(inputs)} inputs ({', '.join(c['name'] + ':' + c['dtype'] for c in inputs[:6])}{', ...' if len(inputs) > 6 else ''})"
        if inputs
        else "none recorded"
    )
    context = {
        "v": version,
        "titles": _TITLES,
        "fields": CARD_FIELDS,
        "framework": framework,
        "datasets": [
            {
                "name": d.name,
                "digest": d.digest,
                "num_rows": d.num_rows,
                "context": role,
                "columns": _columns(d),
            }
            for d, role in datasets
        ],
        "slices": slices,
        "slice_metrics": slice_metrics,
        "importance": list((importance or {}).items())[:15],
        "lineage": version.lineage,
        "signature": signature_text,
        "high": version.risk_category is RiskCategory.HIGH,
        "audit": list(reversed(audit))[-20:],
        "when": _when,
        "fmt": _fmt,
    }
    markdown = _ENV_MD.from_string(_MARKDOWN).render(plots=sorted(plots), **context)
    html = _ENV_HTML.from_string(_HTML).render(
        plots={name: base64.b64encode(data).decode() for name, data in sorted(plots.items())},
        **context,
    )
    return Card(markdown=markdown, html=html, uri=version.uri)
