"""Memorable run names, like ``brave-otter-417``."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber", "bold", "brave", "calm", "clever", "crisp", "daring", "eager", "fierce", "gentle",
    "glad", "golden", "honest", "keen", "lively", "lucky", "merry", "nimble", "proud", "quick",
    "quiet", "rapid", "sharp", "shy", "silent", "sleek", "smart", "steady", "sunny", "swift",
    "tidy", "vivid", "warm", "wise", "witty", "zesty",
)
_NOUNS = (
    "badger", "bear", "bee", "crane", "deer", "dolphin", "eagle", "falcon", "finch", "fox",
    "gecko", "hare", "hawk", "heron", "ibis", "koala", "lark", "lemur", "lynx", "mole", "moth",
    "newt", "otter", "owl", "panda", "puffin", "quail", "raven", "robin", "seal", "shrew",
    "sloth", "swan", "tiger", "toad", "wolf", "wren", "yak",
)
_random = random.Random()


def run_name() -> str:
    return f"{_random.choice(_ADJECTIVES)}-{_random.choice(_NOUNS)}-{_random.randint(100, 999)}"
