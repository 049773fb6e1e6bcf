from __future__ import annotations

import pytest

from modelyard.core.errors import FilterSyntaxError
from modelyard.core.search_filter import (
    And,
    Comparison,
    Entity,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
)


def test_the_issue_example_parses() -> None:
    assert parse_filter("metrics.auc > 0.8 and params.model = 'gbm'") == And(
        (Comparison(Entity.METRIC, "auc", ">", 0.8), Comparison(Entity.PARAM, "model", "=", "gbm"))
    )


def test_or_parentheses_and_precedence() -> None:
    node = parse_filter("tags.a = 'x' or tags.a = 'y' and metrics.m < 1")
    assert isinstance(node, Or)
    assert isinstance(node.items[1], And)
    grouped = parse_filter("(tags.a = 'x' or tags.a = 'y') and metrics.m < 1")
    assert isinstance(grouped, And) and isinstance(grouped.items[0], Or)


def test_quoted_names_in_operators_and_nulls() -> None:
    node = parse_filter(
        "metrics.`val loss` <= 1e-3 and params.\"model.lr\" IN ('0.1', '0.2') "
        "and tags.team IS NOT NULL and run_name ILIKE 'base%' and params.x NOT LIKE 'a%'"
    )
    assert isinstance(node, And)
    assert node.items[0] == Comparison(Entity.METRIC, "val loss", "<=", 0.001)
    assert node.items[1] == Comparison(Entity.PARAM, "model.lr", "IN", ("0.1", "0.2"))
    assert node.items[2] == Comparison(Entity.TAG, "team", "IS NOT NULL", None)
    assert node.items[3] == Comparison(Entity.ATTRIBUTE, "run_name", "ILIKE", "base%")
    assert node.items[4] == Comparison(Entity.PARAM, "x", "NOT LIKE", "a%")


def test_singular_prefixes_and_attribute_aliases() -> None:
    assert parse_filter("metric.a = 1 and attribute.run_uuid = 'r'") == And(
        (Comparison(Entity.METRIC, "a", "=", 1.0), Comparison(Entity.ATTRIBUTE, "run_id", "=", "r"))
    )


def test_blank_filter_is_no_filter() -> None:
    assert parse_filter("  ") is None
    assert parse_filter(None) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("metrics.auc >", "ends too early"),
        ("metrics.auc > 'high'", "numeric; compare it with a number"),
        ("params.lr > 0.1", "holds text; compare it with a quoted string"),
        ("colour = 'red'", "unknown identifier 'colour'"),
        ("metrics.a > 1 metrics.b < 2", "unexpected 'metrics.b'"),
        ("metrics.a ~ 1", "cannot read"),
        ("(metrics.a > 1", "ends too early"),
        ("params.m IN 'a'", "IN needs a list"),
        ("metrics.a LIKE 1", "numeric; LIKE compares text"),
    ],
)
def test_bad_filters_explain_themselves(text: str, problem: str) -> None:
    with pytest.raises(FilterSyntaxError, match=problem):
        parse_filter(text)


def test_order_by() -> None:
    assert parse_order_by(["metrics.auc DESC", "start_time", "params.`my p` asc"]) == [
        OrderBy(Entity.METRIC, "auc", False),
        OrderBy(Entity.ATTRIBUTE, "start_time", True),
        OrderBy(Entity.PARAM, "my p", True),
    ]
    with pytest.raises(FilterSyntaxError, match="optional ASC/DESC"):
        parse_order_by(["metrics.auc sideways"])
