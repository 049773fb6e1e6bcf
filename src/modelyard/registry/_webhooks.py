"""Registry webhooks: signed JSON POSTs when a version is created, an alias moves, a version is
approved or a gate is checked — delivered off the caller's path, retried, every attempt recorded.

The body is ``{"delivery_id", "event", "time", "data"}``; the header
``X-Modelyard-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes under the
webhook's secret, so a receiver checks it with::

    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    hmac.compare_digest(expected, request.headers["X-Modelyard-Signature"])

An answer of 2xx is delivered; a refused connection, a timeout, 408, 429 or 5xx is tried again
after 1, 2, 4 ... times ``MODELYARD_WEBHOOK_BACKOFF`` seconds (default 1) up to
``MODELYARD_WEBHOOK_ATTEMPTS`` attempts (default 5); any other 4xx is final. A registry call
never waits for, or fails because of, a delivery.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import os
import queue
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from modelyard.core.errors import ConfigurationError, ValidationError
from modelyard.core.ids import now_ms
from modelyard.core.models import ModelVersion
from modelyard.store import Delivery, SqlStore, Webhook
from modelyard.store._remote import HttpStore, HttpWebhookStore

log = logging.getLogger("modelyard.webhooks")

EVENTS = ("version_created", "alias_moved", "approval", "gate_result")
SIGNATURE_HEADER = "X-Modelyard-Signature"
EVENT_HEADER = "X-Modelyard-Event"
DELIVERY_HEADER = "X-Modelyard-Delivery"
_RETRIED = {408, 429}


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, signature: str) -> bool:
    """True when ``signature`` (the header's value) signs ``body`` under ``secret``."""
    return hmac.compare_digest(sign(secret, body), signature)


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("url: a webhook needs an http:// or https:// URL with a host")  # not echoed: it may hold a token
    return url


def check_events(events: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    names = [e.strip() for e in (events.split(",") if isinstance(events, str) else events) if e.strip()]
    if not names:
        raise ValidationError(f"events: name at least one of {list(EVENTS)}")
    unknown = [e for e in names if e not in EVENTS]
    if unknown:
        raise ValidationError(f"events: {unknown[0][:40]!r} is not one of {list(EVENTS)}")
    return tuple(dict.fromkeys(names))


class WebhookKeeper(Protocol):
    """Where webhooks are kept: the store's database, or a team server (``HttpWebhookStore``)."""

    def create(self, webhook_id: str, url: str, events: tuple[str, ...], secret: str, actor: str) -> Webhook: ...


def create_webhook(
    keeper: WebhookKeeper,
    url: str,
    events: str | list[str] | tuple[str, ...],
    secret: str | None,
    actor: str,
    webhook_id: str | None = None,
) -> Webhook:
    """Check and keep a new subscription: the library's ``Client`` and the team server alike
    (a secret left out is made here, and shown only in the answer)."""
    if secret is not None and not secret.strip():
        raise ValidationError("secret: empty; give a secret or leave it out to have one made")
    return keeper.create(
        webhook_id or uuid.uuid4().hex,
        check_url(url),
        check_events(events),
        secret if secret is not None else secrets.token_urlsafe(32),
        actor,
    )


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw[:20]!r} is not a number") from None
    if value < 0:
        raise ConfigurationError(f"{name}={raw[:20]!r} must not be negative")
    return value


class Dispatcher:
    """Delivers the events of one store from a daemon thread, in the order they were sent."""

    def __init__(self, store: SqlStore, *, sleep: Callable[[float], None] = time.sleep, timeout: float = 10.0) -> None:
        self._store = store
        self._sleep = sleep
        self._timeout = timeout
        self._queue: queue.Queue[tuple[list[Webhook], str, dict[str, Any]] | threading.Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, event: str, data: dict[str, Any]) -> None:
        """Queue ``event`` for the webhooks subscribed to it now (one indexed read here, on the
        caller's thread; nothing more when there are none) and return; delivery is the thread's."""
        hooks = self._store.webhooks.find(event)
        if hooks:
            self._start()
            self._queue.put((hooks, event, data))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event was delivered or given up; False on ``timeout``."""
        if self._thread is None:  # nothing was ever queued
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="modelyard-webhooks", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            hooks, event, data = item
            for hook in hooks:
                try:
                    self._deliver(hook, event, data)
                except Exception as error:  # never let one delivery end the thread
                    log.warning("webhook %s: event %s not delivered: %s", hook.webhook_id, event, error)

    def _deliver(self, hook: Webhook, event: str, data: dict[str, Any]) -> None:
        delivery_id = uuid.uuid4().hex
        body = json.dumps({"delivery_id": delivery_id, "event": event, "time": now_ms(), "data": data}, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "modelyard-webhooks",
            SIGNATURE_HEADER: sign(hook.secret, body),
            EVENT_HEADER: event,
            DELIVERY_HEADER: delivery_id,
        }
        attempts = max(1, int(_positive("MODELYARD_WEBHOOK_ATTEMPTS", 5)))
        backoff = _positive("MODELYARD_WEBHOOK_BACKOFF", 1.0)
        for attempt in range(1, attempts + 1):
            status, error, started = None, None, time.perf_counter()
            try:
                request = urllib.request.Request(hook.url, data=body, method="POST", headers=headers)
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    response.read()
                    status = int(response.status)
            except urllib.error.HTTPError as answer:
                status = int(answer.code)
                error = f"HTTP {answer.code}"
                answer.close()
            except Exception as failure:  # refused, reset, timed out
                error = f"{type(failure).__name__}: {failure}"[:500]
            record = Delivery(delivery_id, hook.webhook_id, event, attempt, status, error, int((time.perf_counter() - started) * 1000), now_ms())
            try:
                self._store.webhooks.record(record)
            except Exception as problem:
                log.warning("webhook delivery %s attempt %d not recorded: %s", delivery_id, attempt, problem)
            if record.ok or (status is not None and status < 500 and status not in _RETRIED):
                return
            if attempt < attempts:
                self._sleep(backoff * 2 ** (attempt - 1))
        log.warning("webhook %s gave up on %s after %d attempts", hook.webhook_id, event, attempts)


_dispatchers: dict[int, Dispatcher] = {}
_dispatchers_lock = threading.Lock()


def dispatcher(store: SqlStore) -> Dispatcher:
    """The one dispatcher of ``store`` in this process."""
    with _dispatchers_lock:
        found = _dispatchers.get(id(store))
        if found is None:
            found = _dispatchers[id(store)] = Dispatcher(store)
        return found


@atexit.register
def flush_all(timeout: float = 10.0) -> None:
    """Wait for every dispatcher's queued deliveries (at exit, and in a pipeline step's worker)."""
    for each in list(_dispatchers.values()):
        each.flush(timeout=timeout)


class RegistryEvents:
    """The registry's webhook events of one store, with the bodies every writer sends: the
    library's ``Client`` and the team server (native REST and MLflow façade) alike.

    Only a database store sends (a team server's clients send none: the server does); an event
    is queued, never awaited, and a failure to queue it is logged, never raised."""

    def __init__(self, store: object) -> None:
        self._store = store

    def send(self, event: str, data: dict[str, Any]) -> None:
        if not isinstance(self._store, SqlStore):
            return
        try:
            dispatcher(self._store).send(event, data)
        except Exception:  # a webhook never fails the registry call
            log.warning("webhook event %s not queued", event, exc_info=True)

    def version_created(self, version: ModelVersion, actor: str) -> None:
        self.send(
            "version_created",
            {"model": version.name, "version": version.version, "uri": version.uri, "run_id": version.run_id, "actor": actor},
        )

    def alias_moved(
        self, name: str, alias: str, before: int | None, after: int | None, actor: str, reason: str, action: str
    ) -> None:
        self.send(
            "alias_moved",
            {"model": name, "alias": alias, "from_version": before, "to_version": after, "actor": actor, "reason": reason, "action": action},
        )

    def approval(self, name: str, version: int, approver: str, reason: str, actor: str) -> None:
        self.send("approval", {"model": name, "version": version, "approver": approver, "reason": reason, "actor": actor})

    def gate_result(self, name: str, version: int, alias: str, checks: list[dict[str, Any]]) -> None:
        """A gate checked. A team server's client has no write for the server to send this
        after, so it asks the server to send it (a failure is logged, never raised)."""
        if isinstance(self._store, HttpStore):
            try:
                HttpWebhookStore(self._store.transport).gate_result(name, version, alias, checks)
            except Exception:
                log.warning("gate_result of %s version %s not sent to the server", name, version, exc_info=True)
            return
        passed = all(check.get("passed") is True for check in checks)
        self.send("gate_result", {"model": name, "version": version, "alias": alias, "passed": passed, "checks": checks})
