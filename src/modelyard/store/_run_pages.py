"""Pages of runs for people: keyset pagination in any one order (an attribute, a metric's
latest value, a param or a tag), filtered in the run filter language.

``search_runs`` pages by offset, which is what MLflow clients expect; a page deep into 10,000
runs would then sort and skip everything before it. Here the cursor is the last row's sort
key (missing values last, then newest first, then run id), so every page costs the same.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select

from modelyard.core.entities import Run
from modelyard.core.errors import ValidationError
from modelyard.core.search_filter import Entity, OrderBy, parse_filter, parse_order_by
from modelyard.store._schema import latest_metrics, params, runs, tags
from modelyard.store._search import _ATTRIBUTE_COLUMNS, compile_filter

MAX_PAGE = 1000
_TABLES = {Entity.METRIC: latest_metrics, Entity.PARAM: params, Entity.TAG: tags}


@dataclass(frozen=True)
class RunsPage:
    """One page of runs, the cursor of the next page (None on the last) and how many match."""

    runs: list[Run]
    next_cursor: str | None
    total: int


@dataclass(frozen=True)
class MetricSeries:
    """A metric history as columns; ``downsampled``: min and max per step bucket of ``total``."""

    steps: list[int]
    timestamps: list[int]
    values: list[float | None]
    total: int
    downsampled: bool


@dataclass(frozen=True)
class RunKeys:
    """The param, metric and tag names seen on an experiment's recent runs."""

    params: list[str]
    metrics: list[str]
    tags: list[str]


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _decode(cursor: str) -> tuple[bool, Any, int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        missing, value, start, run_id = orjson.loads(raw)
        if not isinstance(missing, bool) or not isinstance(start, int) or not isinstance(run_id, str):
            raise TypeError
        if not isinstance(value, (int, float, str, type(None))) or isinstance(value, bool):
            raise TypeError
    except Exception:
        raise ValidationError(
            "cursor is not one this server returned; start again from the first page"
        ) from None
    return missing, value, start, run_id


def _order(order_by: str | None) -> OrderBy | None:
    if not order_by or not order_by.strip():
        return None
    parsed = parse_order_by([order_by])
    if parsed[0].entity is Entity.ATTRIBUTE and parsed[0].key not in _ATTRIBUTE_COLUMNS:
        raise ValidationError(f"order_by: runs cannot be sorted by {parsed[0].key[:80]!r}")
    return parsed[0]


def page_runs(
    conn: Connection,
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    *,
    filter_string: str | None,
    order_by: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[str], str | None, int]:
    """The ids of one page of runs, the next page's cursor and the number of matching runs."""
    if not isinstance(limit, int) or not 0 < limit <= MAX_PAGE:
        raise ValidationError(f"limit={limit!r}: give a whole number from 1 to {MAX_PAGE}")
    where: list[ColumnElement[bool]] = [
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(list(stages)),
    ]
    compiled = compile_filter(parse_filter(filter_string))
    if compiled is not None:
        where.append(compiled)
    total = int(conn.execute(select(func.count()).select_from(runs).where(*where)).scalar() or 0)

    order = _order(order_by)
    column: Any
    query = select(runs.c.run_id, runs.c.start_time)
    if order is None:
        column = None
    elif order.entity is Entity.ATTRIBUTE:
        column = _ATTRIBUTE_COLUMNS[order.key]
    else:
        table = _TABLES[order.entity].alias("sort_key")
        query = query.outerjoin(
            table, and_(table.c.run_id == runs.c.run_id, table.c.key == order.key)
        )
        column = table.c.value
    newest_first = [runs.c.start_time.desc(), runs.c.run_id.asc()]
    if column is not None:
        missing = case((column.is_(None), 1), else_=0)
        query = query.add_columns(column.label("sort_value")).order_by(
            missing.asc(), column.asc() if order and order.ascending else column.desc(), *newest_first
        )
    else:
        query = query.order_by(*newest_first)

    if cursor:
        was_missing, value, start, run_id = _decode(cursor)
        tie = or_(
            runs.c.start_time < start, and_(runs.c.start_time == start, runs.c.run_id > run_id)
        )
        if column is None:
            where.append(tie)
        elif was_missing:
            where.append(and_(column.is_(None), tie))
        else:
            beyond = column > value if order and order.ascending else column < value
            where.append(or_(column.is_(None), beyond, and_(column == value, tie)))
    rows = conn.execute(query.where(*where).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        value = last.sort_value if column is not None else None
        next_cursor = _encode([value is None and column is not None, value, last.start_time, last.run_id])
    return [r.run_id for r in rows], next_cursor, total


def run_keys(conn: Connection, experiment_ids: Sequence[int], sample: int = 500) -> RunKeys:
    """Key names from the experiments' ``sample`` newest runs (cheap, whatever the run count)."""
    recent = (
        select(runs.c.run_id)
        .where(runs.c.experiment_id.in_(list(experiment_ids)))
        .order_by(runs.c.start_time.desc())
        .limit(sample)
        .subquery()
    )
    found: dict[str, list[str]] = {}
    for name, table in (("params", params), ("metrics", latest_metrics), ("tags", tags)):
        found[name] = list(
            conn.execute(
                select(table.c.key)
                .where(table.c.run_id.in_(select(recent.c.run_id)))
                .distinct()
                .order_by(table.c.key)
            ).scalars()
        )
    return RunKeys(found["params"], found["metrics"], found["tags"])

