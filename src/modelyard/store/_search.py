"""Compile a parsed filter and order-by (core.search_filter) into SQLAlchemy.

The operators, the and/or tree and the page tokens are shared by every search; what a name
means is the searcher's: runs here (metrics, params and tags in their own tables), the
registry in ``_registry_search`` (tags, metrics and params in JSON columns).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, exists, func, not_, or_, select
from sqlalchemy.sql.elements import UnaryExpression

from modelyard.core.errors import FilterSyntaxError, ValidationError
from modelyard.core.search_filter import (
    And,
    Comparison,
    Entity,
    Node,
    OrderBy,
)
from modelyard.store._schema import latest_metrics, params, runs, tags

MAX_RESULTS = 50_000  # one page of any search

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


# -- shared -------------------------------------------------------------------------------


def compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    """``column <op> value`` with ``value`` bound as a parameter (never spliced into SQL)."""
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
        case "IS NULL":
            return column.is_(None)  # type: ignore[no-any-return]
        case "IS NOT NULL":
            return column.is_not(None)  # type: ignore[no-any-return]
    raise FilterSyntaxError(f"operator {op!r} is not supported")


def compile_tree(
    node: Node | None, leaf: Callable[[Comparison], ColumnElement[bool]]
) -> ColumnElement[bool] | None:
    """The and/or tree of ``node`` with each comparison compiled by ``leaf``."""
    if node is None:
        return None
    if isinstance(node, Comparison):
        return leaf(node)
    parts = [compile_tree(item, leaf) for item in node.items]
    clauses = [p for p in parts if p is not None]
    return and_(*clauses) if isinstance(node, And) else or_(*clauses)


def check_max_results(max_results: object) -> int:
    if (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or not 0 < max_results <= MAX_RESULTS
    ):
        raise ValidationError(
            f"max_results={repr(max_results)[:20]}: give a whole number from 1 to {MAX_RESULTS}"
        )
    return max_results


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a page token stands for (0 for no token)."""
    if not token:
        return 0
    try:
        offset = orjson.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except Exception:
        raise ValidationError(
            f"page_token {token[:40]!r} is not a token this store returned"
        ) from None
    if not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"page_token {token[:40]!r} is not a token this store returned")
    return offset


# -- runs ---------------------------------------------------------------------------------


def _experiment_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_experiment_value(v) for v in value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FilterSyntaxError(
            f"attributes.experiment_id is compared with {str(value)[:40]!r}; experiment ids are numbers"
        ) from None


def _comparison(c: Comparison) -> ColumnElement[bool]:
    if c.entity is Entity.ATTRIBUTE:
        column = _ATTRIBUTE_COLUMNS[c.key]
        value = (
            _experiment_value(c.value)
            if c.key == "experiment_id" and c.value is not None
            else c.value
        )
        return compare(column, c.op, value)
    table = _TABLES[c.entity]
    has_key = and_(table.c.run_id == runs.c.run_id, table.c.key == c.key)
    if c.op == "IS NULL":
        return ~exists().where(has_key)
    if c.op == "IS NOT NULL":
        return exists().where(has_key)
    matching = select(table.c.run_id).where(
        table.c.key == c.key, compare(table.c.value, c.op, c.value)
    )
    return runs.c.run_id.in_(matching)


def compile_filter(node: Node | None) -> ColumnElement[bool] | None:
    """A run filter as a WHERE clause over ``runs``."""
    return compile_tree(node, _comparison)


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
