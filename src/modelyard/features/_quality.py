"""Data-quality expectations, checked with DuckDB before data is written anywhere.

    FeatureView(..., expectations=[NotNull("income"), InRange("debt_ratio", min=0, max=1),
                                   AllowedValues("segment", ["retail", "sme"]), UniqueKeys(),
                                   Freshness(max_age=timedelta(days=2)), RowCount(min=1000)])

A failure stops the write with a report naming the column, the rule and the failing share,
unless the view says ``warn_only=True`` (then the report is a warning).

Expectations describe source data. On a training set (``check_training_set``) they see the
values the entity rows found; an entity row that found no source row within the TTL at its
timestamp (a point-in-time miss) has nulls, which are reported as a miss rate, never as a
failure of ``NotNull``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb

from modelyard.core.errors import DataQualityError


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Failure:
    column: str
    rule: str
    failing_share: float
    detail: str

    def __str__(self) -> str:
        return f"{self.column}: {self.rule} fails on {self.failing_share:.1%} ({self.detail})"


@dataclass(frozen=True)
class NotNull:
    column: str
    max_share: float = 0.0

    def sql(self, relation: str, ctx: dict[str, Any]) -> tuple[str, str]:
        return f"avg(CASE WHEN {_q(self.column)} IS NULL THEN 1.0 ELSE 0.0 END)", "not null"


@dataclass(frozen=True)
class InRange:
    column: str
    min: float | None = None
    max: float | None = None
    max_share: float = 0.0

    def sql(self, relation: str, ctx: dict[str, Any]) -> tuple[str, str]:
        parts = []
        if self.min is not None:
            parts.append(f"{_q(self.column)} < {float(self.min)}")
        if self.max is not None:
            parts.append(f"{_q(self.column)} > {float(self.max)}")
        bad = " OR ".join(parts) or "FALSE"
        return f"avg(CASE WHEN {bad} THEN 1.0 ELSE 0.0 END)", f"in range [{self.min}, {self.max}]"


@dataclass(frozen=True)
class AllowedValues:
    column: str
    values: tuple[Any, ...]
    max_share: float = 0.0

    def __init__(self, column: str, values: Sequence[Any], max_share: float = 0.0) -> None:
        object.__setattr__(self, "column", column)
        object.__setattr__(self, "values", tuple(values))
        object.__setattr__(self, "max_share", max_share)

    def sql(self, relation: str, ctx: dict[str, Any]) -> tuple[str, str]:
        listed = ", ".join("'" + str(v).replace("'", "''") + "'" for v in self.values)
        return (
            f"avg(CASE WHEN {_q(self.column)} IS NOT NULL AND {_q(self.column)}::VARCHAR NOT IN ({listed}) THEN 1.0 ELSE 0.0 END)",
            f"one of {list(self.values)}",
        )


@dataclass(frozen=True)
class UniqueKeys:
    """No two rows share the join keys and event time (a re-write needs a later created time)."""

    max_share: float = 0.0
    column: str = "(keys)"

    def sql(self, relation: str, ctx: dict[str, Any]) -> tuple[str, str]:
        keys = ", ".join(_q(k) for k in ctx["keys"])
        created = ctx.get("created")
        partition = f"{keys}, {_q(ctx['timestamp'])}" + (f", {_q(created)}" if created else "")
        return f"1.0 - count(DISTINCT ({partition}))::DOUBLE / greatest(count(*), 1)", "unique keys"


@dataclass(frozen=True)
class Freshness:
    max_age: timedelta
    max_share: float = 0.0
    column: str = "(event time)"

    def sql(self, relation: str, ctx: dict[str, Any]) -> tuple[str, str]:
        seconds = int(self.max_age.total_seconds())
        return (
            f"CASE WHEN max({_q(ctx['timestamp'])}::TIMESTAMPTZ) >= {ctx['now']} - INTERVAL {seconds} SECOND THEN 0.0 ELSE 1.0 END",
            f"newest row within {self.max_age}",
        )


@dataclass(frozen=True)
class RowCount:
    min: int | None = None
    max: int | None = None
    max_share: float = 0.0
    column: str = "(rows)"

    def violated(self) -> str:
        """The SQL condition (any dialect) under which the row count is out of bounds."""
        conditions = []
        if self.min is not None:
            conditions.append(f"count(*) < {int(self.min)}")
        if self.max is not None:
            conditions.append(f"count(*) > {int(self.max)}")
        return " OR ".join(conditions) or "FALSE"

    def sql(self, relation: str, ctx: dict[str, Any]) -> tuple[str, str]:
        return (
            f"CASE WHEN {self.violated()} THEN 1.0 ELSE 0.0 END",
            f"row count in [{self.min}, {self.max}]",
        )


Expectation = NotNull | InRange | AllowedValues | UniqueKeys | Freshness | RowCount


def evaluate(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    expectations: Sequence[Expectation],
    ctx: dict[str, Any],
) -> list[Failure]:
    """Every expectation in one scan of ``relation``; return those that fail."""
    if not expectations:
        return []
    exprs = [e.sql(relation, ctx) for e in expectations]
    row = con.execute(
        f"SELECT {', '.join(x for x, _ in exprs)}, count(*) FROM {relation}"
    ).fetchall()[0]
    count = row[-1]
    failures = []
    for expectation, (_, rule), share in zip(expectations, exprs, row[:-1], strict=True):
        share = float(share or 0.0)
        if share > expectation.max_share:
            failures.append(Failure(expectation.column, rule, share, f"{count} rows checked"))
    return failures


def enforce(failures: list[Failure], where: str, warn_only: bool) -> None:
    if not failures:
        return
    message = (
        f"{where} breaks {len(failures)} expectation{'s' if len(failures) > 1 else ''}: "
        + "; ".join(str(f) for f in failures)
    )
    if warn_only:
        warnings.warn(message + " (warn_only: written anyway)", UserWarning, stacklevel=3)
        return
    raise DataQualityError(message + ". Nothing was written.", failures)


def check_training_set(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    view: str,
    expectations: Sequence[Expectation],
    hit: str,
    warn_only: bool,
) -> None:
    """A feature view's column expectations over a training set (``relation``), whose column
    ``hit`` says whether each row found a source row of the view.

    ``NotNull`` counts only the rows that found one: a null there is a null in the source. The
    point-in-time misses are null by design; when the view expects one of their columns not
    null, a warning gives the miss rate, so a training set is never refused for them.
    """
    nulls = [e for e in expectations if isinstance(e, NotNull)]
    failures = evaluate(con, relation, [e for e in expectations if not isinstance(e, NotNull)], {})
    if nulls:
        counts = ", ".join(
            f"count(*) FILTER (WHERE {_q(hit)} AND {_q(e.column)} IS NULL)" for e in nulls
        )
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {_q(hit)}), {counts} FROM {relation}"
        ).fetchall()[0]
        total, matched, found = int(row[0]), int(row[1]), [int(n) for n in row[2:]]
        missed = total - matched
        for expectation, n in zip(nulls, found, strict=True):
            share = n / matched if matched else 0.0
            if share > expectation.max_share:
                failures.append(
                    Failure(
                        expectation.column,
                        "not null",
                        share,
                        f"{n} of the {matched} rows that found a source row hold a null from the "
                        f"source; the {missed} point-in-time/TTL misses are not counted",
                    )
                )
        if missed:
            columns = ", ".join(repr(e.column) for e in nulls)
            warnings.warn(
                f"training set: {missed} of {total} entity rows ({missed / total:.1%}) found no row of "
                f"feature view {view!r} within its TTL at or before their timestamp (point-in-time "
                f"misses); their {columns} {'is' if len(nulls) == 1 else 'are'} null",
                UserWarning,
                stacklevel=4,
            )
    enforce(failures, f"training set (feature view {view!r})", warn_only)
