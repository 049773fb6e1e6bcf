"""The model registry's tables: versions numbered gap-free, aliases moved atomically, and an
audit entry written in the same transaction as every change it describes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy import exc as sa_exc

from modelyard.core.entities import PagedList
from modelyard.core.errors import InvalidStateError, NotFoundError, ValidationError
from modelyard.core.ids import now_ms
from modelyard.core.models import (
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    RiskCategory,
    VersionState,
)
from modelyard.core.search_filter import (
    MODEL_VERSION_FIELDS,
    REGISTERED_MODEL_FIELDS,
    parse_filter,
    parse_order_by,
)
from modelyard.core.validation import check_key, tag_value
from modelyard.store._engine import Engines
from modelyard.store._errors import translated
from modelyard.store._registry_search import models_target, versions_target
from modelyard.store._requests import claim, settle
from modelyard.store._schema import model_aliases, model_versions, registered_models, registry_audit
from modelyard.store._search import check_max_results, decode_page_token, encode_page_token


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def checked_tags(tags: Mapping[str, object] | None) -> dict[str, str]:
    """Tags checked like run tags: keys of letters, digits, ``_ - . / :`` and spaces, values
    stored as text of at most 8000 characters."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise ValidationError(f"tags must be a dict of key to value, got {type(tags).__name__}")
    return {check_key(k, "tag key"): tag_value(k, v) for k, v in tags.items()}


