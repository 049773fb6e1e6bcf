"""Signing in and out, and the administration of users (admins only, when auth is on):
users with their roles and grants, tokens created (shown once) and revoked, roles changed,
grants on one experiment or model given and taken back."""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.responses import RedirectResponse, Response

from modelyard.core.errors import AuthenticationError, ValidationError
from modelyard.server.auth import create_user, new_user_token
from modelyard.server.ui._session import SESSION_LABEL, log_in, log_out, set_session
from modelyard.server.ui._web import PREFIX, View, page_response


def _safe_next(target: str) -> str:
    """Only a path of this UI: never another site (an open redirect)."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target[:1000]
    return f"{PREFIX}/"


def login_page(view: View) -> dict[str, Any]:
    return {"next": _safe_next(view.param("next")), "error": None}


def login(view: View) -> Response:
    target = _safe_next(view.form.get("next", ""))
    try:
        _, session = log_in(view.state, view.form.get("token", ""))
    except AuthenticationError as refused:
        return page_response(view, "login.html", {"next": target, "error": str(refused)[:300]}, "", 401)
    response = RedirectResponse(target, status_code=303)
    set_session(response, view.request, session)
    return response


def logout(view: View) -> Response:
    log_out(view.request, view.state)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    set_session(response, view.request, None)
    return response


def _require_admin(view: View) -> None:
    view.require("admin", "global", "")


def users(view: View) -> dict[str, Any]:
    if not view.auth_on:
        return {"auth_on": False, "users": [], "shown_token": None}
    _require_admin(view)
    store = view.state.store.users
    out = []
    for user in store.list_users():
        tokens = store.tokens_of(user.name)
        out.append({
            "name": user.name, "role": user.role, "disabled": user.disabled,
            "grants": [{"kind": k, "resource": r, "role": role} for (k, r), role in sorted(store.permissions_of(user.name).items())],
            "tokens": len([t for t in tokens if t[0] != SESSION_LABEL]),
            "sessions": len([t for t in tokens if t[0] == SESSION_LABEL]),
        })
    return {"auth_on": True, "users": out, "shown_token": None}


def _shown(view: View, user: str, token: str) -> Response:
    data = users(view)
    data["shown_token"] = {"user": user, "token": token}
    response = page_response(view, "admin.html", data, "admin")
    response.headers["cache-control"] = "no-store"
    return response


def add_user(view: View) -> Response:
    _require_admin(view)
    user, token = create_user(view.state.store.users, view.field("name", limit=256), view.field("role", limit=16))
    return _shown(view, user.name, token)


def add_token(view: View) -> Response:
    _require_admin(view)
    name = view.path["user"]
    token = new_user_token(view.state.store.users, name, view.field("label", required=False, limit=100) or "token")
    return _shown(view, name, token)


def revoke_tokens(view: View) -> str:
    _require_admin(view)
    view.state.store.users.revoke_tokens(view.path["user"])
    return f"{PREFIX}/admin?revoked={urllib.parse.quote(view.path['user'][:64])}"


def set_role(view: View) -> str:
    _require_admin(view)
    view.state.store.users.set_role(view.path["user"], view.field("role", limit=16))
    return f"{PREFIX}/admin"


def grant(view: View) -> str:
    _require_admin(view)
    kind = view.field("kind", limit=16)
    if kind not in ("experiment", "model"):
        raise ValidationError("form field 'kind' must be experiment or model")
    role = view.field("role", limit=16)
    view.state.store.users.set_permission(
        view.path["user"], kind, view.field("resource", limit=256), None if role == "remove" else role
    )
    return f"{PREFIX}/admin"
