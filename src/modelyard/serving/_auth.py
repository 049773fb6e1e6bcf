"""Bearer tokens for the scoring server: stored as SHA-256 hashes, each with scopes."""

from __future__ import annotations

import hashlib
import secrets

from modelyard.serving._config import AuthConfig

TOKEN_PREFIX = "myd_"


def new_token() -> tuple[str, str]:
    """A fresh random token and the SHA-256 hash to put in the deployment file."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Authenticator:
    """Maps an ``Authorization`` header to the scopes it grants (None: no valid token)."""

    def __init__(self, config: AuthConfig | None) -> None:
        self.enabled = config is not None
        self._scopes: dict[str, frozenset[str]] = {}
        if config is not None:
            for token in config.tokens:
                self._scopes[token.sha256] = frozenset(token.scopes)

    def scopes(self, header: str | None) -> frozenset[str] | None:
        if not header or header[:7].lower() != "bearer ":
            return None
        return self._scopes.get(hash_token(header[7:].strip()))
