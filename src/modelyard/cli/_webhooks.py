"""``modelyard webhooks``: signed HTTP notifications of registry events, and their deliveries."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._common import Json, TrackingUri
from modelyard.cli._models import client
from modelyard.cli._output import console, emit_json, friendly_errors, table, when

app = typer.Typer(
    help="Registry webhooks: POSTs signed with HMAC-SHA256 (X-Modelyard-Signature: sha256=<hex>) "
    "when a version is created, an alias moves, a version is approved or a gate is checked.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="Where to POST (http:// or https://).")],
    events: Annotated[
        str, typer.Option(help="Comma-separated: version_created, alias_moved, approval, gate_result.")
    ] = "version_created,alias_moved,approval,gate_result",
    secret: Annotated[
        str | None,
        typer.Option(envvar="MODELYARD_WEBHOOK_SECRET", help="The signing key (default: a new random one, printed once).", show_default=False),
    ] = None,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Subscribe a URL to registry events."""
    with friendly_errors():
        hook = client(tracking_uri).create_webhook(url, events, secret)
    shown = {**hook.to_dict(), **({} if secret is not None else {"secret": hook.secret})}
    if json:
        emit_json(shown)
        return
    console.print(f"webhook [bold]{hook.webhook_id}[/] → {hook.url} on {', '.join(hook.events)}", highlight=False)
    if secret is None:
        console.print(f"signing secret (shown once): [bold]{hook.secret}[/]", highlight=False)


@app.command("list")
def list_(tracking_uri: TrackingUri = None, json: Json = False) -> None:
    """The webhooks (never their secrets)."""
    with friendly_errors():
        hooks = client(tracking_uri).list_webhooks()
    if json:
        emit_json([h.to_dict() for h in hooks])
        return
    table("webhooks", ["id", "url", "events", "created"], [[h.webhook_id, h.url, ",".join(h.events), when(h.created_time)] for h in hooks])


@app.command("remove")
def remove(webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")], tracking_uri: TrackingUri = None) -> None:
    """Stop sending to a webhook (its recorded deliveries stay)."""
    with friendly_errors():
        client(tracking_uri).delete_webhook(webhook_id)
    console.print(f"removed webhook {webhook_id}", highlight=False)


@app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str | None, typer.Option("--webhook", help="Only this webhook's.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="How many attempts, newest first.")] = 100,
    tracking_uri: TrackingUri = None,
    json: Json = False,
) -> None:
    """Every delivery attempt: status, error, duration (a retried event shows one row per attempt)."""
    with friendly_errors():
        rows = client(tracking_uri).list_webhook_deliveries(webhook_id, limit)
    if json:
        emit_json([d.to_dict() for d in rows])
        return
    table(
        "deliveries",
        ["when", "webhook", "event", "delivery", "attempt", "status", "error"],
        [[when(d.at), d.webhook_id[:8], d.event, d.delivery_id[:8], str(d.attempt), str(d.status_code or "-"), d.error or ""] for d in rows],
    )
