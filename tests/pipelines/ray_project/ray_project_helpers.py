"""A module beside the pipeline file: the cluster's workers import it only if it is shipped."""

from __future__ import annotations


def total(xs: list[int]) -> int:
    return sum(xs)


def shout(text: str) -> str:
    return text.upper() + "!"
