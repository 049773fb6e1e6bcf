"""Fetching a version's files into a local cache, verified, and keeping loaded models.

The trust boundary of loading: the registry's record of a version (its manifest digest
and file map) is trusted; the local disk cache is not. A cache entry is used only after
its manifest's bytes hash to the registered digest and every file hashes to its recorded
sha256; an entry that fails is discarded and fetched again from the blob store, whose
reads are verified too. Every file name is a bundle path (``check_bundle_path``) and
every write lands inside the fetch's staging folder.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import orjson

from modelyard.artifacts import ContentAddressedStore
from modelyard.core.errors import IntegrityError, ValidationError
from modelyard.core.hashing import check_digest
from modelyard.core.models import ModelVersion
from modelyard.core.settings import home_dir
from modelyard.core.validation import check_bundle_path
from modelyard.flavors import MANIFEST, Model, load_verified, verified_manifest
from modelyard.store._remote import HttpBlobStore

log = logging.getLogger("modelyard.registry")

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


def checked_files(
    files: Mapping[str, tuple[str, int]], uri: str, manifest_digest: str | None = None
) -> dict[str, tuple[str, int]]:
    """A version's recorded file map, every name a bundle path and every digest a sha256.

    A record that breaks this (written into the store by other means than registering)
    is an IntegrityError: nothing of it is fetched or written."""
    try:
        if manifest_digest is not None:
            check_digest(manifest_digest)
        if MANIFEST not in files:
            raise ValidationError(f"it records no {MANIFEST}")
        if manifest_digest is not None and files[MANIFEST][0] != manifest_digest:
            raise ValidationError(f"its {MANIFEST} is not the registered manifest digest")
        for name, (digest, _size) in files.items():
            check_bundle_path(name)
            check_digest(digest)
    except (ValidationError, TypeError, ValueError) as error:
        raise IntegrityError(
            f"the registry's record of {uri} is not a safe bundle ({error}); it was not loaded"
        ) from None
    return dict(files)


def fetch_bundle(
    files: Mapping[str, tuple[str, int]], blobs: ContentAddressedStore | HttpBlobStore, target: Path, uri: str
) -> bool:
    """Copy a version's files into the new folder ``target``, each verified against its
    sha256 and written inside a staging folder that is renamed into place at the end.

    False when another process renamed its copy into place first (then ``target`` holds
    files this call did not verify)."""
    checked = checked_files(files, uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target.parent))
    try:
        blobs.get_tree(checked, staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            return False
        return True
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def fetch_and_load(
    version: ModelVersion, blobs: ContentAddressedStore | HttpBlobStore, uri: str, engine: str = "native"
) -> Model:
    """The version's model: from memory, else from the disk cache (re-verified), else from
    the artifact store (verified while copied). Nothing is parsed or unpickled before its
    bytes match the digests recorded at registration; a cache entry that does not match is
    discarded and fetched again."""
    key = f"{version.manifest_digest}:{engine}"
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    files = checked_files(version.files, uri, version.manifest_digest)
    expected = {path: digest for path, (digest, _) in files.items()}
    folder = cache_root() / version.manifest_digest
    manifest = None
    if folder.exists():
        try:
            manifest = verified_manifest(folder, expected, uri=uri)
        except IntegrityError as error:
            log.warning("%s; discarding the cached copy and fetching it again", error)
            shutil.rmtree(folder, ignore_errors=True)
    if manifest is None:
        ours = fetch_bundle(files, blobs, folder, uri)
        # our copy's blobs were verified while copied; the manifest is hashed again as read
        manifest = verified_manifest(folder, expected, uri=uri, check_files=not ours)
    model = load_verified(folder, manifest, uri=uri, engine=engine)
    CACHE.put(key, model)
    return model


class _Located:
    """What loading needs of a version, read by RegistryStore.locate."""

    def __init__(self, name: str, version: int, digest: str, files_json: str) -> None:
        self.manifest_digest = digest
        self.files = {k: (v[0], v[1]) for k, v in orjson.loads(files_json).items()}
        self.uri = f"models:/{name}/{version}"


def load_located(
    name: str, version: int, digest: str, files_json: str, blobs: ContentAddressedStore | HttpBlobStore, engine: str
) -> Model:
    """``fetch_and_load`` for the one-query hot path: from memory without parsing anything."""
    cached = CACHE.get(f"{digest}:{engine}")
    if cached is not None:
        return cached
    located = _Located(name, version, digest, files_json)
    return fetch_and_load(located, blobs, located.uri, engine)  # type: ignore[arg-type]
