"""How numbers are shown to people, the same in the CLI, reports and cards (no I/O)."""

from __future__ import annotations


def number(value: float | None) -> str:
    """Four significant digits; ``-`` for a missing value, ``nan`` for NaN."""
    if value is None:
        return "-"
    if value != value:  # NaN
        return "nan"
    return f"{value:.4g}"
