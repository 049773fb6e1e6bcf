"""Registry webhooks against a real HTTP receiver: signed bodies, retries with back-off,
every attempt recorded and listed by the CLI."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelyard.cli import app
from modelyard.core.errors import GateFailedError, ValidationError
from modelyard.registry import Client
from modelyard.registry._webhooks import verify

from .receiver import closed_port_url, receiver

SECRET = "s3cr3t-for-tests"


@pytest.fixture
def client(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A registry client on each metadata backend (SQLite, PostgreSQL)."""
    monkeypatch.setenv("MODELYARD_WEBHOOK_BACKOFF", "0")  # retries at once: no wall clock in tests
    monkeypatch.setenv("MODELYARD_ARTIFACT_URI", str(tmp_path / "artifacts"))
    return Client(store_url)


def _model() -> LogisticRegression:
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    return LogisticRegression().fit(x, [0, 1, 0, 1])


def test_every_event_arrives_signed_with_hmac_sha256(client: Client) -> None:
    with receiver() as got:
        hook = client.create_webhook(got.url, "version_created,alias_moved,approval,gate_result", SECRET)
        version = client.register_model("hooked", _model())
        client.approve_model_version("hooked", version.version, "ana", "looks right")
        client.promote("hooked", version.version, "champion")  # a gate check, then the alias moves
        assert client.flush_webhooks()
        requests = got.wait_for(4)
    for request in requests:
        signature = request.headers["X-Modelyard-Signature"]
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert signature == expected and verify(SECRET, request.body, signature)
        assert not verify("another secret", request.body, signature)
    bodies = [r.json() for r in requests]
    assert [b["event"] for b in bodies] == ["version_created", "approval", "gate_result", "alias_moved"]
    assert [r.headers["X-Modelyard-Event"] for r in requests] == [b["event"] for b in bodies]
    assert bodies[0]["data"]["uri"] == "models:/hooked/1"
    assert bodies[1]["data"]["approver"] == "ana"
    assert bodies[2]["data"]["passed"] is True and bodies[2]["data"]["alias"] == "champion"
    assert bodies[3]["data"] == {
        "model": "hooked", "alias": "champion", "from_version": None, "to_version": 1,
        "actor": bodies[3]["data"]["actor"], "reason": "", "action": "promote",
    }
    deliveries = client.list_webhook_deliveries(hook.webhook_id)
    assert len(deliveries) == 4 and all(d.ok and d.attempt == 1 for d in deliveries)


def test_a_receiver_failing_twice_gets_three_attempts_recorded(client: Client) -> None:
    with receiver(statuses=[500, 500, 200]) as got:
        hook = client.create_webhook(got.url, ["alias_moved"], SECRET)
        client.register_model("retried", _model())
        client.set_registered_model_alias("retried", "champion", 1)
        assert client.flush_webhooks()
        requests = got.wait_for(3)
    assert len(requests) == 3
    assert len({r.headers["X-Modelyard-Delivery"] for r in requests}) == 1  # one delivery, three attempts
    assert len({r.body for r in requests}) == 1
    attempts = sorted(client.list_webhook_deliveries(hook.webhook_id), key=lambda d: d.attempt)
    assert [(d.attempt, d.status_code, d.ok) for d in attempts] == [(1, 500, False), (2, 500, False), (3, 200, True)]
    assert attempts[0].error == "HTTP 500"


def test_an_unreachable_receiver_never_fails_the_registry_call(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_WEBHOOK_ATTEMPTS", "2")
    hook = client.create_webhook(closed_port_url(), "version_created,gate_result", SECRET)
    version = client.register_model("offline", _model(), metrics={"auc": 0.5})
    assert version.version == 1
    with pytest.raises(GateFailedError):  # the gate fails the call, the webhook does not
        client.promote("offline", 1, gate={"checks": [{"metric": "auc", "min": 0.9}]})
    assert client.flush_webhooks()
    rows = client.list_webhook_deliveries(hook.webhook_id)
    assert sorted((d.event, d.attempt, d.status_code) for d in rows) == [
        ("gate_result", 1, None), ("gate_result", 2, None), ("version_created", 1, None), ("version_created", 2, None),
    ]
    assert all(d.error for d in rows)


def test_a_stalled_receiver_does_not_hold_up_the_registry(client: Client) -> None:
    release = threading.Event()
    with receiver(hold=release) as got:
        hook = client.create_webhook(got.url, "version_created,alias_moved", SECRET)
        client.register_model("stalled", _model())
        got.wait_for(1)  # the delivery is in flight, its answer held back ...
        client.set_registered_model_alias("stalled", "champion", 1)  # ... and the registry goes on
        assert client.get_model_version_by_alias("stalled", "champion").version == 1
        assert client.list_webhook_deliveries(hook.webhook_id) == []  # nothing answered yet
        release.set()
        assert client.flush_webhooks()
        got.wait_for(2)
    assert sorted(d.event for d in client.list_webhook_deliveries(hook.webhook_id)) == ["alias_moved", "version_created"]


def test_a_4xx_answer_is_final(client: Client) -> None:
    with receiver(statuses=[410]) as got:
        hook = client.create_webhook(got.url, "version_created", SECRET)
        client.register_model("gone", _model())
        assert client.flush_webhooks()
        got.wait_for(1)
    assert [(d.attempt, d.status_code) for d in client.list_webhook_deliveries(hook.webhook_id)] == [(1, 410)]


def test_bad_subscriptions_are_refused_naming_the_field(client: Client) -> None:
    with pytest.raises(ValidationError, match="url: a webhook needs an http"):
        client.create_webhook("ftp://example.org/x", "approval")
    with pytest.raises(ValidationError, match="events: 'deployed' is not one of"):
        client.create_webhook("http://127.0.0.1:9/x", "approval,deployed")
    with pytest.raises(ValidationError, match="events: name at least one"):
        client.create_webhook("http://127.0.0.1:9/x", "")


def test_the_cli_adds_lists_and_shows_deliveries(client: Client, store_url: str) -> None:
    runner = CliRunner()
    uri = store_url
    with receiver() as got:
        added = runner.invoke(app, ["webhooks", "add", got.url, "--events", "version_created", "--secret", SECRET, "-t", uri, "--json"])
        assert added.exit_code == 0, added.output
        hook = json.loads(added.output)
        assert "secret" not in hook and hook["events"] == ["version_created"]
        client.register_model("cli-hooked", _model())
        assert client.flush_webhooks()
        got.wait_for(1)
    listed = runner.invoke(app, ["webhooks", "list", "-t", uri, "--json"])
    assert [h["webhook_id"] for h in json.loads(listed.output)] == [hook["webhook_id"]]
    shown = runner.invoke(app, ["webhooks", "deliveries", "-t", uri, "--json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert [(r["event"], r["attempt"], r["status_code"], r["ok"]) for r in rows] == [("version_created", 1, 200, True)]
    made = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/x", "--events", "approval", "-t", uri, "--json"])
    assert len(json.loads(made.output)["secret"]) >= 32  # generated, shown once
    bad = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/x", "--events", "nope", "-t", uri])
    assert bad.exit_code != 0 and "events" in bad.output
    removed = runner.invoke(app, ["webhooks", "remove", hook["webhook_id"], "-t", uri])
    assert removed.exit_code == 0
