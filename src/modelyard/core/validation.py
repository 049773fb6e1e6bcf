"""Checks of user input: keys, values, names. Each error names the field and the problem."""

from __future__ import annotations

import math
import numbers
import re
from datetime import timedelta
from functools import lru_cache

from modelyard.core.errors import ValidationError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 256

_KEY_CHARS = re.compile(r"^[A-Za-z0-9_\-. /:]+$")


@lru_cache(maxsize=4096)
def check_key(key: str, what: str = "key") -> str:
    """Return ``key`` if it may name a metric, param, tag or artifact; else raise.

    Keys are 1-250 characters of letters, digits, ``_ - . / : `` and spaces; they
    may not be absolute or climb out of their folder (``..``), since keys also
    name files in exported runs.
    """
    if not isinstance(key, str):
        raise ValidationError(f"{what} must be a string, got {type(key).__name__}: {key!r}")
    if not key.strip():
        raise ValidationError(f"{what} is empty; give it a name such as 'accuracy'")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"{what} {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        )
    if not _KEY_CHARS.match(key):
        bad = sorted({c for c in key if not _KEY_CHARS.match(c)})
        raise ValidationError(
            f"{what} {key!r} contains {''.join(bad)!r}; allowed are letters, digits, "
            "'_', '-', '.', '/', ':' and spaces"
        )
    parts = key.split("/")
    if key.startswith("/") or any(p in ("..", ".") for p in parts):
        raise ValidationError(
            f"{what} {key!r} is path-like (absolute or with '.'/'..' segments); "
            "use a relative name such as 'train/loss'"
        )
    return key


def check_metric_value(key: str, value: object) -> float:
    """Return ``value`` as a float; reject what is not a real number."""
    if isinstance(value, float):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(
            f"metric {key!r} got value {str(value)[:60]!r} of type {type(value).__name__}; "
            "metric values must be numbers (log text as a param or tag)"
        )
    return float(value)


def check_step(key: str, step: object) -> int:
    """Return ``step`` as an int; reject fractional or non-numeric steps."""
    if isinstance(step, int) and not isinstance(step, bool):
        return step
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        return int(step)
    raise ValidationError(
        f"metric {key!r} got step {step!r} of type {type(step).__name__}; steps are integers"
    )


def check_timestamp(key: str, timestamp: object) -> int:
    """Return ``timestamp`` (milliseconds since the epoch) as an int."""
    if isinstance(timestamp, numbers.Integral) and not isinstance(timestamp, bool):
        return int(timestamp)
    if isinstance(timestamp, float) and math.isfinite(timestamp):
        return int(timestamp)
    raise ValidationError(
        f"metric {key!r} got timestamp {timestamp!r}; timestamps are integer milliseconds"
    )


def param_value(key: str, value: object) -> str:
    """Params are stored as text; return ``value``'s text, checking its length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise ValidationError(
            f"param {key!r} has a value of {len(text)} characters; the limit is "
            f"{MAX_PARAM_VALUE_LENGTH} (log long text with log_text as an artifact)"
        )
    return text


def tag_value(key: str, value: object) -> str:
    """Tags are stored as text; return ``value``'s text, checking its length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise ValidationError(
            f"tag {key!r} has a value of {len(text)} characters; the limit is "
            f"{MAX_TAG_VALUE_LENGTH}"
        )
    return text


def check_name(name: object, what: str) -> str:
    """Return ``name`` if it can name an experiment, run or dataset."""
    if not isinstance(name, str):
        raise ValidationError(f"{what} must be a string, got {type(name).__name__}")
    if not name.strip():
        raise ValidationError(f"{what} is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{what} {name[:40]!r}... is {len(name)} characters long; the limit is "
            f"{MAX_NAME_LENGTH}"
        )
    return name


_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PATH_LENGTH = 1024


def check_artifact_path(path: object, what: str = "artifact path") -> str:
    """Normalize a relative path of a stored file ('' for the root); reject escapes.

    The one rule for the names of stored files (run artifacts, the files of a model
    bundle): they may hold any printable characters (they name users' files), but never
    start at a filesystem root or a drive (``/x``, ``C:/x``, ``C:x``), climb out with
    ``..``, or hold control characters (NUL included). Backslashes count as separators,
    so ``a\\..\\..\\x`` is refused here as it would be on Windows.
    """
    if path is None:
        return ""
    if not isinstance(path, str):
        raise ValidationError(f"{what} must be a string, got {type(path).__name__}")
    shown = repr(path[:80]) + ("..." if len(path) > 80 else "")
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise ValidationError(f"{what} {shown} contains control characters; remove them")
    cleaned = path.replace("\\", "/")
    if cleaned.startswith("/"):
        raise ValidationError(
            f"{what} {shown} is absolute; give a path relative to its folder, e.g. 'plots'"
        )
    if _DRIVE.match(cleaned):
        raise ValidationError(
            f"{what} {shown} starts with a drive letter; give a path relative to its folder, "
            "e.g. 'plots'"
        )
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValidationError(f"{what} {shown} climbs out of its folder with '..'")
    joined = "/".join(parts)
    if len(joined) > MAX_PATH_LENGTH:
        raise ValidationError(
            f"{what} is {len(joined)} characters; the limit is {MAX_PATH_LENGTH}"
        )
    return joined


def check_bundle_path(path: object) -> str:
    """Return ``path`` if it may name a file inside a model bundle; else raise.

    ``check_artifact_path``'s rule, and the name must already be in its normal form
    (forward slashes, no empty or ``.`` segments), so that one name means one file on
    every system and no two names of a manifest land on the same file.
    """
    what = "bundle file name"
    if isinstance(path, str) and "\\" in path:
        raise ValidationError(
            f"{what} {path[:80]!r} contains a backslash; bundle file names use '/' only"
        )
    cleaned = check_artifact_path(path, what)
    if not cleaned:
        raise ValidationError(f"{what} is empty")
    if cleaned != path:
        raise ValidationError(
            f"{what} {str(path)[:80]!r} is not in normal form; write it as {cleaned[:80]!r}"
        )
    return cleaned


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: object, what: str = "duration") -> timedelta:
    """``90s``, ``30m``, ``6h``, ``1d``, ``2w`` as a positive timedelta."""
    match = _DURATION.match(str(text).lower())
    if match is None or int(match.group(1)) <= 0:
        raise ValidationError(f"{what} {text!r} is not a duration like 90s, 30m, 6h, 1d or 2w")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})
