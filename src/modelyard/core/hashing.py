"""Content hashing: sha256, the address of every stored blob."""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

from modelyard.core.errors import ValidationError

CHUNK_SIZE = 1 << 20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    """The hex sha256 and the byte count of everything left in ``stream``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a hex sha256, else raise ValidationError."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValidationError(
            f"digest {digest!r} is not a sha256: expected 64 lowercase hex characters"
        )
    return digest
