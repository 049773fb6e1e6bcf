"""Query parameters read the same way by every operation: a missing or malformed one is a
ValidationError (400) that names it, never a KeyError (500)."""

from __future__ import annotations

from modelyard.core.errors import ValidationError
from modelyard.server._operations import Call

_MAX_INT = 2**63 - 1


def required(call: Call, name: str) -> str:
    value = call.query.get(name, "")
    if not value:
        raise ValidationError(f"query parameter {name!r} is missing")
    return value


def optional_int(
    call: Call, name: str, *, low: int = -_MAX_INT, high: int = _MAX_INT
) -> int | None:
    raw = call.query.get(name, "")
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"query parameter {name!r} must be a whole number") from None
    if not low <= value <= high:
        raise ValidationError(f"query parameter {name!r} must be from {low} to {high}")
    return value


def required_int(call: Call, name: str, *, low: int = -_MAX_INT, high: int = _MAX_INT) -> int:
    value = optional_int(call, name, low=low, high=high)
    if value is None:
        raise ValidationError(f"query parameter {name!r} is missing")
    return value
