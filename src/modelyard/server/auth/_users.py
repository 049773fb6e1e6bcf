"""Making users and tokens: the token is returned once, only its hash is kept."""

from __future__ import annotations

from modelyard.core.errors import ValidationError
from modelyard.core.wire import CreateUser
from modelyard.http import hash_token, new_token
from modelyard.store import User, UserStore


def create_user(users: UserStore, name: str, role: str) -> tuple[User, str]:
    """A new user with ``role`` and their first token (shown once)."""
    try:
        CreateUser(name=name, role=role)
    except Exception:
        raise ValidationError(
            f"user name must be 1-256 letters, digits or . _ @ - and role one of viewer, editor, "
            f"admin (got role {role[:16]!r})"
        ) from None
    token, digest = new_token()
    return users.create_user(name, role, digest), token


def new_user_token(users: UserStore, name: str, label: str = "token") -> str:
    """Another token for an existing user (shown once)."""
    token, digest = new_token()
    users.add_token(name, digest, label)
    return token


__all__ = ["create_user", "hash_token", "new_user_token"]
