"""Registry webhooks in the metadata database: the subscriptions, and every delivery attempt.

A webhook's secret is the HMAC key its deliveries are signed with, so it is kept as given
(it cannot be hashed like an API token); it is never listed back (``Webhook.secret`` is read
only by the deliverer)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from modelyard.core.errors import NotFoundError
from modelyard.core.ids import now_ms
from modelyard.store._engine import Engines
from modelyard.store._errors import translated
from modelyard.store._schema import webhook_deliveries, webhooks


@dataclass(frozen=True, slots=True)
class Webhook:
    webhook_id: str
    url: str
    events: tuple[str, ...]
    created_time: int
    actor: str
    secret: str = ""

    def to_dict(self) -> dict[str, object]:
        """What listings show: everything but the secret."""
        return {
            "webhook_id": self.webhook_id,
            "url": self.url,
            "events": list(self.events),
            "created_time": self.created_time,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver one event to one webhook."""

    delivery_id: str
    webhook_id: str
    event: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    at: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_dict(self) -> dict[str, object]:
        return {
            "delivery_id": self.delivery_id,
            "webhook_id": self.webhook_id,
            "event": self.event,
            "attempt": self.attempt,
            "status_code": self.status_code,
            "ok": self.ok,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "at": self.at,
        }


class WebhookStore:
    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.where = engines.where

    def create(self, webhook_id: str, url: str, events: tuple[str, ...], secret: str, actor: str) -> Webhook:
        now = now_ms()
        with translated(self.where), self._engines.write.begin() as conn:
            conn.execute(
                insert(webhooks).values(
                    webhook_id=webhook_id, url=url, events=json.dumps(list(events)), secret=secret, created_time=now, actor=actor
                )
            )
        return Webhook(webhook_id, url, events, now, actor, secret)

    def find(self, event: str | None = None) -> list[Webhook]:
        """Every webhook, oldest first; with ``event``, those subscribed to it."""
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(select(webhooks).order_by(webhooks.c.created_time, webhooks.c.webhook_id)).all()
        found = [Webhook(r.webhook_id, r.url, tuple(json.loads(r.events)), r.created_time, r.actor, r.secret) for r in rows]
        return [w for w in found if event is None or event in w.events]

    def delete(self, webhook_id: str) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            gone = conn.execute(delete(webhooks).where(webhooks.c.webhook_id == webhook_id)).rowcount
        if not gone:
            raise NotFoundError(f"webhook {webhook_id[:40]!r} does not exist; `modelyard webhooks list` shows them")

    def record(self, delivery: Delivery) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            conn.execute(
                insert(webhook_deliveries).values(
                    delivery_id=delivery.delivery_id,
                    webhook_id=delivery.webhook_id,
                    event=delivery.event,
                    attempt=delivery.attempt,
                    status_code=delivery.status_code,
                    error=delivery.error,
                    duration_ms=delivery.duration_ms,
                    at=delivery.at,
                )
            )

    def deliveries(self, webhook_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """The latest ``limit`` attempts (of one webhook, or of all), newest first."""
        query = select(webhook_deliveries).order_by(webhook_deliveries.c.id.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(webhook_deliveries.c.webhook_id == webhook_id)
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Delivery(r.delivery_id, r.webhook_id, r.event, r.attempt, r.status_code, r.error, r.duration_ms, r.at)
            for r in rows
        ]
