"""``modelyard server``: the team server; ``modelyard users``: its users, tokens and grants."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli._common import Json, client
from modelyard.cli._output import console, emit_json, friendly_errors, table

if TYPE_CHECKING:  # imported when a command runs: `--help` stays quick
    from modelyard.store import UserStore

BackendUri = Annotated[
    str | None,
    typer.Option(
        "--backend-store-uri",
        "--tracking-uri",
        "-t",
        envvar="MODELYARD_TRACKING_URI",
        help="Metadata store: a folder, sqlite:///file.db or postgresql://... (default: ./.modelyard); "
        "`users create` also takes a team server's http://host:port (with an admin's MODELYARD_TRACKING_TOKEN).",
        show_default=False,
    ),
]


def server(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all; needs --auth token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    backend_store_uri: BackendUri = None,
    artifacts_destination: Annotated[
        str | None,
        typer.Option(
            envvar="MODELYARD_ARTIFACT_URI",
            help="Where artifacts are kept (a folder or s3://bucket/prefix); clients reach them only through the server.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core is a good start).")] = 1,
    auth: Annotated[str, typer.Option(help="token (users with tokens and roles) or none (loopback only).")] = "token",
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allow browser calls from this origin (repeat); none by default.")
    ] = None,
    max_body_mb: Annotated[int, typer.Option(help="Largest JSON body, in MiB.")] = 32,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Share one store with a team over HTTP: modelyard's REST API (set_tracking_uri("http://HOST:PORT")
    and the same code runs against it), with artifacts proxied to the artifact store, users with
    roles, and OpenAPI at /openapi.json. Stateless: run several behind a load balancer on one
    PostgreSQL and one bucket."""
    try:
        import uvicorn
    except ImportError:
        raise typer.BadParameter("the team server needs: pip install 'modelyard[serve]'") from None
    from modelyard.server import ServerConfig, build_state

    if auth not in ("token", "none"):
        raise typer.BadParameter(f"--auth must be token or none, not {auth[:20]!r}")
    with friendly_errors():
        config = ServerConfig(
            backend_store_uri=backend_store_uri,
            artifacts_destination=artifacts_destination,
            host=host,
            auth=auth,  # type: ignore[arg-type]
            cors_origins=tuple(cors_origin or ()),
            max_body_bytes=max_body_mb << 20,
        )
        state = build_state(config)  # opens (and migrates) the store once, before the workers
        users = state.store.users.count_users()
    os.environ["MODELYARD_SERVER_CONFIG"] = config.model_dump_json()
    note = ""
    if auth == "token" and users == 0:
        note = " — no users yet: create one with `modelyard users create NAME --role admin`"
    console.print(
        f"modelyard server on http://{host}:{port} with {workers} worker{'s' if workers > 1 else ''}, "
        f"auth {auth} (OpenAPI: /openapi.json){note}",
        highlight=False,
    )
    uvicorn.run(
        "modelyard.server._main:app",
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )


users_app = typer.Typer(help="Users of the team server: tokens and roles.", no_args_is_help=True)


def _users(uri: str | None) -> UserStore:
    return client(uri).store.users


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option(help="Global role: viewer, editor or admin.")] = "viewer",
    tracking_uri: BackendUri = None,
    json: Json = False,
) -> None:
    """Create a user and print their token (shown once; only its SHA-256 is stored)."""
    from modelyard.server.auth import create_user
    from modelyard.store._remote import HttpStore

    with friendly_errors():
        store = client(tracking_uri).store
        if isinstance(store, HttpStore):  # a team server's URL: through its API, with an admin's token
            made = store.create_user(name, role)
            user_name, user_role, token = made.user, made.role, made.token
        else:
            user, token = create_user(_users(tracking_uri), name, role)
            user_name, user_role = user.name, user.role
    if json:
        emit_json({"user": user_name, "role": user_role, "token": token})
        return
    console.print(f"user [bold]{user_name}[/] ({user_role}); token (shown once): [bold]{token}[/]", highlight=False)
    console.print("clients: export MODELYARD_TRACKING_TOKEN=<token> (MLflow clients: MLFLOW_TRACKING_TOKEN)")


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="User name.")],
    tracking_uri: BackendUri = None,
    json: Json = False,
) -> None:
    """Give a user another token (shown once)."""
    from modelyard.server.auth import new_user_token

    with friendly_errors():
        token = new_user_token(_users(tracking_uri), name)
    if json:
        emit_json({"user": name, "token": token})
        return
    console.print(f"token for [bold]{name}[/] (shown once): [bold]{token}[/]", highlight=False)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="User name.")], tracking_uri: BackendUri = None) -> None:
    """Revoke every token of a user (servers notice within their token cache time, 10 s)."""
    with friendly_errors():
        count = _users(tracking_uri).revoke_tokens(name)
    console.print(f"revoked {count} token{'s' if count != 1 else ''} of {name}", highlight=False)


@users_app.command("role")
def users_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="viewer, editor or admin.")],
    tracking_uri: BackendUri = None,
) -> None:
    """Change a user's global role."""
    with friendly_errors():
        _users(tracking_uri).set_role(name, role)
    console.print(f"{name} is now {role}", highlight=False)


@users_app.command("grant")
def users_grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    kind: Annotated[str, typer.Argument(help="experiment or model.")],
    resource: Annotated[str, typer.Argument(help="Experiment id or registered model name.")],
    role: Annotated[str, typer.Argument(help="viewer, editor, admin, or none (shut out).")],
    tracking_uri: BackendUri = None,
) -> None:
    """Give a user a role on one experiment or model, in place of their global role there."""
    with friendly_errors():
        _users(tracking_uri).set_permission(name, kind, resource, role)
    console.print(f"{name} is {role} on {kind} {resource}", highlight=False)


@users_app.command("list")
def users_list(tracking_uri: BackendUri = None, json: Json = False) -> None:
    """Users, their global roles and their grants."""
    with friendly_errors():
        store = _users(tracking_uri)
        rows = [
            (u, {f"{k}:{r}": role for (k, r), role in store.permissions_of(u.name).items()})
            for u in store.list_users()
        ]
    if json:
        emit_json([{"name": u.name, "role": u.role, "permissions": p} for u, p in rows])
        return
    table("users", ["name", "role", "grants"], [[u.name, u.role, ", ".join(f"{k}={v}" for k, v in p.items())] for u, p in rows])

