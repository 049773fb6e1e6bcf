"""Fetching a version's files into a local cache, verified, and keeping loaded models."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import orjson

from modelyard.artifacts import ContentAddressedStore
from modelyard.core.models import ModelVersion
from modelyard.core.settings import home_dir
from modelyard.flavors import Model, load_bundle

_COMPLETE = ".complete"
_MAX_MODELS = 16


class ModelCache:
    """Loaded models by manifest digest (at most 16), and their files on local disk."""

    def __init__(self) -> None:
        self._models: OrderedDict[str, Model] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Model | None:
        with self._lock:
            model = self._models.get(digest)
            if model is not None:
                self._models.move_to_end(digest)
            return model

    def put(self, digest: str, model: Model) -> None:
        with self._lock:
            self._models[digest] = model
            self._models.move_to_end(digest)
            while len(self._models) > _MAX_MODELS:
                self._models.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


CACHE = ModelCache()


def cache_root() -> Path:
    return home_dir() / "cache" / "models"


def fetch_and_load(
    version: ModelVersion, blobs: ContentAddressedStore, uri: str, engine: str = "native"
) -> Model:
    """The version's model: from memory, else from the disk cache (re-verified), else from
    the artifact store (verified while copied). Nothing is unpickled before its bytes match
    the digests recorded at registration."""
    key = f"{version.manifest_digest}:{engine}"
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    expected = {path: digest for path, (digest, _) in version.files.items()}
    folder = cache_root() / version.manifest_digest
    if (folder / _COMPLETE).exists():
        model = load_bundle(folder, expected_files=expected, uri=uri, engine=engine)
    else:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=folder.parent))
        try:
            for path, (digest, size) in version.files.items():
                blobs.get_file(digest, staging / path, size)
            (staging / _COMPLETE).write_text(version.uri)
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        model = load_bundle(
            folder, expected_files=expected, uri=uri, already_verified=True, engine=engine
        )
    CACHE.put(key, model)
    return model


class _Located:
    """What loading needs of a version, read by RegistryStore.locate."""

    def __init__(self, name: str, version: int, digest: str, files_json: str) -> None:
        self.manifest_digest = digest
        self.files = {k: (v[0], v[1]) for k, v in orjson.loads(files_json).items()}
        self.uri = f"models:/{name}/{version}"


def load_located(
    name: str, version: int, digest: str, files_json: str, blobs: ContentAddressedStore, engine: str
) -> Model:
    """``fetch_and_load`` for the one-query hot path: from memory without parsing anything."""
    cached = CACHE.get(f"{digest}:{engine}")
    if cached is not None:
        return cached
    located = _Located(name, version, digest, files_json)
    return fetch_and_load(located, blobs, located.uri, engine)  # type: ignore[arg-type]
