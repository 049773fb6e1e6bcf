"""The search language for runs, model versions and registered models, parsed into a small
tree; the store compiles the tree to SQL with bound parameters.

    metrics.auc > 0.8 and params.model = 'gbm'
    (tags.team = 'risk' or tags.team = 'fraud') and attributes.status != 'FAILED'
    params.model in ('gbm', 'rf') and metrics.loss is not null and run_name like 'base%'
    name = 'credit' and version_number > 3 and tags.stage = 'prod'          (model versions)
    name LIKE 'credit%' and tags.team = 'risk'                              (registered models)

Identifiers are ``metrics.``, ``params.``, ``tags.`` or ``attributes.`` (singular forms
too) followed by a name; names with spaces or dots go in backticks or double quotes.
Attributes may be written bare (``status``). ``and`` binds tighter than ``or``. What each
kind of object may be filtered on is a ``Fields`` value: ``RUN_FIELDS``,
``MODEL_VERSION_FIELDS`` and ``REGISTERED_MODEL_FIELDS``. Parentheses nest at most
``MAX_DEPTH`` deep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from modelyard.core.errors import FilterSyntaxError

MAX_DEPTH = 10  # nesting of parentheses: deeper filters are refused before they recurse (and
# SQLite's parser, whose stack overflows near 15 levels of alternating and/or groups)
_ECHO = 80  # characters of a filter quoted back in an error


class Entity(StrEnum):
    METRIC = "metrics"
    PARAM = "params"
    TAG = "tags"
    ATTRIBUTE = "attributes"


class Kind(StrEnum):
    """What an attribute holds: compared with quoted strings, or with numbers."""

    TEXT = "str"
    NUMBER = "num"


@dataclass(frozen=True)
class Fields:
    """What one kind of object can be filtered and ordered on."""

    what: str  # "runs", "model versions", ...
    attributes: Mapping[str, Kind]
    aliases: Mapping[str, str]  # other spellings of attributes (MLflow's among them)
    entities: frozenset[Entity]  # the prefixed families allowed besides attributes
    example: str

    def describe(self) -> str:
        """The valid identifiers, for error messages."""
        families = [f"{e.value}.<name>" for e in Entity if e in self.entities]
        return ", ".join([*families, *sorted(self.attributes)])


RUN_FIELDS = Fields(
    what="runs",
    attributes={
        "run_id": Kind.TEXT,
        "run_name": Kind.TEXT,
        "status": Kind.TEXT,
        "user": Kind.TEXT,
        "start_time": Kind.NUMBER,
        "end_time": Kind.NUMBER,
        "parent_run_id": Kind.TEXT,
        "experiment_id": Kind.TEXT,
    },
    aliases={"run_uuid": "run_id", "name": "run_name"},
    entities=frozenset({Entity.METRIC, Entity.PARAM, Entity.TAG}),
    example="metrics.auc > 0.8 and params.model = 'gbm'",
)

MODEL_VERSION_FIELDS = Fields(
    what="model versions",
    attributes={
        "name": Kind.TEXT,
        "version_number": Kind.NUMBER,
        "run_id": Kind.TEXT,
        "source": Kind.TEXT,
        "state": Kind.TEXT,
        "flavor": Kind.TEXT,
        "owner": Kind.TEXT,
        "risk_category": Kind.TEXT,
        "creation_timestamp": Kind.NUMBER,
        "last_updated_timestamp": Kind.NUMBER,
    },
    aliases={
        "version": "version_number",
        "source_path": "source",
        "creation_time": "creation_timestamp",
        "last_updated_time": "last_updated_timestamp",
    },
    entities=frozenset({Entity.METRIC, Entity.PARAM, Entity.TAG}),
    example="name = 'credit' and version_number > 3 and tags.stage = 'prod'",
)

REGISTERED_MODEL_FIELDS = Fields(
    what="registered models",
    attributes={
        "name": Kind.TEXT,
        "owner": Kind.TEXT,
        "risk_category": Kind.TEXT,
        "creation_timestamp": Kind.NUMBER,
        "last_updated_timestamp": Kind.NUMBER,
    },
    aliases={
        "creation_time": "creation_timestamp",
        "last_updated_time": "last_updated_timestamp",
    },
    entities=frozenset({Entity.TAG}),
    example="name LIKE 'credit%' and tags.team = 'risk'",
)

# The run attributes and their kinds ("str" or "num"), as before Fields existed.
ATTRIBUTES: dict[str, str] = {k: v.value for k, v in RUN_FIELDS.attributes.items()}
# MLflow keeps these attributes in system tags and its filters name them as tags; a script
# ported by renaming mlflow to modelyard names them modelyard.parentRunId ...
_MLFLOW_TAGS = {
    f"{prefix}.{tag}": attribute
    for prefix in ("mlflow", "modelyard")
    for tag, attribute in (
        ("parentRunId", "parent_run_id"),
        ("runName", "run_name"),
        ("user", "user"),
    )
}

_PREFIXES = {
    "metrics": Entity.METRIC,
    "metric": Entity.METRIC,
    "params": Entity.PARAM,
    "param": Entity.PARAM,
    "parameters": Entity.PARAM,
    "tags": Entity.TAG,
    "tag": Entity.TAG,
    "attributes": Entity.ATTRIBUTE,
    "attribute": Entity.ATTRIBUTE,
    "attr": Entity.ATTRIBUTE,
    "run": Entity.ATTRIBUTE,
}

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
SET_OPS = ("IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")

Value: TypeAlias = "float | str | tuple[float | str, ...] | None"


@dataclass(frozen=True, slots=True)
class Comparison:
    entity: Entity
    key: str
    op: str
    value: float | str | tuple[float | str, ...] | None


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


Node: TypeAlias = "Comparison | And | Or"


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: Entity
    key: str
    ascending: bool


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
      | (?P<bq>`[^`]*`)
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<lp>\()
      | (?P<rp>\))
      | (?P<comma>,)
      | (?P<word>[A-Za-z_][\w\-:/]*(?:\.(?:[\w\-:/]+|`[^`]*`|"[^"]*"))*)
    )""",
    re.VERBOSE,
)


