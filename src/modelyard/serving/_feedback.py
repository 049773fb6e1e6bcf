"""Feedback bodies, checked field by field at the HTTP edge: every value that reaches the
prediction log has the type and range its Parquet column holds, so no request can make a
write fail later."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.data._predlog import Feedback
from modelyard.http import shown

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
FIELDS = ("label", "request_id", "entity_key", "row", "endpoint")
MAX_ITEMS = 10_000
MAX_TEXT = 256  # label text and entity keys
ROW_MAX = 2**31 - 1  # the log's row column is int32
_HINT = "an object with 'label' and 'request_id' or 'entity_key'"


def _kind(value: Any) -> str:
    return (
        "null"
        if value is None
        else {dict: "an object", list: "a list", bool: "a boolean", str: "a string"}.get(
            type(value), "a number"
        )
    )


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_feedback(data: Any, endpoints: Collection[str], now: float) -> list[Feedback]:
    """The feedback items of a request body: one item, or ``{"feedback": [...]}``. Raises
    ValidationError (a 400) naming the field; values are described, never echoed."""
    if not isinstance(data, dict):
        raise ValidationError(
            f"request body must be {_HINT}, or {{'feedback': [...]}}; got {_kind(data)}"
        )
    batch = "feedback" in data
    items = data["feedback"] if batch else [data]
    if batch and len(data) > 1:
        extra = sorted(k for k in data if k != "feedback")
        raise ValidationError(f"unknown field {shown(extra[0])} beside 'feedback'")
    if not isinstance(items, list) or not items:
        raise ValidationError("'feedback' must be a non-empty list")
    if len(items) > MAX_ITEMS:
        raise ValidationError(
            f"'feedback' holds {len(items)} items; at most {MAX_ITEMS} per request"
        )
    return [
        _item(item, f"feedback[{i}]" if batch else "body", endpoints, now)
        for i, item in enumerate(items)
    ]


def _item(item: Any, where: str, endpoints: Collection[str], now: float) -> Feedback:
    if not isinstance(item, dict):
        raise ValidationError(f"{where} must be {_HINT}; got {_kind(item)}")
    unknown = [k for k in item if k not in FIELDS]
    if unknown:
        raise ValidationError(
            f"{where} has the unknown field {shown(unknown[0])}; fields are {list(FIELDS)}"
        )
    if "label" not in item:
        raise ValidationError(f"{where} has no 'label'")
    label = item["label"]
    if not isinstance(label, int | float | str):  # bool is an int
        raise ValidationError(
            f"{where}.label must be a number, a string or a boolean; got {_kind(label)}"
        )
    if isinstance(label, str) and len(label) > MAX_TEXT:
        raise ValidationError(f"{where}.label is {len(label)} characters; at most {MAX_TEXT}")
    if isinstance(label, int) and not isinstance(label, bool) and abs(label) > 2**53:
        raise ValidationError(
            f"{where}.label is an integer too large to store exactly (beyond 2**53)"
        )
    rid, key = item.get("request_id"), item.get("entity_key")
    if rid is None and key is None:
        raise ValidationError(f"{where} needs 'request_id' or 'entity_key' to match a prediction")
    if rid is not None and not (isinstance(rid, str) and REQUEST_ID.match(rid)):
        raise ValidationError(
            f"{where}.request_id must be a request id as returned by the server (1-64 of A-Z a-z 0-9 . _ : -)"
        )
    if key is not None:
        if not (isinstance(key, str) or _integer(key)):
            raise ValidationError(
                f"{where}.entity_key must be a string or an integer; got {_kind(key)}"
            )
        key = str(key)
        if len(key) > MAX_TEXT:
            raise ValidationError(
                f"{where}.entity_key is {len(key)} characters; at most {MAX_TEXT}"
            )
    row = item.get("row")
    if row is not None and not (_integer(row) and 0 <= row <= ROW_MAX):
        raise ValidationError(f"{where}.row must be an integer from 0 to {ROW_MAX}")
    endpoint = item.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise ValidationError(f"{where}.endpoint must be a string; got {_kind(endpoint)}")
        if endpoint not in endpoints:
            raise ValidationError(
                f"{where}.endpoint {shown(endpoint)} is not served here; served: {sorted(endpoints)}"
            )
    return Feedback(now, label, rid, row, key, endpoint)
