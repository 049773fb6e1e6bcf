"""``modelyard models``: list, show, versions, register, export, promote, alias, archive, card,
diff."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelyard.cli._common import Json, TrackingUri
from modelyard.cli._output import (
    Styled,
    emit_json,
    friendly_errors,
    say,
    table,
    warn_error,
    when,
)
from modelyard.core.errors import GateFailedError, ValidationError
from modelyard.core.formatting import number
from modelyard.core.models import ModelVersion, RegisteredModel

if TYPE_CHECKING:  # the registry is imported when a command runs: `--help` stays quick
    from modelyard.registry import CheckResult, Client

app = typer.Typer(
    help="Register, promote, document and compare model versions.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Registered model name.")]
Version = Annotated[int, typer.Argument(help="Version number.")]


def client(tracking_uri: str | None) -> Client:
    from modelyard.registry import Client

    return Client(tracking_uri)


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{a} → v{v}" for a, v in sorted(aliases.items())) or "-"


def gate_lines(gate: dict[str, Any] | None) -> list[str]:
    """A gate as sentences, one per check: ``holdout_auc >= 0.7``, ``median predict time <=
    50 ms on the input example``..."""
    from modelyard.registry import parse_gate
    from modelyard.registry._gate import CardCheck, ChampionCheck, LatencyCheck, MetricCheck

    if not gate or not gate.get("checks"):
        return ["none (any version may be promoted; risk rules still apply)"]
    try:
        parsed = parse_gate(gate)
    except ValidationError:
        return [str(check) for check in gate.get("checks", [])]
    lines = []
    for check in parsed.checks:
        if isinstance(check, MetricCheck):
            bounds = [f">= {check.min:g}" if check.min is not None else "", f"<= {check.max:g}" if check.max is not None else ""]
            lines.append(f"{check.metric} {' and '.join(b for b in bounds if b)}")
        elif isinstance(check, ChampionCheck):
            side = "below" if check.higher_is_better else "above"
            lines.append(f"{check.champion} no more than {check.delta:g} {side} the {check.alias}'s")
        elif isinstance(check, LatencyCheck):
            lines.append(f"median predict time <= {check.latency_ms:g} ms on the input example ({check.repeats} calls)")
        elif isinstance(check, CardCheck):
            lines.append(f"card filled in: {', '.join(check.card)}")
    return lines


def _metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k}={number(v)}" for k, v in sorted(metrics.items())) or "-"


def _tags(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"


Filter = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        help="Search-language filter, e.g. \"tags.team = 'risk'\" (see `runs search`).",
    ),
]


def model_json(m: RegisteredModel) -> dict[str, Any]:
    return {
        "name": m.name,
        "description": m.description,
        "owner": m.owner,
        "risk_category": m.risk_category.value,
        "aliases": m.aliases,
        "latest_version": m.latest_version,
        "tags": m.tags,
        "gate": m.gate,
        "creation_time": m.creation_time,
        "last_updated_time": m.last_updated_time,
    }


def version_json(v: ModelVersion) -> dict[str, Any]:
    return {
        "name": v.name,
        "version": v.version,
        "uri": v.uri,
        "state": v.state.value,
        "aliases": v.aliases,
        "flavor": v.flavor,
        "source": v.source,
        "run_id": v.run_id,
        "metrics": v.metrics,
        "params": v.params,
        "tags": v.tags,
        "description": v.description,
        "owner": v.owner,
        "risk_category": v.risk_category.value,
        "lineage": v.lineage,
        "signature": v.signature,
        "card": v.card,
        "approvals": v.approvals,
        "evaluation": {k: val for k, val in v.evaluation.items() if k != "plots"},
        "files": {p: {"sha256": d, "size": s} for p, (d, s) in v.files.items()},
        "creation_time": v.creation_time,
    }


@app.command("list")
def list_(filter_string: Filter = None, tracking_uri: TrackingUri = None, json: Json = False) -> None:
    """List registered models with their aliases and tags (filter on name, owner,
    risk_category or tags.<key>)."""
    with friendly_errors():
        models = client(tracking_uri).search_registered_models(filter_string)
    if json:
        emit_json([model_json(m) for m in models])
        return
    table(
        "Registered models",
        ["name", "latest", "aliases", "risk", "owner", "updated", "tags"],
        [
            [
                m.name,
                m.latest_version or "-",
                _aliases(m.aliases),
                m.risk_category.value,
                m.owner,
                when(m.last_updated_time),
                _tags(m.tags),
            ]
            for m in models
        ],
        caption=None
        if models
        else "No models match."
        if filter_string
        else "No models yet: log_model(..., registered_model_name=...) or `modelyard models register`.",
    )


@app.command()
def show(name: Name, tracking_uri: TrackingUri = None, json: Json = False) -> None:
    """Show a registered model: its aliases, its versions, its gate and its recent history."""
    with friendly_errors():
        c = client(tracking_uri)
        m = c.get_registered_model(name)
        found = c.search_model_versions(f"name = '{name}'")
        audit = c.get_audit_log(name, limit=15)
    if json:
        emit_json({**model_json(m), "versions": [version_json(v) for v in found], "audit": [asdict(e) for e in audit]})
        return
    table(
        f"Model {m.name}",
        ["field", "value"],
        [
            ["description", m.description or "-"],
            ["owner", m.owner],
            ["risk", m.risk_category.value],
            ["latest version", m.latest_version or "-"],
            ["aliases", _aliases(m.aliases)],
            ["tags", _tags(m.tags)],
            ["gate", "\n".join(gate_lines(m.gate))],
        ],
    )
    _versions_table(f"Versions of {name}", found)
    table(
        "History",
        ["when", "action", "version", "alias", "from", "to", "by", "why"],
        [
            [
                when(e.at),
                e.action,
                e.version or "-",
                e.alias or "-",
                e.from_version or "-",
                e.to_version or "-",
                e.actor,
                e.reason or "-",
            ]
            for e in audit
        ],
    )


@app.command()
def versions(
    name: Name,
    all_: Annotated[bool, typer.Option("--all", help="Include deleted versions.")] = False,
    filter_string: Filter = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """List the versions of a model, newest first (filter on version_number, run_id,
    tags.<key>, metrics.<key> ...)."""
    with friendly_errors():
        c = client(tracking_uri)
        c.get_registered_model(name)  # names are letters, digits, '_', '-', '.' and spaces
        where = f"name = '{name}'" + (f" and ({filter_string})" if filter_string else "")
        found = c.search_model_versions(where, include_deleted=all_)
    if json:
        emit_json([version_json(v) for v in found])
        return
    _versions_table(f"Versions of {name}", found)


def _versions_table(title: str, found: list[ModelVersion]) -> None:
    table(
        title,
        ["version", "aliases", "state", "flavor", "risk", "registered", "metrics", "tags"],
        [
            [
                f"v{v.version}",
                ", ".join(v.aliases) or "-",
                v.state.value,
                v.flavor,
                v.risk_category.value,
                when(v.creation_time),
                _metrics(v.metrics),
                _tags(v.tags),
            ]
            for v in found
        ],
        caption=None if found else "No versions.",
    )


@app.command()
def tag(
    name: Name,
    key: Annotated[str, typer.Argument(help="Tag key.")],
    value: Annotated[str | None, typer.Argument(help="Tag value (omit with --delete).")] = None,
    version: Annotated[
        int | None,
        typer.Option("--version", "-v", help="Tag this version; without it, the model itself."),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the tag.")] = False,
    reason: Annotated[str, typer.Option(help="Why; written to the audit log.")] = "",
    tracking_uri: TrackingUri = None,
) -> None:
    """Set (or with --delete remove) a tag of a registered model or of one of its versions."""
    what = name if version is None else f"{name} v{version}"
    with friendly_errors():
        c = client(tracking_uri)
        if delete:
            if version is None:
                c.delete_registered_model_tag(name, key, reason)
            else:
                c.delete_model_version_tag(name, version, key, reason)
        else:
            if value is None:
                raise ValidationError("give a VALUE for the tag, or --delete")
            if version is None:
                c.set_registered_model_tag(name, key, value, reason)
            else:
                c.set_model_version_tag(name, version, key, value, reason)
    typer.echo(f"Deleted tag {key!r} of {what}" if delete else f"Tagged {what}: {key}={value}")


@app.command()
def register(
    name: Name,
    source: Annotated[
        str,
        typer.Argument(
            help="runs:/<run-id>/<path>, a modelyard bundle folder, or an MLflow model folder."
        ),
    ],
    description: Annotated[str, typer.Option(help="What this version is.")] = "",
    risk: Annotated[
        str | None, typer.Option(help="minimal, limited, high or unacceptable.")
    ] = None,
    trusted: Annotated[
        bool,
        typer.Option(
            "--trusted",
            help="Vouch for an MLflow folder whose model is a pickle: converting it unpickles "
            "it, which runs its code.",
        ),
    ] = False,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Register a new version of a model."""
    with friendly_errors():
        v = client(tracking_uri).register_model(
            name, source, description=description, risk_category=risk, trusted=trusted
        )
    if json:
        emit_json(version_json(v))
    else:
        say("Registered ", (v.uri, "bold"), f" ({v.flavor}, {len(v.files)} files, sha256-verified)")