class RegistryStore:
    """Registered models, their versions, aliases and audit log, in the metadata database."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.where = engines.where

    # -- helpers -----------------------------------------------------------------------

    def _lock_model(self, conn: Connection, name: str) -> Any:
        query = select(registered_models).where(registered_models.c.name == name)
        if self._engines.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"registered model {name!r} does not exist")
        return row

    def _locked_state(self, conn: Connection, name: str, version: int) -> str:
        """Lock the model (queueing other writers) and return the version's state."""
        self._lock_model(conn, name)
        state = conn.execute(
            select(model_versions.c.state).where(
                model_versions.c.name == name, model_versions.c.version == version
            )
        ).scalar()
        if state is None:
            raise NotFoundError(f"model {name!r} has no version {version}")
        return str(state)

    def _audit(
        self,
        conn: Connection,
        name: str,
        action: str,
        actor: str,
        reason: str = "",
        *,
        version: int | None = None,
        alias: str | None = None,
        from_version: int | None = None,
        to_version: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            insert(registry_audit).values(
                name=name,
                version=version,
                action=action,
                alias=alias,
                from_version=from_version,
                to_version=to_version,
                actor=actor,
                reason=reason,
                details=_dumps(details or {}),
                at=now_ms(),
            )
        )

    def _aliases(self, conn: Connection, name: str) -> dict[str, int]:
        rows = conn.execute(
            select(model_aliases.c.alias, model_aliases.c.version).where(
                model_aliases.c.name == name
            )
        )
        return {r.alias: r.version for r in rows}

    def _aliases_of(self, conn: Connection, names: Sequence[str]) -> dict[str, dict[str, int]]:
        """The aliases of each of ``names``, in one query."""
        aliases: dict[str, dict[str, int]] = {name: {} for name in names}
        if names:
            for a in conn.execute(
                select(model_aliases.c.name, model_aliases.c.alias, model_aliases.c.version).where(
                    model_aliases.c.name.in_(sorted(set(names)))
                )
            ):
                aliases[a.name][a.alias] = a.version
        return aliases

    def _models(self, conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        """Registered models from their rows, with aliases and latest versions in two queries."""
        names = [row.name for row in rows]
        if not names:
            return []
        aliases = self._aliases_of(conn, names)
        latest = {
            row_name: int(number)
            for row_name, number in conn.execute(
                select(model_versions.c.name, func.max(model_versions.c.version))
                .where(
                    model_versions.c.name.in_(names),
                    model_versions.c.state != VersionState.DELETED.value,
                )
                .group_by(model_versions.c.name)
            )
        }
        return [
            RegisteredModel(
                name=row.name,
                description=row.description,
                owner=row.owner,
                risk_category=RiskCategory(row.risk_category),
                tags=orjson.loads(row.tags),
                aliases=aliases[row.name],
                latest_version=latest.get(row.name),
                creation_time=row.creation_time,
                last_updated_time=row.last_updated_time,
                gate=orjson.loads(row.gate) if row.gate else None,
            )
            for row in rows
        ]

    def _version(self, row: Any, aliases: dict[str, int]) -> ModelVersion:
        return ModelVersion(
            name=row.name,
            version=row.version,
            state=VersionState(row.state),
            source=row.source,
            run_id=row.run_id,
            flavor=row.flavor,
            manifest_digest=row.manifest_digest,
            files={k: (v[0], v[1]) for k, v in orjson.loads(row.files).items()},
            signature=orjson.loads(row.signature) if row.signature else None,
            metrics={  # NaN is stored as JSON null
                k: math.nan if v is None else v for k, v in orjson.loads(row.metrics).items()
            },
            params=orjson.loads(row.params),
            tags=orjson.loads(row.tags),
            description=row.description,
            owner=row.owner,
            lineage=orjson.loads(row.lineage),
            risk_category=RiskCategory(row.risk_category),
            card=orjson.loads(row.card),
            approvals=orjson.loads(row.approvals),
            evaluation=orjson.loads(row.evaluation),
            aliases=sorted(a for a, v in aliases.items() if v == row.version),
            creation_time=row.creation_time,
            last_updated_time=row.last_updated_time,
        )

    # -- registered models -------------------------------------------------------------

    def ensure_model(
        self,
        name: str,
        *,
        description: str = "",
        owner: str = "",
        risk_category: RiskCategory = RiskCategory.MINIMAL,
        tags: dict[str, str] | None = None,
        actor: str = "",
    ) -> bool:
        """Create the registered model unless it exists; True when it was created."""
        tags_json = _dumps(checked_tags(tags))
        now = now_ms()
        try:
            with translated(self.where), self._engines.write.begin() as conn:
                claimed = claim(conn, self._engines.dialect)
                if not claimed.fresh:
                    return claimed.result == "created"  # a retry: answer as the first attempt did
                if conn.execute(
                    select(registered_models.c.name).where(registered_models.c.name == name)
                ).first():
                    return False
                conn.execute(
                    insert(registered_models).values(
                        name=name,
                        description=description,
                        owner=owner,
                        risk_category=risk_category.value,
                        tags=tags_json,
                        gate=None,
                        creation_time=now,
                        last_updated_time=now,
                    )
                )
                self._audit(conn, name, "create_model", actor)
                settle(conn, "created")
                return True
        except sa_exc.IntegrityError:
            return False  # created by another process at the same moment

    def get_model(self, name: str) -> RegisteredModel:
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(
                select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise NotFoundError(f"registered model {name!r} does not exist")
            return self._models(conn, [row])[0]

    def search_models(
        self,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList:
        """Registered models matching ``filter_string`` (``name``, ``tags.<key>`` ...), by
        name unless ``order_by`` says otherwise; ``.token`` on the result fetches the next page."""
        target = models_target(self._engines.dialect)
        where = target.where(parse_filter(filter_string, REGISTERED_MODEL_FIELDS))
        order = parse_order_by(order_by, REGISTERED_MODEL_FIELDS)
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        query = select(registered_models)
        if where is not None:
            query = query.where(where)
        query = target.order(query, order, [registered_models.c.name.asc()])
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(query.limit(max_results + 1).offset(offset)).all()
            found = self._models(conn, rows[:max_results])
        more = len(rows) > max_results
        return PagedList(found, encode_page_token(offset + max_results) if more else None)

    def update_model(self, name: str, actor: str, **values: Any) -> None:
        if "tags" in values:
            values["tags"] = _dumps(checked_tags(values["tags"]))
        if "gate" in values:
            values["gate"] = None if values["gate"] is None else _dumps(values["gate"])
        if "risk_category" in values:
            values["risk_category"] = RiskCategory(values["risk_category"]).value
        with translated(self.where), self._engines.write.begin() as conn:
            self._lock_model(conn, name)
            conn.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_updated_time=now_ms(), **values)
            )
            self._audit(conn, name, "update_model", actor, details={"fields": sorted(values)})

    # -- versions ----------------------------------------------------------------------

    def create_version(self, name: str, *, actor: str, **fields: Any) -> ModelVersion:
        """Add the next version (max + 1) of ``name``; concurrent writers queue on a lock."""
        now = now_ms()
        record = {
            "state": VersionState.ACTIVE.value,
            "files": _dumps({k: list(v) for k, v in fields.pop("files").items()}),
            "signature": None
            if fields.get("signature") is None
            else _dumps(fields.pop("signature")),
            "approvals": "[]",
            "evaluation": "{}",
            "creation_time": now,
            "last_updated_time": now,
        }
        fields.pop("signature", None)
        fields["tags"] = checked_tags(fields.get("tags"))
        for key in ("metrics", "params", "tags", "lineage", "card"):
            record[key] = _dumps(fields.pop(key, {}) or {})
        record["risk_category"] = RiskCategory(fields.pop("risk_category")).value
        record.update(fields)
        with translated(self.where), self._engines.write.begin() as conn:
            self._lock_model(conn, name)
            claimed = claim(conn, self._engines.dialect)
            if not claimed.fresh and claimed.result is not None:
                return self.get_version(name, int(claimed.result))  # a retry that succeeded
            current = conn.execute(
                select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
            ).scalar()
            version = (current or 0) + 1
            settle(conn, str(version))
            conn.execute(insert(model_versions).values(name=name, version=version, **record))
            conn.execute(
                update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_updated_time=now)
            )
            self._audit(
                conn,
                name,
                "register",
                actor,
                version=version,
                details={"source": record.get("source")},
            )
        return self.get_version(name, version)

    def get_version(self, name: str, version: int) -> ModelVersion:
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.execute(
                select(model_versions).where(
                    model_versions.c.name == name, model_versions.c.version == version
                )
            ).first()
            if row is None:
                if (
                    conn.execute(
                        select(registered_models.c.name).where(registered_models.c.name == name)
                    ).first()
                    is None
                ):
                    raise NotFoundError(f"registered model {name!r} does not exist")
                raise NotFoundError(f"model {name!r} has no version {version}")
            return self._version(row, self._aliases(conn, name))

    def locate(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> tuple[int, str, str, str] | None:
        """The hot path of loading: (version, state, manifest digest, files JSON) in one query,
        or None when nothing matches (the caller then asks the slower, explaining methods)."""
        mark = "?" if self._engines.dialect == "sqlite" else "%s"
        if alias is not None:
            sql = (
                "SELECT v.version, v.state, v.manifest_digest, v.files FROM model_aliases a JOIN model_versions v "
                f"ON v.name = a.name AND v.version = a.version WHERE a.name = {mark} AND a.alias = {mark}"
            )
            args: tuple[object, ...] = (name, alias)
        elif version is not None:
            sql = f"SELECT version, state, manifest_digest, files FROM model_versions WHERE name = {mark} AND version = {mark}"
            args = (name, version)
        else:
            sql = (
                f"SELECT version, state, manifest_digest, files FROM model_versions WHERE name = {mark} "
                f"AND state != 'deleted' ORDER BY version DESC LIMIT 1"
            )
            args = (name,)
        with translated(self.where), self._engines.read.connect() as conn:
            row = conn.exec_driver_sql(sql, args).first()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]), str(row[3]))

    def resolve_alias(self, name: str, alias: str) -> int:
        with translated(self.where), self._engines.read.connect() as conn:
            version = conn.execute(
                select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar()
            if version is None:
                known = sorted(self._aliases(conn, name))
                if (
                    conn.execute(
                        select(registered_models.c.name).where(registered_models.c.name == name)
                    ).first()
                    is None
                ):
                    raise NotFoundError(f"registered model {name!r} does not exist")
                raise NotFoundError(
                    f"model {name!r} has no alias {alias!r}; its aliases are {known or 'none yet'}"
                )
            return int(version)

    def search_versions(
        self,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 10_000,
        page_token: str | None = None,
        *,
        include_deleted: bool = False,
    ) -> PagedList:
        """Versions matching ``filter_string`` (``name``, ``version_number``, ``run_id``,
        ``tags.<key>``, ``metrics.<key>`` ...), by name then newest first unless ``order_by``
        says otherwise; ``.token`` on the result fetches the next page."""
        target = versions_target(self._engines.dialect)
        where = target.where(parse_filter(filter_string, MODEL_VERSION_FIELDS))
        order = parse_order_by(order_by, MODEL_VERSION_FIELDS)
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        query = select(model_versions)
        if where is not None:
            query = query.where(where)
        if not include_deleted:
            query = query.where(model_versions.c.state != VersionState.DELETED.value)
        query = target.order(
            query, order, [model_versions.c.name.asc(), model_versions.c.version.desc()]
        )
        with translated(self.where), self._engines.read.connect() as conn:
            rows = conn.execute(query.limit(max_results + 1).offset(offset)).all()
            more = len(rows) > max_results
            rows = rows[:max_results]
            aliases = self._aliases_of(conn, [r.name for r in rows])
            found = [self._version(r, aliases[r.name]) for r in rows]
        return PagedList(found, encode_page_token(offset + max_results) if more else None)

    def update_version(
        self, name: str, version: int, actor: str, reason: str = "", **values: Any
    ) -> ModelVersion:
        if "tags" in values:
            values["tags"] = checked_tags(values["tags"])
        for key in ("metrics", "params", "tags", "lineage", "card", "approvals", "evaluation"):
            if key in values:
                values[key] = _dumps(values[key])
        if "risk_category" in values:
            values["risk_category"] = RiskCategory(values["risk_category"]).value
        with translated(self.where), self._engines.write.begin() as conn:
            self._lock_model(conn, name)
            result = conn.execute(
                update(model_versions)
                .where(model_versions.c.name == name, model_versions.c.version == version)
                .values(last_updated_time=now_ms(), **values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"model {name!r} has no version {version}")
            self._audit(
                conn,
                name,
                "update_version",
                actor,
                reason,
                version=version,
                details={"fields": sorted(values)},
            )
        return self.get_version(name, version)

    def set_state(
        self, name: str, version: int, state: VersionState, actor: str, reason: str
    ) -> None:
        with translated(self.where), self._engines.write.begin() as conn:
            state_now = self._locked_state(conn, name, version)
            holding = sorted(a for a, v in self._aliases(conn, name).items() if v == version)
            if state is not VersionState.ACTIVE and holding:
                raise InvalidStateError(
                    f"version {version} of {name!r} is the target of alias{'es' if len(holding) > 1 else ''} "
                    f"{', '.join(holding)}; move or delete {'them' if len(holding) > 1 else 'it'} first"
                )
            conn.execute(
                update(model_versions)
                .where(model_versions.c.name == name, model_versions.c.version == version)
                .values(state=state.value, last_updated_time=now_ms())
            )
            action = {
                VersionState.ARCHIVED: "archive",
                VersionState.DELETED: "delete",
                VersionState.ACTIVE: "restore",
            }[state]
            self._audit(
                conn,
                name,
                action,
                actor,
                reason,
                version=version,
                details={"from_state": state_now},
            )

    # -- tags --------------------------------------------------------------------------

    def set_tag(
        self,
        name: str,
        version: int | None,
        key: str,
        value: object,
        actor: str,
        reason: str = "",
    ) -> None:
        """Set a tag of the registered model (``version`` None) or of one of its versions."""
        tag = checked_tags({key: value})
        self._change_tags(name, version, actor, reason, set_=tag)

    def delete_tag(
        self, name: str, version: int | None, key: str, actor: str, reason: str = ""
    ) -> None:
        """Delete a tag of the registered model (``version`` None) or of one of its versions."""
        self._change_tags(name, version, actor, reason, delete=check_key(key, "tag key"))

    def _change_tags(
        self,
        name: str,
        version: int | None,
        actor: str,
        reason: str,
        *,
        set_: dict[str, str] | None = None,
        delete: str | None = None,
    ) -> None:
        table = registered_models if version is None else model_versions
        where = [table.c.name == name]
        if version is not None:
            where.append(model_versions.c.version == version)
        owner = f"registered model {name!r}" if version is None else f"version {version} of {name!r}"
        with translated(self.where), self._engines.write.begin() as conn:
            if version is None:
                self._lock_model(conn, name)
            else:
                self._locked_state(conn, name, version)
            current: dict[str, str] = orjson.loads(
                conn.execute(select(table.c.tags).where(*where)).scalar_one()
            )
            if delete is not None:
                if delete not in current:
                    raise NotFoundError(
                        f"{owner} has no tag {delete!r}; its tags are {sorted(current)[:20] or 'none'}"
                    )
                details: dict[str, str | None] = {"key": delete, "previous": current.pop(delete)}
            else:
                key, value = next(iter((set_ or {}).items()))
                details = {"key": key, "value": value, "previous": current.get(key)}
                current[key] = value
            conn.execute(
                update(table).where(*where).values(tags=_dumps(current), last_updated_time=now_ms())
            )
            action = "delete" if delete is not None else "set"
            self._audit(
                conn,
                name,
                f"{action}_{'model' if version is None else 'version'}_tag",
                actor,
                reason,
                version=version,
                details=details,
            )

    # -- aliases -----------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        actor: str,
        reason: str,
        action: str = "set_alias",
        details: dict[str, Any] | None = None,
    ) -> int | None:
        """Point ``alias`` at ``version``; return the version it pointed at before."""
        with translated(self.where), self._engines.write.begin() as conn:
            state_now = self._locked_state(conn, name, version)
            if state_now != VersionState.ACTIVE.value:
                raise InvalidStateError(
                    f"version {version} of {name!r} is {state_now}; an alias can only point at an active "
                    f"version (restore it with `modelyard models restore {name} {version}`)"
                )
            previous = conn.execute(
                select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar()
            now = now_ms()
            if previous is None:
                conn.execute(
                    insert(model_aliases).values(
                        name=name, alias=alias, version=version, updated_time=now
                    )
                )
            else:
                conn.execute(
                    update(model_aliases)
                    .where(model_aliases.c.name == name, model_aliases.c.alias == alias)
                    .values(version=version, updated_time=now)
                )
            self._audit(
                conn,
                name,
                action,
                actor,
                reason,
                version=version,
                alias=alias,
                from_version=previous,
                to_version=version,
                details=details,
            )
            return None if previous is None else int(previous)

    def delete_alias(self, name: str, alias: str, actor: str, reason: str) -> int:
        with translated(self.where), self._engines.write.begin() as conn:
            self._lock_model(conn, name)
            previous = conn.execute(
                select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar()
            if previous is None:
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            conn.execute(
                delete(model_aliases).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            )
            self._audit(
                conn, name, "delete_alias", actor, reason, alias=alias, from_version=previous
            )
            return int(previous)

    # -- audit -------------------------------------------------------------------------

    def audit_log(self, name: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        query = select(registry_audit).order_by(registry_audit.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(registry_audit.c.name == name)
        with translated(self.where), self._engines.read.connect() as conn:
            return [
                AuditEntry(
                    id=r.id,
                    name=r.name,
                    version=r.version,
                    action=r.action,
                    alias=r.alias,
                    from_version=r.from_version,
                    to_version=r.to_version,
                    actor=r.actor,
                    reason=r.reason,
                    at=r.at,
                    details=orjson.loads(r.details),
                )
                for r in conn.execute(query)
            ]
