"""Entity keys: how an entity's join-key values are checked and named in the online store.

An online key is unambiguous and typed. Each join-key value becomes ``<tag><bytes>:<text>``,
where the tag is ``i`` (an integer, in decimal) or ``s`` (a string), and ``<bytes>`` is the
UTF-8 length of the text; a composite key is its parts in join-key order. So
``("a|b", "c")`` is ``s3:a|bs1:c`` and ``("a", "b|c")`` is ``s1:as3:b|c``, and the integer
``1`` (``i1:1``) is never the string ``"1"`` (``s1:1``). ``encode_batch`` in ``_online``
builds the same text column-wise with Arrow.

Values are checked against the entity's declared ``dtype`` before any lookup:

* ``Int64`` / ``Int32`` keys take integers (Python or NumPy) in range. ``"1"``, ``1.0``,
  ``true`` and ``null`` are refused, not guessed: a key matches exactly or not at all.
* ``String`` keys take strings. ``1`` is refused (send ``"1"``).

Request values of on-demand feature views (``RequestSource`` fields) are checked the same way
against their field's dtype, except that they may be null.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.core.errors import ValidationError
from modelyard.core.signature import DType

KEY_DTYPES = (DType.INT64, DType.INT32, DType.STRING)
_RANGE = {DType.INT64: (-(2**63), 2**63 - 1), DType.INT32: (-(2**31), 2**31 - 1)}
NAME_CAP = 40  # characters of a client-supplied name quoted back in an error


def cap(name: object) -> str:
    """A client-supplied name, quoted and cut to ``NAME_CAP`` characters, for an error message."""
    text = str(name)
    return repr(text if len(text) <= NAME_CAP else text[:NAME_CAP] + "…")


@dataclass(frozen=True)
class KeySpec:
    """One join key of a feature view: its name, type and the entity that declares it."""

    name: str
    dtype: DType
    entity: str


def _kind(value: object) -> str:
    """What a value is, in JSON's words (the value itself is never quoted back)."""
    if value is None:
        return "null"
    if isinstance(value, bool) or type(value).__name__ in ("bool_", "bool"):
        return "a boolean"
    if isinstance(value, numbers.Integral):
        return "an integer"
    if isinstance(value, numbers.Real):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def key_error(value: object, spec: KeySpec, where: str) -> ValidationError:
    """Why ``value`` is not a valid ``spec`` key (it is assumed not to be)."""
    declared = f"entity {spec.entity!r} declares {spec.dtype.value} join keys"
    got = _kind(value)
    if value is None:
        return ValidationError(
            f"{where} is null; every entity row needs a value for the join key {spec.name!r}"
        )
    if spec.dtype is DType.STRING:
        hint = " (send \"1\", not 1)" if got == "an integer" else ""
        if isinstance(value, str):  # only a string that is not valid UTF-8 gets here
            return ValidationError(f"{where} is not valid Unicode text ({declared})")
        return ValidationError(f"{where} must be a string ({declared}), got {got}{hint}")
    low, high = _RANGE[spec.dtype]
    if got == "an integer":
        return ValidationError(
            f"{where} is outside the {spec.dtype.value} range [{low}, {high}] ({declared})"
        )
    hint = ""
    if got == "a string":
        hint = " (send 1, not \"1\")"
    elif got == "a number with a fraction or exponent":
        hint = " (integer keys match exactly: send 1, not 1.0)"
    return ValidationError(f"{where} must be an integer ({declared}), got {got}{hint}")


def key_part(value: object, dtype: DType) -> str | None:
    """The key text of one join-key value, or None when it is not a valid ``dtype`` value."""
    if dtype is DType.STRING:
        if not isinstance(value, str):
            return None
        try:
            return f"s{len(value.encode())}:{value}"
        except UnicodeEncodeError:  # a lone surrogate
            return None
    if type(value) is int:  # the common case, without the slower ABC check below
        number = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    else:
        number = int(value)
    low, high = _RANGE[dtype]
    if not low <= number <= high:
        return None
    text = str(number)
    return f"i{len(text)}:{text}"


def encode_keys(
    columns: Sequence[Sequence[Any]], specs: Sequence[KeySpec], where: Callable[[str, int], str]
) -> list[str]:
    """The online key of every entity: ``columns`` holds one sequence per join key, in the
    order of ``specs``. Raises ValidationError naming ``where(key, row)`` for a bad value."""
    parts: list[list[str]] = []
    for values, spec in zip(columns, specs, strict=True):
        encoded = []
        for i, value in enumerate(values):
            part = key_part(value, spec.dtype)
            if part is None:
                raise key_error(value, spec, where(spec.name, i))
            encoded.append(part)
        parts.append(encoded)
    if len(parts) == 1:
        return parts[0]
    return ["".join(p) for p in zip(*parts, strict=True)]


def check_request_value(value: object, dtype: DType, where: str) -> None:
    """A request value of an on-demand feature view: null, or a value of ``dtype``."""
    if value is None:
        return
    ok: bool
    if dtype is DType.STRING or dtype is DType.DATETIME:
        ok = isinstance(value, str)
    elif dtype is DType.BOOL:
        ok = isinstance(value, bool)
    elif dtype.is_integer:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    else:
        ok = (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and math.isfinite(float(value))
        )
    if not ok:
        raise ValidationError(
            f"{where} must be {_expected(dtype)} or null (its request field is {dtype.value}), "
            f"got {_kind(value)}"
        )


def _expected(dtype: DType) -> str:
    if dtype is DType.STRING:
        return "a string"
    if dtype is DType.DATETIME:
        return "an ISO 8601 timestamp string"
    if dtype is DType.BOOL:
        return "true or false"
    if dtype.is_integer:
        return "an integer"
    return "a finite number"
