"""Bearer tokens: random, shown once, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "myd_"


def new_token() -> tuple[str, str]:
    """A fresh random token and the SHA-256 hash to store in its place."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
