"""Signing in to the UI with a token, the session cookie, CSRF on every form, and roles:
a viewer who tries to move an alias gets the 403 page and the alias stays where it was."""

from __future__ import annotations

import re

import httpx

from modelyard.http import hash_token

from .conftest import Site


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the form has no CSRF token"
    return found.group(1)


def _login(site: Site, http: httpx.Client, token: str) -> httpx.Response:
    form = http.get("/ui/login")
    return http.post("/ui/login", data={"token": token, "csrf": _csrf(form.text), "next": "/ui/models/credit"})


def test_pages_need_a_session_and_the_login_sets_a_strict_httponly_cookie(secure_site: Site) -> None:
    token = secure_site.user("ada", "viewer")
    with secure_site.http() as http:
        away = http.get("/ui/models", follow_redirects=False)
        assert away.status_code == 303 and away.headers["location"] == "/ui/login?next=/ui/models"
        assert http.get("/ui/models.json").status_code == 401
        wrong = _login(secure_site, http, "myd_not-a-token")
        assert wrong.status_code == 401 and "unknown or revoked" in wrong.text and "myd_not-a-token" not in wrong.text
        answer = _login(secure_site, http, token)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/models/credit"
        cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("modelyard_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        session = http.cookies["modelyard_session"]
        assert session != token  # a session token of its own, revoked at logout
        page = http.get("/ui/models/credit")
        assert page.status_code == 200 and "ada" in page.text
        http.post("/ui/logout", data={"csrf": _csrf(page.text)})
        assert secure_site.state.store.users.user_for_token(hash_token(session)) is None
        assert secure_site.state.store.users.user_for_token(hash_token(token)) is not None


def test_scripts_read_the_json_twins_with_a_bearer_token(secure_site: Site) -> None:
    token = secure_site.user("bot", "viewer")
    with secure_site.http(headers={"authorization": f"Bearer {token}"}) as http:
        assert http.get("/ui/models.json").json()["models"][0]["name"] == "credit"


def test_a_login_never_redirects_off_site(secure_site: Site) -> None:
    token = secure_site.user("eve", "viewer")
    with secure_site.http() as http:
        form = http.get("/ui/login", params={"next": "https://evil.example/"})
        assert 'value="/ui/"' in form.text
        answer = http.post("/ui/login", data={"token": token, "csrf": _csrf(form.text), "next": "//evil.example/x"})
        assert answer.headers["location"] == "/ui/"


def test_forms_without_the_csrf_token_are_refused(secure_site: Site) -> None:
    token = secure_site.user("ed", "editor")
    registry = secure_site.state.store.registry
    before = registry.get_model("credit").aliases["champion"]
    with secure_site.http() as http:
        assert http.post("/ui/login", data={"token": token}).status_code == 403  # login CSRF too
        _login(secure_site, http, token)
        page = http.get("/ui/models/credit")
        for sent in ({}, {"csrf": "0" * 40}):
            refused = http.post("/ui/models/credit/aliases", data={"alias": "champion", "version": "1", **sent})
            assert refused.status_code == 403 and "CSRF" in refused.text
        assert registry.get_model("credit").aliases["champion"] == before
        moved = http.post("/ui/models/credit/aliases", data={"alias": "challenger", "version": "1", "reason": "try", "csrf": _csrf(page.text)})
        assert moved.status_code == 303
    assert registry.get_model("credit").aliases["challenger"] == 1
    assert registry.audit_log("credit", 1)[0].actor == "ed"  # the signed-in user, not the server's


def test_a_viewer_moving_an_alias_gets_the_403_page(secure_site: Site) -> None:
    token = secure_site.user("vic", "viewer")
    registry = secure_site.state.store.registry
    before = dict(registry.get_model("credit").aliases)
    with secure_site.http() as http:
        _login(secure_site, http, token)
        page = http.get("/ui/models/credit")
        assert "Check the gate and move" not in page.text  # the form is not offered
        refused = http.post("/ui/models/credit/aliases", data={"alias": "champion", "version": "1", "csrf": _csrf(page.text)})
    assert refused.status_code == 403 and "Not allowed" in refused.text and "editor" in refused.text
    assert registry.get_model("credit").aliases == before


def test_the_gate_refusal_shows_the_failing_checks(secure_site: Site) -> None:
    token = secure_site.user("gil", "editor")
    registry = secure_site.state.store.registry
    registry.update_model("credit", "test", gate={"checks": [{"metric": "holdout_auc", "min": 0.99}]})
    with secure_site.http() as http:
        _login(secure_site, http, token)
        page = http.get("/ui/models/credit")
        refused = http.post("/ui/models/credit/aliases", data={"alias": "champion", "version": "2", "csrf": _csrf(page.text)})
    assert refused.status_code == 409
    assert "The gate refused v2" in refused.text and "holdout_auc &gt;= 0.99" in refused.text and "failed" in refused.text


def test_admins_create_users_and_see_the_token_once(secure_site: Site) -> None:
    admin = secure_site.user("root", "admin")
    with secure_site.http() as http:
        _login(secure_site, http, admin)
        page = http.get("/ui/admin")
        made = http.post("/ui/admin/users", data={"name": "newbie", "role": "viewer", "csrf": _csrf(page.text)})
        assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
        shown = re.search(r'<code id="shown-token">(myd_[^<]+)</code>', made.text)
        assert shown and secure_site.state.store.users.user_for_token(hash_token(shown.group(1))).name == "newbie"  # type: ignore[union-attr]
        assert shown.group(1) not in http.get("/ui/admin").text  # once
        http.post("/ui/admin/users/newbie/revoke", data={"csrf": _csrf(page.text)})
        assert secure_site.state.store.users.user_for_token(hash_token(shown.group(1))) is None
    viewer = secure_site.user("val", "viewer")
    with secure_site.http() as http:
        _login(secure_site, http, viewer)
        assert http.get("/ui/admin").status_code == 403
