"""Data-quality expectations (``_quality``) checked by Spark, for materializations that run
there: the same rules, shares and reports as on DuckDB, in Spark SQL.

Each rule's aggregate is written here in Spark's dialect (DuckDB's ``::VARCHAR`` and
``TIMESTAMPTZ`` are not Spark's); all of a view's rules run in one scan of the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.features._quality import (
    AllowedValues,
    Expectation,
    Failure,
    Freshness,
    InRange,
    NotNull,
    RowCount,
    UniqueKeys,
)


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _share(condition: str) -> str:
    return f"avg(CASE WHEN {condition} THEN 1.0D ELSE 0.0D END)"  # doubles, as DuckDB's avg


def spark_sql(expectation: Expectation, ctx: dict[str, Any]) -> tuple[str, str]:
    """``expectation.sql`` in Spark SQL: the failing share as an aggregate, and the rule's name.

    ``ctx`` holds ``keys``, ``timestamp``, ``created`` (or None) and ``now`` (a Spark
    timestamp expression: the window's end)."""
    if isinstance(expectation, NotNull):
        return _share(f"{_q(expectation.column)} IS NULL"), "not null"
    if isinstance(expectation, InRange):
        column = _q(expectation.column)
        parts = []
        if expectation.min is not None:
            parts.append(f"{column} < {float(expectation.min)!r}")
        if expectation.max is not None:
            parts.append(f"{column} > {float(expectation.max)!r}")
        rule = f"in range [{expectation.min}, {expectation.max}]"
        return _share(" OR ".join(parts) or "FALSE"), rule
    if isinstance(expectation, AllowedValues):
        column = _q(expectation.column)
        listed = ", ".join(_lit(str(v)) for v in expectation.values)
        condition = f"{column} IS NOT NULL AND CAST({column} AS STRING) NOT IN ({listed})"
        return _share(condition), f"one of {list(expectation.values)}"
    if isinstance(expectation, UniqueKeys):
        created = ctx.get("created")
        columns = [*ctx["keys"], ctx["timestamp"], *([created] if created else [])]
        # a struct is counted even when some of its fields are null (as DuckDB's row value is)
        distinct = f"count(DISTINCT struct({', '.join(_q(c) for c in columns)}))"
        return f"1.0D - {distinct} / greatest(count(*), 1)", "unique keys"
    if isinstance(expectation, Freshness):
        seconds = int(expectation.max_age.total_seconds())
        newest = f"max(CAST({_q(ctx['timestamp'])} AS TIMESTAMP))"
        return (
            f"CASE WHEN {newest} >= {ctx['now']} - INTERVAL {seconds} SECONDS THEN 0.0D ELSE 1.0D END",
            f"newest row within {expectation.max_age}",
        )
    if isinstance(expectation, RowCount):
        return (
            f"CASE WHEN {expectation.violated()} THEN 1.0D ELSE 0.0D END",
            f"row count in [{expectation.min}, {expectation.max}]",
        )
    raise TypeError(f"no Spark SQL for expectation {type(expectation).__name__}")


def evaluate_spark(
    spark: Any, relation: str, expectations: Sequence[Expectation], ctx: dict[str, Any]
) -> list[Failure]:
    """``_quality.evaluate`` on Spark: every expectation in one scan of ``relation``."""
    if not expectations:
        return []
    exprs = [spark_sql(e, ctx) for e in expectations]
    row = spark.sql(f"SELECT {', '.join(x for x, _ in exprs)}, count(*) FROM {relation}").first()
    count = row[-1]
    failures = []
    for expectation, (_, rule), share in zip(expectations, exprs, list(row)[:-1], strict=True):
        value = float(share or 0.0)
        if value > expectation.max_share:
            failures.append(Failure(expectation.column, rule, value, f"{count} rows checked"))
    return failures
