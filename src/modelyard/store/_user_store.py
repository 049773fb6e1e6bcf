"""Users of the team server: a global role, hashed API tokens, roles per experiment and per
registered model, and the audit of every write the server accepted or refused.

Tokens are never stored: only their SHA-256 (see ``modelyard.http.hash_token``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy import exc as sa_exc

from modelyard.core.errors import ConflictError, NotFoundError, ValidationError
from modelyard.core.ids import now_ms
from modelyard.store._engine import Engines
from modelyard.store._errors import translated
from modelyard.store._requests import forget_before
from modelyard.store._schema import (
    artifacts,
    model_versions,
    permissions,
    runs,
    user_tokens,
    users,
    write_audit,
)

ROLES = ("viewer", "editor", "admin")
RESOURCE_KINDS = ("experiment", "model")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class AuditedWrite:
    at: int
    actor: str
    operation: str
    target: str
    status: int


def check_role(role: str, *, allow_none: bool = False) -> str:
    allowed = (*ROLES, "none") if allow_none else ROLES
    if role not in allowed:
        raise ValidationError(f"role {role[:32]!r} is not one of {list(allowed)}")
    return role


def _check_kind(kind: str) -> str:
    if kind not in RESOURCE_KINDS:
        raise ValidationError(f"resource kind {kind[:32]!r} is not one of {list(RESOURCE_KINDS)}")
    return kind


class UserStore:
    """Users, tokens, permissions and the write audit, in the metadata database."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.where = engines.where

    # -- users and tokens --------------------------------------------------------------

    def create_user(self, name: str, role: str, token_hash: str, label: str = "created") -> User:
        check_role(role)
        now = now_ms()
        try:
            with translated(self.where), self._engines.write.begin() as conn:
                conn.execute(
                    insert(users).values(name=name, role=role, created_time=now, disabled=False)
                )
                conn.execute(
                    insert(user_tokens).values(
                        token_hash=token_hash, user_name=name, label=label, created_time=now
                    )
                )
        except sa_exc.IntegrityError as error:
            raise ConflictError(
                f"user {name[:64]!r} already exists; give them another token with "
                "`modelyard users token NAME`"
            ) from error
        return User(name, role)

    def add_token(self, name: str, token_hash: str, label: str = "token") -> None:
        self.get_user(name)
        with translated(self.where), self._engines.write.begin() as conn:
            conn.execute(
                insert(user_tokens).values(
                    token_hash=token_hash, user_name=name, label=label, created_time=now_ms()
                )
            )

    def revoke_tokens(self, name: str) -> int:
        with translated(self.where), self._engines.write.begin() as conn:
            return int(
                conn.execute(delete(user_tokens).where(user_tokens.c.user_name == name)).rowcount
                or 0
            )

    def revoke_token(self, token_hash: str) -> bool:
        """Delete one token (a web session's at logout); True if it existed."""
        with translated(self.where), self._engines.write.begin() as conn:
            result = conn.execute(delete(user_tokens).where(user_tokens.c.token_hash == token_hash))
        return bool(result.rowcount)

    def tokens_of(self, name: str) -> list[tuple[str, int]]:
        """A user's tokens as (label, created time), oldest first; never the hashes."""
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(
                select(user_tokens.c.label, user_tokens.c.created_time)
                .where(user_tokens.c.user_name == name)
                .order_by(user_tokens.c.created_time)
            ).all()
        return [(str(r.label), int(r.created_time)) for r in rows]

    def user_for_token(self, token_hash: str) -> User | None:
        query = (
            select(users.c.name, users.c.role, users.c.disabled)
            .select_from(users.join(user_tokens, user_tokens.c.user_name == users.c.name))
            .where(user_tokens.c.token_hash == token_hash)
        )
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.disabled:
            return None
        return User(row.name, row.role)

    def get_user(self, name: str) -> User:
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"user {name[:64]!r} does not exist")
        return User(row.name, row.role, bool(row.disabled))

    def list_users(self) -> list[User]:
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
        return [User(r.name, r.role, bool(r.disabled)) for r in rows]

    def set_role(self, name: str, role: str) -> None:
        check_role(role)
        with translated(self.where), self._engines.write.begin() as conn:
            done = conn.execute(update(users).where(users.c.name == name).values(role=role))
        if not done.rowcount:
            raise NotFoundError(f"user {name[:64]!r} does not exist")

    def count_users(self) -> int:
        with translated(self.where), self._engines.read.connect() as conn:
            return len(conn.execute(select(users.c.name)).all())

    # -- permissions -------------------------------------------------------------------

    def set_permission(self, name: str, kind: str, resource_id: str, role: str | None) -> None:
        """Give ``name`` ``role`` on one experiment or model, in place of their global role
        there (``none`` shuts them out of it); ``None`` removes the grant."""
        _check_kind(kind)
        if role is not None:
            check_role(role, allow_none=True)
        self.get_user(name)
        with translated(self.where), self._engines.write.begin() as conn:
            conn.execute(
                delete(permissions).where(
                    permissions.c.user_name == name,
                    permissions.c.resource_kind == kind,
                    permissions.c.resource_id == resource_id,
                )
            )
            if role is not None:
                conn.execute(
                    insert(permissions).values(
                        user_name=name, resource_kind=kind, resource_id=resource_id, role=role
                    )
                )

    def permissions_of(self, name: str) -> dict[tuple[str, str], str]:
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(select(permissions).where(permissions.c.user_name == name)).all()
        return {(r.resource_kind, r.resource_id): r.role for r in rows}

    def role_on(self, name: str, kind: str, resource_id: str) -> str | None:
        with translated(self.where), self._engines.read.connect() as conn:
            role = conn.execute(
                select(permissions.c.role).where(
                    permissions.c.user_name == name,
                    permissions.c.resource_kind == kind,
                    permissions.c.resource_id == resource_id,
                )
            ).scalar()
        return None if role is None else str(role)

    # -- what a resource belongs to ----------------------------------------------------

    def experiment_of_run(self, run_id: str) -> str | None:
        with translated(self.where), self._engines.read.connect() as conn:
            found = conn.execute(
                select(runs.c.experiment_id).where(runs.c.run_id == run_id)
            ).scalar()
        return None if found is None else str(found)

    def owners_of_blob(self, digest: str) -> tuple[set[str], set[str]]:
        """The experiments (through run artifacts) and models (through version files) that
        hold the blob ``digest``."""
        with translated(self.where), self._engines.read.connect() as conn:
            experiments = {
                str(e)
                for e in conn.execute(
                    select(runs.c.experiment_id)
                    .select_from(artifacts.join(runs, runs.c.run_id == artifacts.c.run_id))
                    .where(artifacts.c.digest == digest)
                    .distinct()
                ).scalars()
            }
            models = {
                str(m)
                for m in conn.execute(
                    select(model_versions.c.name)
                    .where(model_versions.c.files.contains(digest, autoescape=True))
                    .distinct()
                ).scalars()
            }
        return experiments, models

    # -- audit -------------------------------------------------------------------------

    def record_writes(self, entries: Sequence[AuditedWrite]) -> None:
        if not entries:
            return
        with translated(self.where), self._engines.write.begin() as conn:
            conn.execute(
                insert(write_audit),
                [
                    {
                        "at": e.at,
                        "actor": e.actor[:256],
                        "operation": e.operation[:64],
                        "target": e.target[:512],
                        "status": e.status,
                    }
                    for e in entries
                ],
            )

    def writes(self, actor: str | None = None, limit: int = 1000) -> list[AuditedWrite]:
        query = select(write_audit).order_by(write_audit.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(write_audit.c.actor == actor)
        with translated(self.where), self._engines.read.connect() as conn:
            return [
                AuditedWrite(r.at, r.actor, r.operation, r.target, r.status)
                for r in conn.execute(query)
            ]

    # -- retried-write bookkeeping -----------------------------------------------------

    def forget_requests_before(self, at_ms: int) -> int:
        """Drop remembered request ids older than ``at_ms`` (see store._requests)."""
        with translated(self.where), self._engines.write.begin() as conn:
            return forget_before(conn, at_ms)
