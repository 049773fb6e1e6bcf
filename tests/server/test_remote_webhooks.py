"""Registry webhooks managed over a team server (admins only; the secret is shown once), and
gate results: a gate a remote client only checks sends ``gate_result`` from the server, and a
remote promotion sends it once."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import modelyard
from modelyard.cli import app
from modelyard.core import errors as E
from modelyard.registry._webhooks import verify

from ..events.receiver import receiver
from .conftest import Live

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])


def _client(live: Live, role: str, monkeypatch: pytest.MonkeyPatch) -> modelyard.Client:
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live.user(f"{role}-user", role))
    return modelyard.Client(live.url)


def test_an_admin_manages_webhooks_over_http_and_the_secret_is_shown_once(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = _client(live_server, "admin", monkeypatch)
    made = admin.create_webhook("http://127.0.0.1:9/hook", "version_created,alias_moved")
    given = admin.create_webhook("http://127.0.0.1:9/other", ["approval"], secret="mine")
    assert len(made.secret) >= 32 and given.secret == "mine"
    assert made.actor == "admin-user" and made.events == ("version_created", "alias_moved")
    listed = admin.list_webhooks()
    assert [h.webhook_id for h in listed] == [made.webhook_id, given.webhook_id]
    assert all(h.secret == "" for h in listed)  # never listed back
    kept = live_server.state.store.webhooks.find()
    assert [h.secret for h in kept] == [made.secret, "mine"]  # the deliverer signs with them
    admin.delete_webhook(given.webhook_id)
    assert [h.webhook_id for h in admin.list_webhooks()] == [made.webhook_id]
    with pytest.raises(E.NotFoundError, match="does not exist"):
        admin.delete_webhook(given.webhook_id)
    assert admin.list_webhook_deliveries() == []


def test_webhook_management_needs_an_admin(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = _client(live_server, "editor", monkeypatch)
    with pytest.raises(E.PermissionDeniedError, match="admin"):
        editor.create_webhook("http://127.0.0.1:9/hook", "approval")
    with pytest.raises(E.PermissionDeniedError, match="admin"):
        editor.list_webhooks()
    with pytest.raises(E.PermissionDeniedError, match="admin"):
        editor.list_webhook_deliveries()
    assert live_server.state.store.webhooks.find() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://x", "events": ["approval"]}, "url"),
        ({"url": "http://x", "events": ["nope"]}, "events"),
        ({"url": "http://x", "events": []}, "events"),
        ({"url": "http://x", "events": ["approval"], "secret": ""}, "secret"),
        ({"url": "http://x", "events": ["approval"], "webhook_id": "../x"}, "webhook_id"),
    ],
)
def test_a_bad_webhook_is_a_400_naming_the_field(
    live_server: Live, body: dict[str, Any], field: str
) -> None:
    with live_server.http(live_server.user("root", "admin")) as http:
        answer = http.post("/api/v1/webhooks", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"] and "ftp://x" not in answer.text


def test_a_gate_checked_remotely_sends_gate_result_and_a_promotion_sends_it_once(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_WEBHOOK_BACKOFF", "0")
    admin = _client(live_server, "admin", monkeypatch)
    with receiver() as got:
        hook = admin.create_webhook(got.url, "gate_result,alias_moved", "s3cret")
        version = admin.register_model("gated", LogisticRegression().fit(X, [0, 1, 0, 1]))
        checks = admin.check_gate("gated", version.version, "champion")
        assert admin.flush_webhooks()
        checked = got.wait_for(1)
        admin.promote("gated", version.version, "champion")
        assert admin.flush_webhooks()
        promoted = got.wait_for(3)
    assert verify("s3cret", checked[0].body, checked[0].headers["X-Modelyard-Signature"])
    first = checked[0].json()
    assert first["event"] == "gate_result"
    assert first["data"] == {
        "model": "gated", "version": version.version, "alias": "champion", "passed": True,
        "checks": [c.to_dict() for c in checks],
    }  # fmt: skip
    assert [r.json()["event"] for r in promoted] == ["gate_result", "gate_result", "alias_moved"]
    deliveries = admin.list_webhook_deliveries(hook.webhook_id)
    assert len(deliveries) == 3 and all(d.ok for d in deliveries)


def test_a_gate_result_for_a_missing_version_is_a_404_and_needs_an_editor(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_server.http(live_server.user("ed", "editor")) as http:
        missing = http.post(
            "/api/v1/models/none/versions/1/gate-results", json={"alias": "champion", "checks": []}
        )
        bad = http.post(
            "/api/v1/models/none/versions/x/gate-results", json={"alias": "champion", "checks": []}
        )
    with live_server.http(live_server.user("vi", "viewer")) as http:
        refused = http.post(
            "/api/v1/models/none/versions/1/gate-results", json={"alias": "champion", "checks": []}
        )
    assert missing.status_code == 404 and bad.status_code == 400 and refused.status_code == 403


def test_the_webhooks_command_manages_a_team_servers_webhooks(
    live_server: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_TRACKING_TOKEN", live_server.user("ops", "admin"))
    runner, uri = CliRunner(), live_server.url
    added = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/x", "--events", "approval", "-t", uri, "--json"])  # fmt: skip
    assert added.exit_code == 0, added.output
    made = json.loads(added.output)
    assert made["actor"] == "ops" and len(made["secret"]) >= 32  # a new secret, shown this once
    listed = json.loads(runner.invoke(app, ["webhooks", "list", "-t", uri, "--json"]).output)
    assert [h["webhook_id"] for h in listed] == [made["webhook_id"]] and "secret" not in listed[0]
    shown = runner.invoke(app, ["webhooks", "deliveries", "-t", uri, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output) == []
    removed = runner.invoke(app, ["webhooks", "remove", made["webhook_id"], "-t", uri])
    assert removed.exit_code == 0 and live_server.state.store.webhooks.find() == []
