"""Test helpers on blob stores."""

from __future__ import annotations

from pathlib import Path

import fsspec

import modelyard as my


def overwrite_blob(client: my.Client, digest: str, data: bytes) -> None:
    """Replace the stored bytes of blob ``digest`` in place, as rot or an attacker would."""
    path = client.blobs.blob_path(digest)
    if client.blobs.is_local:
        Path(path).write_bytes(data)
    else:
        fsspec.filesystem("memory").pipe_file(path, data)
