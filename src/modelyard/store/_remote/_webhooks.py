"""``HttpWebhookStore``: the webhook store's methods over a team server's REST API (admins
only: a webhook's secret signs what the registry sends), and the gate results a client checked
without promoting, sent on by the server as ``gate_result`` events.

Deliveries are the server's: it sends the events of the writes it takes, from its own
process, so ``flush`` waits for the deliveries queued on the replica that answers it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from modelyard.core.wire import Empty
from modelyard.core.wire_pipelines import (
    CreatedWebhook,
    CreateWebhook,
    DeliveryList,
    Flushed,
    FlushWebhooks,
    GateResult,
    WebhookList,
    WebhookOut,
)
from modelyard.store._remote._transport import Transport, wire
from modelyard.store._webhook_store import Delivery, Webhook


def _webhook(out: WebhookOut, secret: str = "") -> Webhook:
    return Webhook(out.webhook_id, out.url, tuple(out.events), out.created_time, out.actor, secret)


class HttpWebhookStore:
    """Registry webhooks and their deliveries on a team server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def create(
        self, webhook_id: str, url: str, events: tuple[str, ...], secret: str, actor: str
    ) -> Webhook:
        """As ``WebhookStore.create``; the server records the token's user as the actor."""
        body = wire(
            CreateWebhook, webhook_id=webhook_id, url=url, events=list(events), secret=secret
        )
        made = self.transport.call("POST", "/webhooks", CreatedWebhook, body=body)
        return _webhook(made, made.secret)

    def find(self, event: str | None = None) -> list[Webhook]:
        """Every webhook, oldest first, without its secret; with ``event``, those subscribed to it."""
        found = self.transport.call("GET", "/webhooks", WebhookList).webhooks
        return [_webhook(w) for w in found if event is None or event in w.events]

    def delete(self, webhook_id: str) -> None:
        self.transport.request("DELETE", f"/webhooks/{quote(webhook_id, safe='')}")

    def deliveries(self, webhook_id: str | None = None, limit: int = 100) -> list[Delivery]:
        params = {"webhook": webhook_id, "limit": limit}
        found = self.transport.call("GET", "/webhook-deliveries", DeliveryList, params=params)
        return [Delivery(**d.model_dump()) for d in found.deliveries]

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the server has delivered (or given up on) the events queued so far."""
        body = wire(FlushWebhooks, timeout=min(max(timeout, 0.001), 60.0))
        return self.transport.call("POST", "/webhook-deliveries/flush", Flushed, body=body).flushed

    def gate_result(
        self, name: str, version: int, alias: str, checks: list[dict[str, Any]]
    ) -> None:
        """A gate checked here and not promoted: the server sends its ``gate_result`` event."""
        body = wire(GateResult, alias=alias, checks=checks)
        path = f"/models/{quote(name, safe='')}/versions/{int(version)}/gate-results"
        self.transport.call("POST", path, Empty, body=body)
