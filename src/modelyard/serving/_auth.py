"""Bearer tokens for the scoring server: stored as SHA-256 hashes, each with scopes."""

from __future__ import annotations

from modelyard.http import hash_token
from modelyard.serving._config import AuthConfig


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