def _echo(text: str) -> str:
    """``text`` quoted for an error message, cut to a readable length."""
    return (
        repr(text) if len(text) <= _ECHO else repr(text[:_ECHO]) + f"... ({len(text)} characters)"
    )


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterSyntaxError(
                f"filter {_echo(text)}: cannot read {text[pos : pos + 20]!r} at character {pos}; "
                "write clauses like metrics.auc > 0.8 and params.model = 'gbm'"
            )
        kind = m.lastgroup
        if kind is None:  # pragma: no cover - every alternative is a named group
            raise FilterSyntaxError(f"filter {_echo(text)}: cannot read character {pos}")
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


def _unquote(text: str) -> str:
    if text[0] in "'\"`" and text[-1] == text[0]:
        inner = text[1:-1]
        if text[0] == "'":
            inner = inner.replace("''", "'")
        return re.sub(r"\\(.)", r"\1", inner)
    return text


def _identifier(word: str, text: str, fields: Fields) -> tuple[Entity, str]:
    head, dot, rest = word.partition(".")
    if dot and head.lower() in _PREFIXES:
        entity = _PREFIXES[head.lower()]
        key = _unquote(rest)
    else:
        entity, key = Entity.ATTRIBUTE, _unquote(word)
    if not key:
        raise FilterSyntaxError(f"filter {_echo(text)}: {word!r} has no name after the dot")
    if entity is Entity.TAG and key in _MLFLOW_TAGS and fields is RUN_FIELDS:
        entity, key = Entity.ATTRIBUTE, _MLFLOW_TAGS[key]
    if entity is Entity.ATTRIBUTE:
        key = fields.aliases.get(key, key)
        if key not in fields.attributes:
            raise FilterSyntaxError(
                f"filter {_echo(text)}: unknown identifier {word[:60]!r}; {fields.what} can be "
                f"filtered on {fields.describe()}"
            )
    elif entity not in fields.entities:
        raise FilterSyntaxError(
            f"filter {_echo(text)}: {fields.what} have no {entity.value}; they can be filtered "
            f"on {fields.describe()}"
        )
    return entity, key


