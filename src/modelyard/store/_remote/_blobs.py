"""``HttpBlobStore``: the content-addressed artifact store's methods over a team server's
``/api/v1/blobs/{sha256}`` routes (HEAD, PUT, GET).

Nothing is trusted on the way: an upload is named by the sha256 the client computed (the
server keeps it only if the bytes hash to it), and every download is hashed as it arrives and
kept only if it matches — so a model loaded through a server is verified as one loaded from a
local store."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from modelyard.core.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    NotFoundError,
    ValidationError,
)
from modelyard.core.hashing import CHUNK_SIZE, check_digest, sha256_bytes
from modelyard.core.validation import check_artifact_path
from modelyard.store._remote._transport import Transport


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _inside(root: Path, name: str) -> Path:
    """``root / name`` resolved, refused when it leaves ``root`` (as ``artifacts.path_inside``)."""
    clean = check_artifact_path(name, "file name")
    if not clean:
        raise ValidationError(f"file name is empty; name a file inside {str(root)!r}")
    base = root.resolve()
    target = (base / clean).resolve()
    if target == base or not target.is_relative_to(base):
        raise ValidationError(
            f"file name {clean[:80]!r} resolves outside {str(root)!r} (through a symbolic link); "
            "it was not used"
        )
    return target


class HttpBlobStore:
    """Blobs addressed by their sha256, kept by a team server."""

    is_local = False

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.uri = transport.base_url

    def _corrupt(self, digest: str, actual: str) -> ArtifactIntegrityError:
        return ArtifactIntegrityError(
            f"blob {digest} from {self.uri} arrived as bytes that hash to {actual}; it was not used"
        )

    def exists(self, digest: str) -> bool:
        response = self.transport.request("HEAD", f"/blobs/{check_digest(digest)}")
        return response.status_code == 200

    def _upload(
        self, digest: str, content: bytes | Callable[[], Iterator[bytes]], size: int
    ) -> None:
        self.transport.request(
            "PUT",
            f"/blobs/{digest}",
            content=content,
            headers={"content-type": "application/octet-stream", "content-length": str(size)},
        )

    def put_file(self, local_path: str | os.PathLike[str]) -> tuple[str, int]:
        """Upload a local file unless the server has it; return its (sha256, size)."""
        path = Path(local_path)
        if not path.is_file():
            raise ArtifactError(f"cannot log {str(path)!r}: it is not a readable file")
        digest, size = _hash_file(path)
        if not self.exists(digest):
            self._put_path(path, digest, size)
        return digest, size

    def _put_path(self, path: Path, digest: str, size: int) -> None:
        def chunks() -> Iterator[bytes]:  # streamed, and read again if the upload is retried
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    yield chunk

        self._upload(digest, chunks, size)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        digest = sha256_bytes(data)
        if not self.exists(digest):
            self._upload(digest, data, len(data))
        return digest, len(data)

    def get_bytes(self, digest: str) -> bytes:
        """The blob's bytes, after checking they hash to ``digest``."""
        data = self._fetch(digest)
        actual = sha256_bytes(data)
        if actual != digest:
            raise self._corrupt(digest, actual)
        return data

    def _fetch(self, digest: str) -> bytes:
        try:
            return self.transport.request("GET", f"/blobs/{check_digest(digest)}").content
        except NotFoundError as error:
            raise ArtifactError(
                f"blob {digest} is missing from the team server {self.uri}"
            ) from error

    def get_file(self, digest: str, destination: str | os.PathLike[str], size: int = 0) -> Path:
        """Download the blob to ``destination``, verified, written atomically."""
        dest = Path(destination)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        hasher = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as sink:
                try:
                    with self.transport.stream(f"/blobs/{check_digest(digest)}") as response:
                        for chunk in response.iter_bytes(CHUNK_SIZE):
                            hasher.update(chunk)
                            sink.write(chunk)
                except NotFoundError as error:
                    raise ArtifactError(
                        f"blob {digest} is missing from the team server {self.uri}"
                    ) from error
            actual = hasher.hexdigest()
            if actual != digest:
                raise self._corrupt(digest, actual)
            os.replace(tmp_name, dest)
            return dest
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def get_tree(self, files: Mapping[str, tuple[str, int]], root: str | os.PathLike[str]) -> Path:
        """Download blobs to ``root/<name>`` for each ``name -> (sha256, size)``, each
        verified; every name is checked before anything is written."""
        base = Path(root)
        for name in files:
            check_artifact_path(name, "file name")
        base.mkdir(parents=True, exist_ok=True)
        for name, (digest, size) in files.items():
            self.get_file(digest, _inside(base, name), size)
        return base
