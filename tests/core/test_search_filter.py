from __future__ import annotations

import random

import pytest

from modelyard.core.errors import FilterSyntaxError
from modelyard.core.search_filter import (
    MAX_DEPTH,
    MODEL_VERSION_FIELDS,
    REGISTERED_MODEL_FIELDS,
    RUN_FIELDS,
    And,
    Comparison,
    Entity,
    Fields,
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


def test_mlflow_system_tags_name_the_attributes() -> None:
    """MLflow filters nested runs with tags.mlflow.parentRunId; a renamed script says
    tags.modelyard.parentRunId. Both are the parent_run_id attribute (review §3)."""
    for prefix in ("mlflow", "modelyard"):
        assert parse_filter(f"tags.{prefix}.parentRunId = 'p'") == Comparison(
            Entity.ATTRIBUTE, "parent_run_id", "=", "p"
        )
        assert parse_filter(f"tags.`{prefix}.runName` LIKE 'lr%'") == Comparison(
            Entity.ATTRIBUTE, "run_name", "LIKE", "lr%"
        )
    assert parse_filter("tags.mlflow.source = 'x'") == Comparison(
        Entity.TAG, "mlflow.source", "=", "x"
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


# -- D8: deep nesting is refused by name, never a RecursionError ------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 400, 1000, 5000])
def test_deep_parentheses_are_refused_naming_the_limit(depth: int) -> None:
    text = "(" * depth + "metrics.auc > 0" + ")" * depth
    with pytest.raises(FilterSyntaxError, match=f"the limit of {MAX_DEPTH}") as refused:
        parse_filter(text)
    assert len(str(refused.value)) < 300  # the filter is quoted back cut short, on one line
    assert "\n" not in str(refused.value)


def test_nesting_up_to_the_limit_parses() -> None:
    text = "metrics.a > 1"
    for i in range(MAX_DEPTH):
        text = f"(metrics.a > 1 {'or' if i % 2 else 'and'} {text})"
    node = parse_filter(text)
    depth = 0
    while not isinstance(node, Comparison):
        assert node is not None
        node, depth = node.items[-1], depth + 1
    assert depth == MAX_DEPTH


def test_unclosed_deep_parentheses_and_long_filters_stay_short_in_errors() -> None:
    with pytest.raises(FilterSyntaxError, match="the limit of") as deep:
        parse_filter("(" * 10_000)
    with pytest.raises(FilterSyntaxError, match=r"\(19999 characters\): unknown identifier .x."):
        parse_filter("metrics.a > 1 and " * 1111 + "x")
    assert len(str(deep.value)) < 300


_WORDS = [
    "metrics.auc",
    "params.model",
    "tags.team",
    "attributes.status",
    "status",
    "name",
    "version_number",
    "run_id",
    "tags.`a b`",
    "colour",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "like",
    "ilike",
    "(",
    ")",
    ",",
    "=",
    "!=",
    "<",
    ">=",
    "'x'",
    "'a''b'",
    "0.5",
    "-1e3",
    "`q`",
    '"dq"',
    "~",
    ";",
    "'unclosed",
    "metrics.",
    "..",
    "\\",
    "\n",
]


@pytest.mark.parametrize("fields", [RUN_FIELDS, MODEL_VERSION_FIELDS, REGISTERED_MODEL_FIELDS])
def test_fuzzed_filters_parse_or_raise_filter_syntax_errors(fields: Fields) -> None:
    rng = random.Random(20261130)  # fixed: the same 3000 filters on every run
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(3000):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12)))
        try:
            parse_filter(text, fields)
            outcomes["parsed"] += 1
        except FilterSyntaxError:  # anything else (IndexError, RecursionError ...) fails
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0


# -- one language for runs, model versions and registered models ------------------------


def test_model_version_fields() -> None:
    node = parse_filter(
        "name = 'credit' and version_number > 3 and run_id IN ('a', 'b') and "
        "tags.stage = 'prod' and metrics.auc >= 0.8 and source_path LIKE 'runs:%'",
        MODEL_VERSION_FIELDS,
    )
    assert node == And(
        (
            Comparison(Entity.ATTRIBUTE, "name", "=", "credit"),
            Comparison(Entity.ATTRIBUTE, "version_number", ">", 3.0),
            Comparison(Entity.ATTRIBUTE, "run_id", "IN", ("a", "b")),
            Comparison(Entity.TAG, "stage", "=", "prod"),
            Comparison(Entity.METRIC, "auc", ">=", 0.8),
            Comparison(Entity.ATTRIBUTE, "source", "LIKE", "runs:%"),
        )
    )
    assert parse_order_by(["version_number DESC", "metrics.auc"], MODEL_VERSION_FIELDS) == [
        OrderBy(Entity.ATTRIBUTE, "version_number", False),
        OrderBy(Entity.METRIC, "auc", True),
    ]


@pytest.mark.parametrize(
    ("fields", "text", "problem"),
    [
        (
            MODEL_VERSION_FIELDS,
            "colour = 'red'",
            "model versions can be filtered on .*version_number",
        ),
        (MODEL_VERSION_FIELDS, "version_number > '3'", "numeric; compare it with a number"),
        (MODEL_VERSION_FIELDS, "version_number LIKE '3%'", "numeric; LIKE compares text"),
        (MODEL_VERSION_FIELDS, "run_name = 'x'", "unknown identifier 'run_name'"),
        (REGISTERED_MODEL_FIELDS, "metrics.auc > 1", "registered models have no metrics"),
        (
            REGISTERED_MODEL_FIELDS,
            "run_id = 'x'",
            "registered models can be filtered on tags.<name>",
        ),
        (RUN_FIELDS, "version_number > 1", "runs can be filtered on metrics.<name>"),
    ],
)
def test_each_kind_names_what_it_can_be_filtered_on(
    fields: Fields, text: str, problem: str
) -> None:
    with pytest.raises(FilterSyntaxError, match=problem):
        parse_filter(text, fields)


@pytest.mark.parametrize("value", ["plain", "a'b", "a\\b", "x' or name = 'y", "''", "\\'"])
def test_quote_makes_any_value_one_literal(value: str) -> None:
    from modelyard.core.search_filter import MODEL_VERSION_FIELDS, Comparison, quote

    parsed = parse_filter(f"run_id = {quote(value)}", MODEL_VERSION_FIELDS)
    assert isinstance(parsed, Comparison)
    assert parsed.value == value