class _Parser:
    def __init__(self, text: str, fields: Fields) -> None:
        self.text = text
        self.fields = fields
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def error(self, message: str) -> FilterSyntaxError:
        return FilterSyntaxError(f"filter {_echo(self.text)}: {message}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise self.error("ends too early; a clause needs a name, an operator and a value")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in words:
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        node = self.disjunction()
        tok = self.peek()
        if tok is not None:
            raise self.error(
                f"unexpected {tok[1][:60]!r} at character {tok[2]}; join clauses with 'and'"
            )
        return node

    def disjunction(self) -> Node:
        items = [self.conjunction()]
        while self.keyword("OR"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Node:
        items = [self.atom()]
        while self.keyword("AND"):
            items.append(self.atom())
        return items[0] if len(items) == 1 else And(tuple(items))

    def atom(self) -> Node:
        tok = self.peek()
        if tok and tok[0] == "lp":
            if self.depth >= MAX_DEPTH:
                raise self.error(
                    f"parentheses nest deeper than the limit of {MAX_DEPTH} (at character "
                    f"{tok[2]}); write the filter with fewer nested groups"
                )
            self.i += 1
            self.depth += 1
            node = self.disjunction()
            if self.take()[0] != "rp":
                raise self.error("a '(' is not closed")
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        kind, word, pos = self.take()
        if kind not in ("word", "bq", "str"):
            raise self.error(
                f"expected a name like {self.fields.example.split()[0]} at character {pos}, "
                f"got {word[:60]!r}"
            )
        entity, key = _identifier(
            word if kind == "word" else "attributes." + word, self.text, self.fields
        )
        op = self.operator()
        if op in NULL_OPS:
            return Comparison(entity, key, op, None)
        value = self.values() if op in SET_OPS else self.value()
        return self.checked(Comparison(entity, key, op, value), word)

    def operator(self) -> str:
        kind, word, pos = self.take()
        if kind == "op":
            return {"==": "=", "<>": "!="}.get(word, word)
        upper = word.upper()
        if kind == "word" and upper == "IS":
            return self._null("IS NOT NULL" if self.keyword("NOT") else "IS NULL")
        if kind == "word" and upper == "NOT":
            nxt = self.take()[1].upper()
            if nxt in ("LIKE", "ILIKE", "IN"):
                return "NOT " + nxt
            raise self.error(f"'NOT' must be followed by LIKE, ILIKE or IN, got {nxt[:60]!r}")
        if kind == "word" and upper in ("LIKE", "ILIKE", "IN"):
            return upper
        raise self.error(
            f"expected an operator at character {pos}, got {word[:60]!r}; operators are "
            "= != < <= > >= LIKE ILIKE IN 'NOT IN' 'IS NULL' 'IS NOT NULL'"
        )

    def _null(self, op: str) -> str:
        if not self.keyword("NULL"):
            raise self.error("'IS' must be followed by NULL or NOT NULL")
        return op

    def value(self) -> float | str:
        kind, word, pos = self.take()
        if kind == "num":
            return float(word)
        if kind == "str":
            return _unquote(word)
        raise self.error(
            f"expected a number or a quoted string at character {pos}, got {word[:60]!r}"
        )

    def values(self) -> tuple[float | str, ...]:
        if self.take()[0] != "lp":
            raise self.error("IN needs a list in parentheses, e.g. params.model IN ('gbm', 'rf')")
        items = [self.value()]
        while True:
            kind, word, _ = self.take()
            if kind == "rp":
                return tuple(items)
            if kind != "comma":
                raise self.error(f"expected ',' or ')' in the IN list, got {word[:60]!r}")
            items.append(self.value())

    def checked(self, c: Comparison, word: str) -> Comparison:
        numeric = c.entity is Entity.METRIC or (
            c.entity is Entity.ATTRIBUTE and self.fields.attributes[c.key] is Kind.NUMBER
        )
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        if numeric:
            if c.op in STRING_OPS:
                raise self.error(f"{word} is numeric; LIKE compares text")
            if any(not isinstance(v, float) for v in values):
                raise self.error(f"{word} is numeric; compare it with a number, not a string")
        else:
            if any(not isinstance(v, str) for v in values):
                raise self.error(
                    f"{word} holds text; compare it with a quoted string, e.g. {word} = '0.1'"
                )
        return c


def parse_filter(text: str | None, fields: Fields = RUN_FIELDS) -> Node | None:
    """Parse a filter string for ``fields`` (runs by default); None or blank means no filter."""
    if text is None or not text.strip():
        return None
    return _Parser(text, fields).parse()


def parse_order_by(clauses: list[str] | None, fields: Fields = RUN_FIELDS) -> list[OrderBy]:
    """Parse ``["metrics.auc DESC", "start_time"]`` into OrderBy items."""
    result: list[OrderBy] = []
    for clause in clauses or []:
        tokens = _tokenize(clause)
        if not tokens or tokens[0][0] not in ("word", "bq"):
            raise FilterSyntaxError(
                f"order_by {_echo(clause)}: expected a name and an optional ASC/DESC, "
                "e.g. 'metrics.auc DESC'"
            )
        word = tokens[0][1] if tokens[0][0] == "word" else "attributes." + tokens[0][1]
        entity, key = _identifier(word, clause, fields)
        ascending = True
        if len(tokens) == 2 and tokens[1][0] == "word" and tokens[1][1].upper() in ("ASC", "DESC"):
            ascending = tokens[1][1].upper() == "ASC"
        elif len(tokens) != 1:
            raise FilterSyntaxError(
                f"order_by {_echo(clause)}: expected a name and an optional ASC/DESC"
            )
        result.append(OrderBy(entity, key, ascending))
    return result


def quote(value: str) -> str:
    """``value`` as a string literal of the filter language (``'`` doubled), for building a
    filter from a plain value without letting it change the filter's meaning."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