@app.command()
def export(
    model_uri: Annotated[
        str, typer.Argument(help="models:/name/3, models:/name@alias or runs:/<run-id>/<path>.")
    ],
    path: Annotated[str, typer.Argument(metavar="DIR", help="New (or empty) folder to write.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="mlflow: an MLmodel folder that mlflow.pyfunc.load_model and `mlflow models "
            "serve` load; bundle: the modelyard bundle itself.",
        ),
    ] = "mlflow",
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Export a model version as an MLflow model folder (or its modelyard bundle)."""
    from modelyard.registry import export_model

    with friendly_errors():
        folder = export_model(client(tracking_uri), model_uri, path, format)
    if json:
        emit_json({"model_uri": model_uri, "format": format, "path": str(folder)})
    else:
        say("Exported ", (model_uri, "bold"), f" as {format} to {folder}")


class _Refused(Exception):
    """Raised past friendly_errors so that a refusal prints its table of checks."""


def _checks_table(title: str, checks: list[CheckResult]) -> None:
    table(
        title,
        ["check", "result", "detail"],
        [[c.check, Styled("pass", "green") if c.passed else Styled("FAIL", "bold red"), c.detail] for c in checks],
    )


@app.command()
def promote(
    name: Name,
    version: Version,
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "champion",
    force: Annotated[
        bool, typer.Option("--force", help="Override a failing gate (needs --reason; audited).")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why; written to the audit log.")] = "",
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Move an alias to a version if the model's gate passes; show every check."""
    from modelyard.registry import CheckResult

    try:
        with friendly_errors():
            try:
                checks = client(tracking_uri).promote(
                    name, version, alias, force=force, reason=reason
                )
            except GateFailedError as refused:
                error = refused
                raise _Refused from None
    except _Refused:
        failed: list[CheckResult] = [ch for ch in error.checks if isinstance(ch, CheckResult)]
        if json:
            emit_json({"promoted": False, "checks": [ch.to_dict() for ch in failed]})
        else:
            _checks_table(f"Gate of {name} for v{version}: refused", failed)
            warn_error("refused", str(error))
        raise typer.Exit(1) from None
    if json:
        emit_json(
            {
                "promoted": True,
                "alias": alias,
                "version": version,
                "checks": [ch.to_dict() for ch in checks],
            }
        )
        return
    _checks_table(f"Gate of {name} for v{version}", checks)
    forced = any(not ch.passed for ch in checks)
    say(f"{alias} → ", (f"{name} v{version}", "bold"), (" (forced)", "yellow") if forced else "")


@app.command()
def alias(
    name: Name,
    alias_name: Annotated[
        str, typer.Argument(metavar="ALIAS", help="Alias name, e.g. challenger.")
    ],
    version: Annotated[
        int | None, typer.Argument(help="Version to point at (omit with --delete).")
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    reason: Annotated[str, typer.Option(help="Why; written to the audit log.")] = "",
    tracking_uri: TrackingUri = None,
) -> None:
    """Point an alias at a version without a gate (a rollback is pointing it back), or delete it."""
    with friendly_errors():
        c = client(tracking_uri)
        if delete:
            c.delete_registered_model_alias(name, alias_name, reason)
            typer.echo(f"Deleted alias {alias_name!r} of {name}")
            return
        if version is None:
            raise typer.BadParameter("give a VERSION, or --delete")
        c.set_registered_model_alias(name, alias_name, version, reason)
    typer.echo(f"{alias_name} → {name} v{version}")


@app.command()
def archive(
    name: Name,
    version: Version,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    tracking_uri: TrackingUri = None,
) -> None:
    """Archive a version (loadable by number, but no alias may point at it)."""
    with friendly_errors():
        client(tracking_uri).archive_model_version(name, version, reason)
    typer.echo(f"Archived {name} v{version}")


@app.command()
def approve(
    name: Name,
    version: Version,
    approver: Annotated[str, typer.Option(help="Who approves.")],
    reason: Annotated[str, typer.Option(help="Why; written to the audit log and the card.")] = "",
    note: Annotated[str, typer.Option(hidden=True, help="Former name of --reason.")] = "",
    tracking_uri: TrackingUri = None,
) -> None:
    """Record a named approval and its reason (required to promote high-risk versions)."""
    with friendly_errors():
        client(tracking_uri).approve_model_version(name, version, approver, reason or note)
    typer.echo(f"{approver} approved {name} v{version}")


@app.command()
def card(
    name: Name,
    version: Version,
    out: Annotated[Path, typer.Option(help="Folder for <name>-v<version>.md and .html.")] = Path(
        "cards"
    ),
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Render a version's model card as Markdown and HTML."""
    with friendly_errors():
        client(tracking_uri).model_card(name, version, out)
    md, html = out / f"{name}-v{version}.md", out / f"{name}-v{version}.html"
    if json:
        emit_json({"markdown": str(md), "html": str(html)})
        return
    say("Card written to ", (str(md), "bold"), " and ", (str(html), "bold"))


@app.command()
def diff(
    name: Name, a: Version, b: Version, tracking_uri: TrackingUri = None, json: Json = False
) -> None:
    """Two versions side by side: metrics, params, signature and data."""
    with friendly_errors():
        c = client(tracking_uri)
        va, vb = c.get_model_version(name, a), c.get_model_version(name, b)
    rows: list[list[Any]] = []
    for key in sorted(set(va.metrics) | set(vb.metrics)):
        rows.append([f"metric {key}", number(va.metrics.get(key)), number(vb.metrics.get(key))])
    for key in sorted(set(va.params) | set(vb.params)):
        rows.append([f"param {key}", va.params.get(key, "-"), vb.params.get(key, "-")])
    sig_a = {col["name"]: col["dtype"] for col in (va.signature or {}).get("inputs", [])}
    sig_b = {col["name"]: col["dtype"] for col in (vb.signature or {}).get("inputs", [])}
    for col in sorted(set(sig_a) | set(sig_b)):
        if sig_a.get(col) != sig_b.get(col):
            rows.append([f"input {col}", sig_a.get(col, "(absent)"), sig_b.get(col, "(absent)")])

    def data(v: ModelVersion) -> str:
        return (
            ", ".join(f"{d['name']}@{d['digest'][:8]}" for d in v.lineage.get("datasets", []))
            or "-"
        )

    rows += [
        ["data", data(va), data(vb)],
        ["flavor", va.flavor, vb.flavor],
        ["risk", va.risk_category.value, vb.risk_category.value],
        ["aliases", ", ".join(va.aliases) or "-", ", ".join(vb.aliases) or "-"],
    ]
    if json:
        emit_json({"a": version_json(va), "b": version_json(vb), "rows": rows})
        return
    changed = [r for r in rows if str(r[1]) != str(r[2])]
    table(
        f"{name}: v{a} vs v{b}",
        ["", f"v{a}", f"v{b}"],
        rows,
        caption=f"{len(changed)} of {len(rows)} rows differ",
    )
