"""Compile a parsed run filter and order-by (core.search_filter) into SQLAlchemy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, or_, select
from sqlalchemy.sql.elements import UnaryExpression

from modelyard.core.errors import FilterSyntaxError
from modelyard.core.search_filter import (
    And,
    Comparison,
    Entity,
    Node,
    OrderBy,
)
from modelyard.store._schema import latest_metrics, params, runs, tags

_ATTRIBUTE_COLUMNS = {
    "run_id": runs.c.run_id,
    "run_name": runs.c.run_name,
    "status": runs.c.status,
    "user": runs.c.user_name,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "parent_run_id": runs.c.parent_run_id,
    "experiment_id": runs.c.experiment_id,
}
_TABLES = {Entity.METRIC: latest_metrics, Entity.PARAM: params, Entity.TAG: tags}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    match op:
        case "=":
            return column == value  # type: ignore[no-any-return]
        case "!=":
            return column != value  # type: ignore[no-any-return]
        case "<":
            return column < value  # type: ignore[no-any-return]
        case "<=":
            return column <= value  # type: ignore[no-any-return]
        case ">":
            return column > value  # type: ignore[no-any-return]
        case ">=":
            return column >= value  # type: ignore[no-any-return]
        case "LIKE":
            return column.like(value)  # type: ignore[no-any-return]
        case "NOT LIKE":
            return not_(column.like(value))  # type: ignore[no-any-return]
        case "ILIKE":
            return func.lower(column).like(func.lower(value))
        case "NOT ILIKE":
            return not_(func.lower(column).like(func.lower(value)))
        case "IN":
            return column.in_(list(value))  # type: ignore[no-any-return]
        case "NOT IN":
            return column.not_in(list(value))  # type: ignore[no-any-return]
    raise FilterSyntaxError(f"operator {op!r} is not supported")


def _experiment_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_experiment_value(v) for v in value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FilterSyntaxError(
            f"attributes.experiment_id is compared with {value!r}; experiment ids are numbers"
        ) from None


def _comparison(c: Comparison) -> ColumnElement[bool]:
    if c.entity is Entity.ATTRIBUTE:
        column = _ATTRIBUTE_COLUMNS[c.key]
        value = _experiment_value(c.value) if c.key == "experiment_id" else c.value
        if c.op == "IS NULL":
            return column.is_(None)
        if c.op == "IS NOT NULL":
            return column.is_not(None)
        return _compare(column, c.op, value)
    table = _TABLES[c.entity]
    has_key = and_(table.c.run_id == runs.c.run_id, table.c.key == c.key)
    if c.op == "IS NULL":
        return ~exists().where(has_key)
    if c.op == "IS NOT NULL":
        return exists().where(has_key)
    matching = select(table.c.run_id).where(
        table.c.key == c.key, _compare(table.c.value, c.op, c.value)
    )
    return runs.c.run_id.in_(matching)


def compile_filter(node: Node | None) -> ColumnElement[bool] | None:
    if node is None:
        return None
    if isinstance(node, Comparison):
        return _comparison(node)
    parts = [compile_filter(item) for item in node.items]
    clauses = [p for p in parts if p is not None]
    return and_(*clauses) if isinstance(node, And) else or_(*clauses)


def apply_order(query: Select[Any], order: list[OrderBy]) -> Select[Any]:
    """Add joins and ORDER BY; missing values sort last either way, then newest first."""
    terms: list[UnaryExpression[Any]] = []
    for i, item in enumerate(order):
        if item.entity is Entity.ATTRIBUTE:
            column: Any = _ATTRIBUTE_COLUMNS[item.key]
        else:
            table = _TABLES[item.entity].alias(f"order_{i}")
            query = query.outerjoin(
                table, and_(table.c.run_id == runs.c.run_id, table.c.key == item.key)
            )
            column = table.c.value
        terms.append((column.asc() if item.ascending else column.desc()).nulls_last())
    terms += [runs.c.start_time.desc(), runs.c.run_id.asc()]
    return query.order_by(*terms)
