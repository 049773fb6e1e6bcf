"""Fixtures of the registry tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import fsspec
import pytest

import modelyard as my


@pytest.fixture
def cached_client(store_url: str) -> Iterator[my.Client]:
    """A client whose blobs are not in a local folder (fsspec's in-memory filesystem, a
    real non-local backend), so its loads go through the local disk cache as loads from
    S3 or a team server do; a local store's versions load in place, without the cache."""
    root = f"memory://{uuid.uuid4().hex}"
    yield my.Client(store_url, artifact_uri=f"{root}/artifacts")
    fsspec.filesystem("memory").rm(root, recursive=True)
