"""Loading a registered version's model, verified, and keeping loaded models.

The trust boundary of loading: the registry's record of a version (its manifest digest
and file map) is trusted; the blob store and the local disk cache are not. Nothing is
parsed or unpickled before its bytes hash to what registration recorded.

From a local blob store a version loads in place: each file is read once into memory from
its blob, hashed, and loaded from those same bytes (``BundleFolder.in_place``), with no
copy into the cache. In memory rather than through an open file descriptor, because a
descriptor does not pin the bytes (anyone who can write the blob can change them between
the hash and the load), and reading the bytes twice would cost a second pass.

From a remote store (S3, a team server), or when a flavor needs files on disk (a
PythonModel's artifacts), the files are copied into a local cache, verified while copied,
and hashed again as the flavor reads them. A cache entry whose manifest does not match, or
whose files fail as they are read, is discarded and fetched again from the blob store.
Every file name is a bundle path (``check_bundle_path``) and every write lands inside the
fetch's staging folder.
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
from modelyard.flavors import MANIFEST, BundleFolder, Model, load_verified, verified_manifest
from modelyard.flavors._bundle import load_from, manifest_from_bytes
from modelyard.flavors._manifest import FolderNeeded
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
    """The version's model: from memory, else in place from a local blob store, else from
    the disk cache (fetched, verified while copied, when missing or bad). Nothing is parsed
    or unpickled before its bytes match the digests recorded at registration."""
    key = f"{version.manifest_digest}:{engine}"
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    files = checked_files(version.files, uri, version.manifest_digest)
    expected = {path: digest for path, (digest, _) in files.items()}
    model = None
    if isinstance(blobs, ContentAddressedStore) and blobs.is_local:
        model = _load_in_place(expected, blobs, uri, engine)
    if model is None:
        model = _load_cached(files, expected, blobs, uri, engine, version.manifest_digest)
    CACHE.put(key, model)
    return model


def _load_in_place(
    expected: Mapping[str, str], blobs: ContentAddressedStore, uri: str, engine: str
) -> Model | None:
    """The model loaded from the blobs themselves (each read once, hashed, then loaded from
    the same bytes; see the module's docstring), or None when its flavor needs a folder."""
    data = blobs.read_blob(expected[MANIFEST])
    manifest = manifest_from_bytes(data, expected, where=uri, place=blobs.uri)
    bundle = BundleFolder.in_place(manifest.files, blobs.read_blob, uri)
    try:
        return load_from(bundle, manifest, uri=uri, engine=engine)
    except FolderNeeded:
        return None


def _load_cached(
    files: Mapping[str, tuple[str, int]],
    expected: Mapping[str, str],
    blobs: ContentAddressedStore | HttpBlobStore,
    uri: str,
    engine: str,
    digest: str,
) -> Model:
    """The model loaded from its folder in the disk cache, fetched first when missing; an
    entry that fails verification (its manifest, or a file as it is read) is fetched again."""
    folder = cache_root() / digest
    if folder.exists():
        try:
            return load_verified(
                folder, verified_manifest(folder, expected, uri=uri, check_files=False), uri=uri, engine=engine
            )
        except IntegrityError as error:
            log.warning("%s; discarding the cached copy and fetching it again", error)
            shutil.rmtree(folder, ignore_errors=True)
    fetch_bundle(files, blobs, folder, uri)
    manifest = verified_manifest(folder, expected, uri=uri, check_files=False)
    return load_verified(folder, manifest, uri=uri, engine=engine)


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
