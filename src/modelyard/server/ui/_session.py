"""Who is looking at the UI, and proof that a form came from our own page.

* Login with a token → a fresh *session token* for that user (stored hashed like every
  token, labelled ``ui session``) in an HttpOnly, SameSite=Strict cookie. Logout deletes it,
  and revoking a user's tokens ends their sessions too. No server-side session state: every
  replica answers the same.
* CSRF: every state-changing form (and htmx request) carries a token derived from a secret
  the page's own origin holds in an HttpOnly cookie — the session token once logged in,
  else a random ``modelyard_csrf`` cookie (``--auth none`` and the login form).
  A cross-site page can neither read that cookie nor, with SameSite=Strict, send it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from modelyard.core.errors import AuthenticationError, PermissionDeniedError
from modelyard.http import hash_token, new_token
from modelyard.server._state import Principal, ServerState
from modelyard.tracking._context import current_user

SESSION_COOKIE = "modelyard_session"
CSRF_COOKIE = "modelyard_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_LABEL = "ui session"
_SESSION_SECONDS = 12 * 3600


class CsrfError(PermissionDeniedError):
    """A state-changing request without the page's CSRF token (403)."""


class LoginNeeded(AuthenticationError):
    """No valid session: the page sends the browser to the login form."""


@dataclass(frozen=True)
class Visitor:
    principal: Principal
    csrf_secret: str
    new_csrf_cookie: str | None = None  # set on the answer when the browser had none

    @property
    def csrf(self) -> str:
        return csrf_token(self.csrf_secret)


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"modelyard-ui-csrf", hashlib.sha256).hexdigest()[:40]


def _csrf_cookie(request: Request) -> tuple[str, str | None]:
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 100:
        return existing, None
    fresh = secrets.token_urlsafe(24)
    return fresh, fresh


def visitor(request: Request, state: ServerState) -> Visitor:
    """The principal behind a UI request: its session cookie, or a bearer token (scripts
    reading the JSON twins), or — with auth off — the local user."""
    if state.config.auth != "token":
        principal = state.auth.authenticate({"x-modelyard-user": current_user()})
        secret, fresh = _csrf_cookie(request)
        return Visitor(principal, secret, fresh)
    header = request.headers.get("authorization", "")
    if header:
        principal = state.auth.authenticate({"authorization": header})
        return Visitor(principal, hash_token(header))  # no cookie: no CSRF exposure
    session = request.cookies.get(SESSION_COOKIE, "")
    if not session or len(session) > 200:
        raise LoginNeeded("log in with your token to see this page")
    try:
        principal = state.auth.authenticate({"authorization": f"Bearer {session}"})
    except AuthenticationError:
        raise LoginNeeded("your session has ended; log in again") from None
    return Visitor(principal, session)


def anonymous(request: Request) -> Visitor:
    """The login form's visitor: nobody yet, with a CSRF secret of its own."""
    secret, fresh = _csrf_cookie(request)
    return Visitor(Principal("", "none", authenticated=False), secret, fresh)


def check_csrf(request: Request, who: Visitor, form: dict[str, str]) -> None:
    if request.headers.get("authorization"):
        return  # a bearer token is not sent by browsers on their own: no CSRF
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent[:100], who.csrf):
        raise CsrfError(
            "this form's CSRF token is missing or stale; reload the page and submit it again"
        )


def log_in(state: ServerState, token: str) -> tuple[Principal, str]:
    """Check ``token``; return its user and a new session token for the cookie."""
    if not token or len(token) > 200:
        raise AuthenticationError("paste the token you were given (it starts with myd_)")
    principal = state.auth.authenticate({"authorization": f"Bearer {token.strip()}"})
    session, digest = new_token()
    state.store.users.add_token(principal.name, digest, SESSION_LABEL)
    return principal, session


def log_out(request: Request, state: ServerState) -> None:
    session = request.cookies.get(SESSION_COOKIE, "")
    if session and len(session) <= 200:
        state.store.users.revoke_token(hash_token(session))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def set_session(response: Response, request: Request, session: str | None) -> None:
    if session is None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return
    response.set_cookie(
        SESSION_COOKIE, session, max_age=_SESSION_SECONDS, path="/", httponly=True,
        samesite="strict", secure=_secure(request),
    )


def set_csrf_cookie(response: Response, request: Request, who: Visitor) -> None:
    if who.new_csrf_cookie:
        response.set_cookie(
            CSRF_COOKIE, who.new_csrf_cookie, path="/", httponly=True, samesite="strict",
            secure=_secure(request),
        )
