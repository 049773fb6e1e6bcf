"""Native REST: users, tokens and permissions (admins only), and ``whoami`` for everyone."""

from __future__ import annotations

from modelyard.core.wire import CreateUser, Permission, Token, UserList, UserOut, Whoami
from modelyard.server._operations import Access, Call, Operation
from modelyard.server.auth import create_user as make_user
from modelyard.server.auth import new_user_token

API = "/api/v1"
_ADMIN = Access("admin")


def _out(call: Call, name: str) -> UserOut:
    users = call.state.store.users
    user = users.get_user(name)
    grants = {f"{kind}:{rid}": role for (kind, rid), role in users.permissions_of(name).items()}
    return UserOut(name=user.name, role=user.role, permissions=grants)


def whoami(call: Call) -> Whoami:
    return Whoami(name=call.principal.name, role=call.principal.role)


def create_user(call: Call) -> Token:
    body: CreateUser = call.body
    user, token = make_user(call.state.store.users, body.name, body.role)
    return Token(user=user.name, role=user.role, token=token)


def list_users(call: Call) -> UserList:
    return UserList(users=[_out(call, u.name) for u in call.state.store.users.list_users()])


def new_token(call: Call) -> Token:
    user = call.state.store.users.get_user(call.path["user"])
    return Token(user=user.name, role=user.role, token=new_user_token(call.state.store.users, user.name))


def set_role(call: Call) -> UserOut:
    body: Permission = call.body
    call.state.store.users.set_role(call.path["user"], body.role)
    return _out(call, call.path["user"])


def grant(call: Call) -> UserOut:
    body: Permission = call.body
    call.state.store.users.set_permission(
        call.path["user"], call.path["kind"], call.path["resource"], body.role
    )
    return _out(call, call.path["user"])


def revoke(call: Call) -> UserOut:
    call.state.store.users.set_permission(
        call.path["user"], call.path["kind"], call.path["resource"], None
    )
    return _out(call, call.path["user"])


OPERATIONS = [
    Operation("whoami", "GET", f"{API}/whoami", "The user a token belongs to, and their global role",
              whoami, None, Whoami, tag="users"),
    Operation("create_user", "POST", f"{API}/users", "Create a user; the answer shows their token once",
              create_user, CreateUser, Token, _ADMIN, tag="users"),
    Operation("list_users", "GET", f"{API}/users", "Users, roles and grants", list_users, None, UserList,
              _ADMIN, tag="users"),
    Operation("create_token", "POST", f"{API}/users/{{user}}/tokens", "Another token for a user (shown once)",
              new_token, None, Token, _ADMIN, tag="users"),
    Operation("set_user_role", "PUT", f"{API}/users/{{user}}/role", "Change a user's global role",
              set_role, Permission, UserOut, _ADMIN, tag="users"),
    Operation("grant_permission", "PUT", f"{API}/users/{{user}}/permissions/{{kind}}/{{resource}}",
              "Give a user a role on one experiment or model (none: shut out)",
              grant, Permission, UserOut, _ADMIN, tag="users"),
    Operation("revoke_permission", "DELETE", f"{API}/users/{{user}}/permissions/{{kind}}/{{resource}}",
              "Remove a user's grant (their global role applies again)", revoke, None, UserOut, _ADMIN,
              tag="users"),
]
