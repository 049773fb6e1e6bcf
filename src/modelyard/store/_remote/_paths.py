"""Path segments of the native REST API, built from names that may hold any character."""

from __future__ import annotations

from urllib.parse import quote


def q(part: str | int) -> str:
    """One path segment, percent-encoded (``/`` included)."""
    return quote(str(part), safe="")
