"""The search language over the registry: model versions and registered models.

Attributes are columns; ``tags.<key>`` (and, for versions, ``metrics.<key>`` and
``params.<key>``) are read out of the JSON columns that hold them, with the dialect's JSON
function: ``json_extract`` on SQLite, ``jsonb_extract_path_text`` on PostgreSQL. Keys and
values are bound parameters; a key that could not name a tag is refused before any SQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Select, Table, cast, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import UnaryExpression

from modelyard.core.errors import FilterSyntaxError, ValidationError
from modelyard.core.search_filter import (
    MODEL_VERSION_FIELDS,
    REGISTERED_MODEL_FIELDS,
    Comparison,
    Entity,
    Fields,
    Node,
    OrderBy,
)
from modelyard.core.validation import check_key
from modelyard.store._schema import model_versions, registered_models
from modelyard.store._search import compare, compile_tree

_VERSION_COLUMNS = {
    "name": model_versions.c.name,
    "version_number": model_versions.c.version,
    "run_id": model_versions.c.run_id,
    "source": model_versions.c.source,
    "state": model_versions.c.state,
    "flavor": model_versions.c.flavor,
    "owner": model_versions.c.owner,
    "risk_category": model_versions.c.risk_category,
    "creation_timestamp": model_versions.c.creation_time,
    "last_updated_timestamp": model_versions.c.last_updated_time,
}
_MODEL_COLUMNS = {
    "name": registered_models.c.name,
    "owner": registered_models.c.owner,
    "risk_category": registered_models.c.risk_category,
    "creation_timestamp": registered_models.c.creation_time,
    "last_updated_timestamp": registered_models.c.last_updated_time,
}
_JSON_COLUMNS = {
    Entity.TAG: "tags",
    Entity.METRIC: "metrics",
    Entity.PARAM: "params",
}


class _Target:
    """One registry table as a search target: its attribute columns and JSON families."""

    def __init__(self, table: Table, columns: dict[str, Any], fields: Fields, dialect: str) -> None:
        missing = set(fields.attributes) - set(columns)
        if missing:  # pragma: no cover - the tables and the language are defined together
            raise RuntimeError(f"no column for {sorted(missing)}")
        self.table = table
        self.columns = columns
        self.fields = fields
        self.dialect = dialect

    def value(self, entity: Entity, key: str) -> Any:
        """The SQL expression for an identifier: a column, or a value read out of JSON."""
        if entity is Entity.ATTRIBUTE:
            return self.columns[key]
        try:
            check_key(key, f"{entity.value} key")
        except ValidationError as error:
            raise FilterSyntaxError(f"{self.fields.what}: {error}") from None
        column = self.table.c[_JSON_COLUMNS[entity]]
        if self.dialect == "postgresql":
            text: Any = func.jsonb_extract_path_text(cast(column, JSONB), key)
        else:  # SQLite: a quoted JSON path; check_key allows no quote or backslash in a key
            text = func.json_extract(column, f'$."{key}"')
        return cast(text, Float) if entity is Entity.METRIC else text

    def comparison(self, c: Comparison) -> ColumnElement[bool]:
        return compare(self.value(c.entity, c.key), c.op, c.value)

    def where(self, node: Node | None) -> ColumnElement[bool] | None:
        return compile_tree(node, self.comparison)

    def order(self, query: Select[Any], order: list[OrderBy], then: list[Any]) -> Select[Any]:
        terms: list[UnaryExpression[Any]] = []
        for item in order:
            column = self.value(item.entity, item.key)
            terms.append((column.asc() if item.ascending else column.desc()).nulls_last())
        return query.order_by(*terms, *then)


def versions_target(dialect: str) -> _Target:
    return _Target(model_versions, _VERSION_COLUMNS, MODEL_VERSION_FIELDS, dialect)


def models_target(dialect: str) -> _Target:
    return _Target(registered_models, _MODEL_COLUMNS, REGISTERED_MODEL_FIELDS, dialect)
