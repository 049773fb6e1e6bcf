"""Native REST: registry webhooks (admins only: a webhook's secret signs what the registry
sends, and its URL receives the team's model events), their deliveries, and the gate results a
client checked without promoting.

The same service as in process (``registry._webhooks``): the subscription is checked and kept
by ``create_webhook``, events go out through ``RegistryEvents`` from this server's dispatcher.
A secret is in the answer to its creation and never again.
"""

from __future__ import annotations

from modelyard.core.errors import ValidationError
from modelyard.core.models import check_alias
from modelyard.core.wire_pipelines import (
    CreatedWebhook,
    CreateWebhook,
    DeliveryList,
    DeliveryOut,
    Flushed,
    FlushWebhooks,
    GateResult,
    WebhookList,
    WebhookOut,
)
from modelyard.registry import RegistryEvents
from modelyard.registry._webhooks import create_webhook as make_webhook
from modelyard.server._operations import Access, Call, Operation
from modelyard.server.api._pipelines import query_int
from modelyard.store import Webhook

API = "/api/v1"
_ADMIN = Access("admin")
_MAX_DELIVERIES = 10_000


def _out(hook: Webhook) -> WebhookOut:
    return WebhookOut(
        webhook_id=hook.webhook_id,
        url=hook.url,
        events=list(hook.events),
        created_time=hook.created_time,
        actor=hook.actor,
    )


def create_webhook(call: Call) -> CreatedWebhook:
    body: CreateWebhook = call.body
    hook = make_webhook(
        call.state.store.webhooks, body.url, body.events, body.secret, call.actor, body.webhook_id
    )
    return CreatedWebhook(**_out(hook).model_dump(), secret=hook.secret)


def list_webhooks(call: Call) -> WebhookList:
    return WebhookList(webhooks=[_out(h) for h in call.state.store.webhooks.find()])


def delete_webhook(call: Call) -> None:
    call.state.store.webhooks.delete(call.path["webhook_id"])


def deliveries(call: Call) -> DeliveryList:
    limit = query_int(call, "limit", default=100, low=1, high=_MAX_DELIVERIES) or 100
    found = call.state.store.webhooks.deliveries(call.query.get("webhook") or None, limit)
    return DeliveryList(
        deliveries=[
            DeliveryOut(
                delivery_id=d.delivery_id,
                webhook_id=d.webhook_id,
                event=d.event,
                attempt=d.attempt,
                status_code=d.status_code,
                error=d.error,
                duration_ms=d.duration_ms,
                at=d.at,
            )
            for d in found
        ]
    )


def flush(call: Call) -> Flushed:
    body: FlushWebhooks = call.body
    limit = max(0.001, min(body.timeout, call.state.config.request_timeout_seconds / 2))
    return Flushed(flushed=call.state.client.flush_webhooks(limit))


def gate_result(call: Call) -> None:
    body: GateResult = call.body
    raw = call.path["version"]
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError("the version in the path must be a positive whole number")
    version = call.state.store.registry.get_version(call.path["name"], int(raw))  # 404 if none
    alias = check_alias(body.alias)
    RegistryEvents(call.state.store).gate_result(version.name, version.version, alias, body.checks)


# fmt: off
OPERATIONS = [
    Operation("create_webhook", "POST", f"{API}/webhooks",
              "Subscribe a URL to registry events; the answer shows the signing secret once",
              create_webhook, CreateWebhook, CreatedWebhook, _ADMIN, tag="webhooks"),
    Operation("list_webhooks", "GET", f"{API}/webhooks", "Every webhook, oldest first (never their secrets)",
              list_webhooks, None, WebhookList, _ADMIN, tag="webhooks"),
    Operation("delete_webhook", "DELETE", f"{API}/webhooks/{{webhook_id}}",
              "Stop sending to a webhook (its deliveries stay)", delete_webhook, access=_ADMIN, tag="webhooks"),
    Operation("list_webhook_deliveries", "GET", f"{API}/webhook-deliveries",
              "Delivery attempts, newest first (?webhook=, ?limit=)", deliveries, None, DeliveryList, _ADMIN,
              tag="webhooks"),
    Operation("flush_webhooks", "POST", f"{API}/webhook-deliveries/flush",
              "Wait until this replica delivered (or gave up on) the events queued so far",
              flush, FlushWebhooks, Flushed, Access("edit", "somewhere"), tag="webhooks"),
    Operation("send_gate_result", "POST", f"{API}/models/{{name}}/versions/{{version}}/gate-results",
              "Send the gate_result event of a gate a client checked without promoting",
              gate_result, GateResult, access=Access("edit", "model", "name"), tag="webhooks"),
]
# fmt: on
