"""The UI's plumbing: a page is a loader and a template. The loader's dict is the page's
data, and it is also the page's JSON twin (the same URL with ``.json``), so what the page
shows and what scripts read cannot drift apart, and every page is testable without a browser.

A request: who is it (session cookie, bearer token, or the local user with auth off) → the
loader in a worker thread (it reads the store) → HTML from the template, or JSON. A form
(POST): who → CSRF check → the action (which checks the role it needs) → a redirect.
A client's mistake is a 4xx page naming what was wrong; nothing of the input is echoed.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from modelyard import __version__
from modelyard.core.errors import ValidationError
from modelyard.http import STATUS, read_body
from modelyard.server._state import Principal, ServerState
from modelyard.server.ui._format import FILTERS
from modelyard.server.ui._session import (
    LoginNeeded,
    Visitor,
    anonymous,
    check_csrf,
    set_csrf_cookie,
    visitor,
)

log = logging.getLogger("modelyard.server")

PREFIX = "/ui"
_MAX_FORM = 64 * 1024
_MAX_PARAM = 2000

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("modelyard.server.ui", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(FILTERS)
ENV.globals.update(prefix=PREFIX, app_version=__version__)


@dataclass
class View:
    """What a loader or an action sees: the request's parameters, who asks, the services."""

    request: Request
    state: ServerState
    who: Visitor
    path: Mapping[str, str]
    query: QueryParams
    form: dict[str, str] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        return self.who.principal

    @property
    def auth_on(self) -> bool:
        return self.state.config.auth == "token"

    def param(self, name: str, default: str = "") -> str:
        value = self.query.get(name, default)
        if len(value) > _MAX_PARAM:
            raise ValidationError(f"query parameter {name!r} is longer than {_MAX_PARAM} characters")
        return value

    def params(self, name: str) -> list[str]:
        return [v[:_MAX_PARAM] for v in self.query.getlist(name)][:200]

    def int_param(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
            raise ValidationError(f"query parameter {name!r} must be a whole number from {low} to {high}")
        return int(raw)

    def can(self, level: str, kind: str, resource_id: str) -> bool:
        return self.state.auth.can(self.principal, level, kind, resource_id)

    def require(self, level: str, kind: str, resource_id: str) -> None:
        self.state.auth.require(self.principal, level, kind, resource_id)

    def field(self, name: str, *, required: bool = True, limit: int = 500) -> str:
        value = self.form.get(name, "").strip()
        if required and not value:
            raise ValidationError(f"form field {name!r} is empty; fill it in")
        if len(value) > limit:
            raise ValidationError(f"form field {name!r} is longer than {limit} characters")
        return value


Loader = Callable[[View], dict[str, Any]]
ActionFn = Callable[[View], str | Response]  # where to go next (a path), or an answer


@dataclass(frozen=True)
class Page:
    """A GET page at ``path`` (under /ui) and its twin at ``path + '.json'``."""

    name: str
    path: str
    template: str
    load: Loader
    nav: str = ""
    public: bool = False  # shown without a session (the login form)
    partials: Mapping[str, str] = field(default_factory=dict)  # htmx target id -> template


@dataclass(frozen=True)
class Action:
    """A POST form at ``path``: CSRF-checked, then ``run`` (which checks roles itself)."""

    name: str
    path: str
    run: ActionFn
    public: bool = False


@dataclass(frozen=True)
class Raw:
    """A GET answer that is not a page (an artifact's bytes)."""

    name: str
    path: str
    run: Callable[[View], Response]


def _status_of(error: Exception) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _message(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 400 else text[:400] + "…"


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
    )


def render(template: str, context: Mapping[str, Any], status: int = 200) -> HTMLResponse:
    return HTMLResponse(ENV.get_template(template).render(**context), status_code=status)


def _base_context(view: View | None, nav: str) -> dict[str, Any]:
    who = view.who if view is not None else None
    return {
        "nav": nav,
        "user": who.principal.name if who and who.principal.name else None,
        "role": who.principal.role if who else None,
        "auth_on": bool(view and view.auth_on),
        "csrf": who.csrf if who else "",
        "request_path": view.request.url.path if view else "",
        "query_string": view.request.url.query if view else "",
        "query_ms": None,
        "json_url": None,
    }


def page_response(view: View, template: str, data: Mapping[str, Any], nav: str, status: int = 200) -> Response:
    """A page rendered outside the GET flow (a form that answers with the page itself)."""
    context = _base_context(view, nav)
    context.update(data, query_ms=None, json_url=None)
    return render(template, context, status)


def error_page(request: Request, error: Exception, view: View | None, as_json: bool) -> Response:
    status = _status_of(error)
    if status >= 500:
        log.error("UI request failed", exc_info=error)
        message = "the server failed; see its log"
    else:
        message = _message(error)
    if as_json:
        return _json({"error": {"type": type(error).__name__, "message": message}}, status)
    context = _base_context(view, "")
    context.update(status=status, kind=type(error).__name__, message=message, title=f"{status}")
    return render("error.html", context, status)


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?next={urllib.parse.quote(target[:1000])}", status_code=303)


def _page_endpoint(page: Page, state: ServerState, as_json: bool) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        view: View | None = None
        try:
            who = anonymous(request) if page.public else await run_in_threadpool(visitor, request, state)
            view = View(request, state, who, dict(request.path_params), request.query_params)
            started = time.perf_counter()
            data = await run_in_threadpool(page.load, view)
            query_ms = (time.perf_counter() - started) * 1000
            if as_json:
                response = _json({**data, "query_ms": round(query_ms, 1)})
            else:
                target = request.headers.get("hx-target", "")
                template = page.partials.get(target, page.template) if request.headers.get("hx-request") else page.template
                context = _base_context(view, page.nav)
                context.update(data, query_ms=query_ms, json_url=_json_url(request))
                response = render(template, context)
            set_csrf_cookie(response, request, who)
            return response
        except LoginNeeded:
            if as_json:
                return _json({"error": {"type": "AuthenticationError", "message": "log in, or send 'Authorization: Bearer <token>'"}}, 401)
            return _login_redirect(request)
        except Exception as error:
            return error_page(request, error, view, as_json)

    return run


def _json_url(request: Request) -> str:
    path = request.url.path.rstrip("/") or PREFIX
    if path == PREFIX:
        path = f"{PREFIX}/index"
    return path + ".json" + (f"?{request.url.query}" if request.url.query else "")


async def read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ValidationError("send the form as application/x-www-form-urlencoded")
    raw = await read_body(request, _MAX_FORM)
    try:
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("the form is not valid URL-encoded UTF-8") from None
    return dict(pairs)


def _action_endpoint(action: Action, state: ServerState) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        view: View | None = None
        who: Visitor | None = None
        response: Response
        try:
            who = anonymous(request) if action.public else await run_in_threadpool(visitor, request, state)
            form = await read_form(request)
            check_csrf(request, who, form)
            view = View(request, state, who, dict(request.path_params), request.query_params, form)
            target = await run_in_threadpool(action.run, view)
            response = target if isinstance(target, Response) else RedirectResponse(target, status_code=303)
        except LoginNeeded:
            response = _login_redirect(request)
        except Exception as error:
            response = error_page(request, error, view, False)
        if who is not None and who.principal.name:
            target_text = ",".join(f"{k}={str(v)[:120]}" for k, v in request.path_params.items())
            state.audit.add(who.principal.name, f"ui:{action.name}", target_text or action.path, response.status_code)
        return response

    return run


def _raw_endpoint(raw: Raw, state: ServerState) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            who = await run_in_threadpool(visitor, request, state)
            view = View(request, state, who, dict(request.path_params), request.query_params)
            return await run_in_threadpool(raw.run, view)
        except LoginNeeded:
            return _json({"error": {"type": "AuthenticationError", "message": "log in first"}}, 401)
        except Exception as error:
            return error_page(request, error, None, True)

    return run


def routes(
    pages: list[Page], actions: list[Action], raws: list[Raw], state: ServerState
) -> list[BaseRoute]:
    """Each page's twin route first (a path parameter would otherwise take the ``.json``);
    a page without a template is only JSON (the data behind a chart)."""
    out: list[BaseRoute] = [
        Route(f"{PREFIX}{raw.path}", _raw_endpoint(raw, state), methods=["GET"], name=f"ui:{raw.name}")
        for raw in raws
    ]
    for page in pages:
        path = f"{PREFIX}{page.path}"
        twin = f"{PREFIX}/index.json" if page.path in ("", "/") else f"{path}.json"
        out.append(Route(twin, _page_endpoint(page, state, True), methods=["GET"], name=f"ui:{page.name}.json"))
    for page in [p for p in pages if p.template]:
        path = f"{PREFIX}{page.path}" if page.path not in ("", "/") else f"{PREFIX}/"
        out.append(Route(path, _page_endpoint(page, state, False), methods=["GET"], name=f"ui:{page.name}"))
    for action in actions:
        out.append(Route(f"{PREFIX}{action.path}", _action_endpoint(action, state), methods=["POST"], name=f"ui:{action.name}"))
    return out
