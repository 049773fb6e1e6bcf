"""Who is asking, and may they: bearer tokens to users, roles to operations.

A user's role on an experiment or a registered model is their grant there if they have one
(``none`` shuts them out), else their global role; a global admin is admin everywhere.
Token lookups are cached for ``token_cache_seconds`` (a revoked token may pass that long);
which experiment a run belongs to never changes and is cached for good.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.core.errors import AuthenticationError, PermissionDeniedError
from modelyard.http import hash_token
from modelyard.server._state import Principal
from modelyard.store import UserStore

if TYPE_CHECKING:
    from modelyard.server._operations import Operation

_RANK = {"none": 0, "viewer": 1, "editor": 2, "admin": 3}
_NEEDS = {"read": "viewer", "edit": "editor", "admin": "admin"}
_CACHE_SIZE = 10_000


def role_at_least(role: str, needed: str) -> bool:
    return _RANK.get(role, 0) >= _RANK[needed]


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal | None
    until: float


class Authorizer:
    """``--auth token``: every request needs ``Authorization: Bearer <token>`` (or HTTP basic
    with the token as password, as MLflow clients send it)."""

    def __init__(
        self,
        users: UserStore,
        *,
        enabled: bool = True,
        cache_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = users
        self.enabled = enabled
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, _Entry] = OrderedDict()
        self._run_experiment: OrderedDict[str, str] = OrderedDict()

    # -- who ------------------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        if not self.enabled:
            user = headers.get("x-modelyard-user", "")[:256] or "anonymous"
            return Principal(user, "admin", authenticated=False)
        token = _token_of(headers.get("authorization", ""))
        if token is None:
            raise AuthenticationError(
                "this server needs a token: send 'Authorization: Bearer <token>' (set "
                "MODELYARD_TRACKING_TOKEN, or MLFLOW_TRACKING_TOKEN for MLflow clients); an admin "
                "makes one with `modelyard users create NAME --role ROLE`"
            )
        entry = self._entry(hash_token(token))
        if entry.principal is None:
            raise AuthenticationError("the token is unknown or revoked; ask an admin for a new one")
        return entry.principal

    def _entry(self, digest: str) -> _Entry:
        now = self._clock()
        with self._lock:
            entry = self._tokens.get(digest)
            if entry is not None and entry.until > now:
                return entry
        user = self._users.user_for_token(digest)
        principal = (
            None
            if user is None
            else Principal(user.name, user.role, grants=self._users.permissions_of(user.name))
        )
        entry = _Entry(principal, now + self._cache_seconds)
        with self._lock:
            self._tokens[digest] = entry
            self._tokens.move_to_end(digest)
            while len(self._tokens) > _CACHE_SIZE:
                self._tokens.popitem(last=False)
        return entry

    def _grants(self, principal: Principal) -> dict[tuple[str, str], str]:
        return principal.grants

    # -- may they -------------------------------------------------------------------------

    def role_on(self, principal: Principal, kind: str, resource_id: str | None) -> str:
        if principal.role == "admin" or kind == "global" or resource_id is None:
            return principal.role
        return self._grants(principal).get((kind, resource_id), principal.role)

    def can(self, principal: Principal, level: str, kind: str, resource_id: str) -> bool:
        if not self.enabled:
            return True
        return role_at_least(self.role_on(principal, kind, resource_id), _NEEDS[level])

    def require(self, principal: Principal, level: str, kind: str, resource_id: str) -> None:
        if not self.can(principal, level, kind, resource_id):
            raise PermissionDeniedError(
                f"user {principal.name[:64]!r} needs the role {_NEEDS[level]!r} on {kind} "
                f"{resource_id[:128]!r} for this; their role there is "
                f"{self.role_on(principal, kind, resource_id)!r}. An admin can grant it with "
                f"`modelyard users grant {principal.name[:64]} {kind} {resource_id[:64]} {_NEEDS[level]}`"
            )

    def authorize(self, principal: Principal, op: Operation, params: Mapping[str, str]) -> None:
        """Refuse before the body is read: the resource comes from the path alone."""
        if not self.enabled:
            return
        access = op.access
        needed = _NEEDS[access.level]
        if access.level == "admin" or access.resource in ("global", "somewhere"):
            if access.resource == "somewhere" and access.level == "edit" and self._edits_somewhere(principal):
                return
            if not role_at_least(principal.role, needed):
                raise PermissionDeniedError(
                    f"{op.name} needs the global role {needed!r}; user {principal.name[:64]!r} "
                    f"is {principal.role!r}"
                )
            return
        value = params.get(access.param, "")
        if access.resource == "run":
            experiment = self._experiment_of_run(value)
            if experiment is None:
                if not role_at_least(principal.role, needed):
                    raise PermissionDeniedError(
                        f"{op.name} needs the role {needed!r}; user {principal.name[:64]!r} is {principal.role!r}"
                    )
                return  # the handler answers 404
            self.require(principal, access.level, "experiment", experiment)
        elif access.resource == "blob":
            self._require_blob(principal, value)
        else:
            self.require(principal, access.level, access.resource, value)

    def _edits_somewhere(self, principal: Principal) -> bool:
        """Creating an experiment or a model and uploading bytes need editor somewhere:
        globally or on one experiment or model (the new thing is theirs to fill)."""
        return role_at_least(principal.role, "editor") or any(
            role_at_least(r, "editor") for r in self._grants(principal).values()
        )

    def _require_blob(self, principal: Principal, digest: str) -> None:
        grants = self._grants(principal)
        if role_at_least(principal.role, "viewer") and not any(r == "none" for r in grants.values()):
            return
        experiments, models = self._users.owners_of_blob(digest)
        readable = any(self.can(principal, "read", "experiment", e) for e in experiments) or any(
            self.can(principal, "read", "model", m) for m in models
        )
        if not readable:
            raise PermissionDeniedError(
                f"user {principal.name[:64]!r} may read no run or model that holds this blob"
            )

    def _experiment_of_run(self, run_id: str) -> str | None:
        with self._lock:
            found = self._run_experiment.get(run_id)
        if found is not None:
            return found
        found = self._users.experiment_of_run(run_id)
        if found is not None:
            with self._lock:
                self._run_experiment[run_id] = found
                while len(self._run_experiment) > _CACHE_SIZE:
                    self._run_experiment.popitem(last=False)
        return found


def _token_of(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    return None
