"""A content-addressed blob store on fsspec: a local folder or an S3-compatible bucket.

A blob lives at ``<root>/blobs/<sha[:2]>/<sha[2:]>``. Writing the same bytes twice
stores them once. Writes are atomic: a local blob is written to a temporary file and
renamed into place; an S3 object appears only when its (multipart) upload completes.
Reads verify the sha256 before returning anything. Writing a blob that already exists
checks the stored one (its size, then its sha256) and replaces it, atomically, when it is
corrupt: logging the same bytes again repairs the store.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem

from modelyard.artifacts._paths import path_inside
from modelyard.artifacts._progress import callback_for
from modelyard.artifacts._read import Buffer, read_hashed
from modelyard.core.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ConfigurationError,
)
from modelyard.core.extras import missing
from modelyard.core.hashing import CHUNK_SIZE, check_digest, sha256_bytes, sha256_stream
from modelyard.core.validation import check_artifact_path

log = logging.getLogger("modelyard.artifacts")
_Data = TypeVar("_Data", bytes, Buffer)

# fsspec protocol -> the package that implements it (its extra comes from core.extras)
_PROTOCOL_PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class ContentAddressedStore:
    """Blobs addressed by their sha256 under one fsspec root."""

    def __init__(self, uri: str, storage_options: dict[str, Any] | None = None) -> None:
        self.uri = uri.rstrip("/")
        options = dict(storage_options or {})
        protocol = self.uri.split("://", 1)[0] if "://" in self.uri else "file"
        if protocol == "s3" and "endpoint_url" not in options:
            endpoint = os.environ.get("MODELYARD_S3_ENDPOINT_URL") or os.environ.get(
                "AWS_ENDPOINT_URL"
            )
            if endpoint:
                options["endpoint_url"] = endpoint
        try:
            self._fs, self._root = fsspec.core.url_to_fs(self.uri, **options)
        except ImportError as error:
            if protocol in _PROTOCOL_PACKAGES:
                raise missing(_PROTOCOL_PACKAGES[protocol], f"Artifacts at {protocol}://") from error
            raise ConfigurationError(
                f"artifact URI {self.uri[:200]!r}: modelyard has no extra for {protocol}://, and "
                f"fsspec cannot open it here ({error}); use a folder, s3://, gs:// or az://"
            ) from error
        except ValueError as error:
            raise ConfigurationError(f"artifact URI {self.uri!r} is not usable: {error}") from error
        self._local = isinstance(self._fs, LocalFileSystem)
        if self._local:
            Path(self._root).mkdir(parents=True, exist_ok=True)

    @property
    def is_local(self) -> bool:
        return self._local

    def blob_path(self, digest: str) -> str:
        check_digest(digest)
        return f"{self._root}/blobs/{digest[:2]}/{digest[2:]}"

    def exists(self, digest: str) -> bool:
        try:
            return bool(self._fs.exists(self.blob_path(digest)))
        except OSError as error:
            raise ArtifactError(
                f"artifact store {self.uri!r} cannot be reached: {error}"
            ) from error

    def _intact(self, digest: str, size: int) -> bool:
        """Whether the stored blob exists and holds exactly the bytes ``digest`` names.

        The size is compared first (one metadata call), so a truncated or grown blob is
        found without reading it; an equal size is then confirmed by hashing the blob.
        """
        path = self.blob_path(digest)
        try:
            stored = int(self._fs.size(path))
        except FileNotFoundError:
            return False
        except OSError as error:
            raise ArtifactError(
                f"artifact store {self.uri!r} cannot be reached: {error}"
            ) from error
        if stored == size:
            try:
                with self._fs.open(path, "rb") as handle:
                    actual, _ = sha256_stream(handle)
            except FileNotFoundError:
                return False
            except OSError as error:
                raise ArtifactError(f"cannot read blob {digest} from {self.uri!r}: {error}") from error
            if actual == digest:
                return True
        log.warning("blob %s in %s is corrupt; replacing it with the bytes just written", digest, self.uri)
        return False

    # -- writes ------------------------------------------------------------------------

    def put_file(self, local_path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a local file; return its (sha256, size). Idempotent."""
        path = Path(local_path)
        if not path.is_file():
            raise ArtifactError(f"cannot log {str(path)!r}: it is not a readable file")
        if self._local:
            return self._put_local(path)
        digest, size = _hash_file(path)
        if not self._intact(digest, size):
            target = self.blob_path(digest)
            try:
                with callback_for(f"upload {path.name}", size) as callback:
                    self._fs.put_file(str(path), target, callback=callback)
            except OSError as error:
                raise ArtifactError(
                    f"upload of {str(path)!r} to {self.uri!r} failed: {error}"
                ) from error
        return digest, size

    def _put_local(self, path: Path) -> tuple[str, int]:
        tmp_dir = Path(self._root) / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        expected = path.stat().st_size
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        try:
            with (
                open(path, "rb") as source,
                os.fdopen(fd, "wb") as sink,
                callback_for(f"store {path.name}", expected) as callback,
            ):
                while chunk := source.read(CHUNK_SIZE):
                    digest.update(chunk)
                    sink.write(chunk)
                    size += len(chunk)
                    callback.relative_update(len(chunk))
                sink.flush()
                os.fsync(sink.fileno())
            return self._commit_local(tmp_name, digest.hexdigest(), size), size
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def _commit_local(self, tmp_name: str, digest: str, size: int) -> str:
        """Rename the verified temporary file into place unless an intact blob is there."""
        if not self._intact(digest, size):
            final = Path(self.blob_path(digest))
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
        return digest

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return its (sha256, size)."""
        digest = sha256_bytes(data)
        if self._local:
            tmp_dir = Path(self._root) / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            tmp_name = str(tmp_dir / f"blob-{uuid.uuid4().hex}")
            try:
                with open(tmp_name, "wb") as sink:
                    sink.write(data)
                    sink.flush()
                    os.fsync(sink.fileno())
                self._commit_local(tmp_name, digest, len(data))
            finally:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
        elif not self._intact(digest, len(data)):
            try:
                self._fs.pipe_file(self.blob_path(digest), data)
            except OSError as error:
                raise ArtifactError(f"upload to {self.uri!r} failed: {error}") from error
        return digest, len(data)

    # -- reads ------------------------------------------------------------------------

    def _corrupt(self, digest: str, actual: str) -> ArtifactIntegrityError:
        return ArtifactIntegrityError(
            f"blob {digest} in {self.uri!r} is corrupted: its bytes hash to {actual}; "
            "it was not used. Log the same file again (that replaces the stored blob), or "
            "restore the blob from a backup"
        )

    def get_bytes(self, digest: str) -> bytes:
        """The blob's bytes, after checking they hash to ``digest``."""
        def read(path: str) -> tuple[bytes, str]:
            data: bytes = self._fs.cat_file(path)
            return data, sha256_bytes(data)

        return self._checked(digest, read)

    def read_blob(self, digest: str) -> Buffer:
        """The blob's bytes in a new buffer, read once and hashed as read (``read_hashed``),
        after checking they hash to ``digest``: what a loader unpickles in place. Local
        stores only (others fetch into a cache)."""
        if not self._local:
            raise ArtifactError(f"read_blob reads a local store's blobs; {self.uri!r} is not local")
        return self._checked(digest, read_hashed)

    def _checked(self, digest: str, read: Callable[[str], tuple[_Data, str]]) -> _Data:
        """``read``'s bytes of the blob ``digest`` (read returns them and their sha256),
        refused unless they hash to ``digest``; a missing or unreadable blob is an
        ArtifactError naming it."""
        try:
            data, actual = read(self.blob_path(digest))
        except FileNotFoundError as error:
            raise ArtifactError(
                f"blob {digest} is missing from the artifact store {self.uri!r}"
            ) from error
        except OSError as error:
            raise ArtifactError(f"cannot read blob {digest} from {self.uri!r}: {error}") from error
        if actual != digest:
            raise self._corrupt(digest, actual)
        return data

    def get_file(self, digest: str, destination: str | os.PathLike[str], size: int = 0) -> Path:
        """Copy the blob to ``destination``, verified, written atomically."""
        dest = Path(destination)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        hasher = hashlib.sha256()
        try:
            with (
                os.fdopen(fd, "wb") as sink,
                self._fs.open(self.blob_path(digest), "rb") as source,
                callback_for(f"download {dest.name}", size) as callback,
            ):
                while chunk := source.read(CHUNK_SIZE):
                    hasher.update(chunk)
                    sink.write(chunk)
                    callback.relative_update(len(chunk))
            actual = hasher.hexdigest()
            if actual != digest:
                raise self._corrupt(digest, actual)
            os.replace(tmp_name, dest)
            return dest
        except FileNotFoundError as error:
            raise ArtifactError(
                f"blob {digest} is missing from the artifact store {self.uri!r}"
            ) from error
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def get_tree(self, files: Mapping[str, tuple[str, int]], root: str | os.PathLike[str]) -> Path:
        """Copy blobs to ``root/<name>`` for each ``name -> (sha256, size)``, each verified.

        Every name is checked (``check_artifact_path``) before anything is written, and each
        destination is resolved and must stay inside ``root`` right before it is written.
        """
        base = Path(root)
        for name in files:
            check_artifact_path(name, "file name")
        base.mkdir(parents=True, exist_ok=True)
        for name, (digest, size) in files.items():
            self.get_file(digest, path_inside(base, name, "file name"), size)
        return base

    def open_blob(self, digest: str) -> BinaryIO:
        """The blob opened for reading, unverified: for streaming it on, where the reader
        checks the sha256 at the end (``get_bytes`` and ``get_file`` check it here)."""
        try:
            handle: BinaryIO = self._fs.open(self.blob_path(digest), "rb")
        except FileNotFoundError as error:
            raise ArtifactError(
                f"blob {digest} is missing from the artifact store {self.uri!r}"
            ) from error
        except OSError as error:
            raise ArtifactError(f"cannot read blob {digest} from {self.uri!r}: {error}") from error
        return handle
