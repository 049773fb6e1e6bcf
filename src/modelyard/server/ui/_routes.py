"""Every page, form and asset of the UI, mounted under /ui by the team server's app factory."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from modelyard.server._state import ServerState
from modelyard.server.ui import (
    _admin,
    _compare,
    _features,
    _models,
    _monitoring,
    _pipelines,
    _run,
    _runs,
)
from modelyard.server.ui._web import PREFIX, Action, Page, Raw, routes

PAGES = [
    Page("login", "/login", "login.html", _admin.login_page, public=True),
    Page("experiments", "/", "experiments.html", _runs.experiments, "experiments"),
    Page("runs", "/experiments/{experiment_id}", "runs.html", _runs.experiment_runs, "experiments",
         partials={"runs-table": "runs_table.html"}),
    Page("series", "/series", "", _runs.series),
    Page("run", "/runs/{run_id}", "run.html", _run.run_page, "experiments"),
    Page("compare", "/compare", "compare.html", _compare.compare, "experiments"),
    Page("models", "/models", "models.html", _models.models, "models"),
    Page("model", "/models/{name}", "model.html", _models.model_page, "models"),
    Page("model_version", "/models/{name}/versions/{version}", "version.html", _models.version_page, "models"),
    Page("features", "/features", "features.html", _features.catalog, "features"),
    Page("monitoring", "/monitoring", "monitoring.html", _monitoring.endpoints, "monitoring"),
    Page("endpoint", "/monitoring/{endpoint}", "endpoint.html", _monitoring.endpoint_page, "monitoring"),
    Page("distributions", "/monitoring/{endpoint}/distributions", "distributions.html",
         _monitoring.distributions, "monitoring"),
    Page("pipelines", "/pipelines", "pipelines.html", _pipelines.pipelines, "pipelines"),
    Page("pipeline_run", "/pipelines/{run_id}", "pipeline_run.html", _pipelines.pipeline_run, "pipelines"),
    Page("admin", "/admin", "admin.html", _admin.users, "admin"),
]

ACTIONS = [
    Action("login", "/login", _admin.login, public=True),
    Action("logout", "/logout", _admin.logout),
    Action("move_alias", "/models/{name}/aliases", _models.move_alias),
    Action("create_user", "/admin/users", _admin.add_user),
    Action("create_token", "/admin/users/{user}/tokens", _admin.add_token),
    Action("revoke_tokens", "/admin/users/{user}/revoke", _admin.revoke_tokens),
    Action("set_role", "/admin/users/{user}/role", _admin.set_role),
    Action("grant", "/admin/users/{user}/grants", _admin.grant),
]

RAWS = [
    Raw("artifact", "/runs/{run_id}/raw", _run.artifact_raw),
    Raw("card", "/models/{name}/versions/{version}/card", _models.card),
]


class _Static(StaticFiles):
    """The package's assets: cached for a day (their URLs carry the version), never sniffed."""

    async def get_response(self, path: str, scope: dict) -> Response:  # type: ignore[override,type-arg]
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = "public, max-age=86400"
        response.headers["x-content-type-options"] = "nosniff"
        return response


def ui_routes(state: ServerState) -> list[BaseRoute]:
    """The UI's routes for the team server (and ``modelyard ui``)."""

    async def home(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    return [
        Route("/", home, methods=["GET"]),
        Route(PREFIX, home, methods=["GET"]),
        Mount(f"{PREFIX}/static", app=_Static(packages=[("modelyard.server.ui", "static")]), name="ui-static"),
        *routes(PAGES, ACTIONS, RAWS, state),
    ]
