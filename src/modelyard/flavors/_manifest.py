"""The bundle manifest, ``modelyard.yaml``: what a model folder holds and how to load it.

A bundle is its manifest. Every file it names is a relative path inside the bundle
(``check_bundle_path``: no absolute path, drive, ``..``, backslash or control character)
with its sha256; flavors open files only through ``BundleFolder``, which refuses names the
manifest does not list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelyard.artifacts import Buffer, path_inside, read_hashed
from modelyard.core.errors import IntegrityError, ValidationError
from modelyard.core.hashing import CHUNK_SIZE, check_digest
from modelyard.core.signature import Signature
from modelyard.core.validation import check_bundle_path

MANIFEST = "modelyard.yaml"
# libyaml's safe loader when PyYAML was built with it: the same documents, ~10x faster to parse
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FORMAT = "modelyard-bundle/1"


@dataclass
class Manifest:
    flavor: str
    framework: str
    framework_version: str
    python_version: str
    created_time: int
    signature: Signature | None
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    requirements: list[str] = field(default_factory=list)
    flavor_config: dict[str, Any] = field(default_factory=dict)
    input_example: str | None = None
    feature_importance: dict[str, float] | None = None
    source_format: str = FORMAT

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "flavor": self.flavor,
            "framework": self.framework,
            "framework_version": self.framework_version,
            "python_version": self.python_version,
            "created_time": self.created_time,
            "requirements": self.requirements,
            "signature": self.signature.to_dict() if self.signature else None,
            "input_example": self.input_example,
            "feature_importance": self.feature_importance,
            "flavor_config": self.flavor_config,
            "source_format": self.source_format,
            "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValidationError(
                f"{where} is not a modelyard bundle manifest (format {FORMAT!r} expected)"
            )
        files = data.get("files") or {}
        if not isinstance(files, dict):
            raise ValidationError(f"{where}: 'files' must map file names to sha256 digests")
        checked = _checked_files(files, where)
        example = data.get("input_example")
        if example is not None and example not in checked:
            raise ValidationError(
                f"{where}: input_example {str(example)[:80]!r} is not one of the files it lists"
            )
        try:
            signature = data.get("signature")
            return cls(
                flavor=str(data["flavor"]),
                framework=str(data["framework"]),
                framework_version=str(data["framework_version"]),
                python_version=str(data["python_version"]),
                created_time=int(data["created_time"]),
                signature=Signature.from_dict(signature) if signature else None,
                files=checked,
                requirements=[str(r) for r in data.get("requirements") or []],
                flavor_config=dict(data.get("flavor_config") or {}),
                input_example=data.get("input_example"),
                feature_importance=data.get("feature_importance"),
                source_format=str(data.get("source_format", FORMAT)),
            )
        except KeyError as error:
            raise ValidationError(f"{where} lacks the field {error.args[0]!r}") from None

    @classmethod
    def parse(cls, data: bytes | Buffer, where: str) -> Manifest:
        """The manifest in ``data`` (the bytes of a ``modelyard.yaml``)."""
        try:
            loaded = yaml.load(str(data, "utf-8"), Loader=_SafeLoader)
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ValidationError(f"{where} is not valid YAML: {error}") from error
        return cls.from_dict(loaded, where)

    def dump(self) -> bytes:
        return yaml.safe_dump(self.to_dict(), sort_keys=False).encode("utf-8")


def _checked_files(files: dict[Any, Any], where: str) -> dict[str, str]:
    """The manifest's file map, every name a safe bundle path and every value a sha256."""
    checked: dict[str, str] = {}
    for name, digest in files.items():
        try:
            check_bundle_path(name)
            if name == MANIFEST:
                raise ValidationError(f"the manifest cannot list itself ({MANIFEST})")
            check_digest(digest)
        except ValidationError as error:
            raise ValidationError(f"{where} lists a file it may not: {error}") from None
        checked[name] = digest
    return checked


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise ValidationError(f"{str(folder)!r} is not a model bundle: it has no {MANIFEST}")
    return Manifest.parse(path.read_bytes(), str(path))


class FolderNeeded(Exception):
    """A flavor asked a bundle read in place from the blob store for a path on disk.

    Internal: the registry's loader catches it and loads from a verified folder instead
    (a PythonModel's artifacts, for example, are handed to user code as paths)."""


@dataclass(frozen=True)
class BundleFolder:
    """A bundle seen through its manifest's file list.

    Flavors reach the files a ``flavor_config`` names only through ``read`` (their bytes),
    ``file`` and ``folder`` (paths, for libraries that open files themselves), which refuse
    any name the manifest does not list (and so did not hash): a config cannot point a
    loader at a file elsewhere on the machine.

    With ``digests`` (the verified manifest's file map) each file is checked when it is
    reached. ``read`` reads the file once into memory and hashes those very bytes, so what
    is unpickled is what was hashed whatever happens to the file afterwards; an open file
    descriptor would not give that (another writer can change the bytes under it), and
    hashing then reading again is a second pass. ``file`` and ``folder`` hash the files
    before handing out their paths. With ``blobs`` (digest -> bytes, verified by the blob
    store as it reads them) nothing is on disk as a folder: ``read`` loads each file in
    place from its blob, and ``file``/``folder`` raise ``FolderNeeded``.
    """

    root: Path
    names: frozenset[str]
    digests: Mapping[str, str] | None = None
    blobs: Callable[[str], bytes | Buffer] | None = None
    label: str | None = None

    @classmethod
    def of(cls, root: Path, names: Iterable[str]) -> BundleFolder:
        """A folder whose files are not checked again (one this process just wrote)."""
        return cls(root, frozenset(names))

    @classmethod
    def verified(cls, root: Path, files: Mapping[str, str]) -> BundleFolder:
        """A folder whose files are hashed against ``files`` (path -> sha256) as reached."""
        return cls(root, frozenset(files), dict(files))

    @classmethod
    def in_place(
        cls, files: Mapping[str, str], blobs: Callable[[str], bytes | Buffer], label: str
    ) -> BundleFolder:
        """A registered bundle read straight from its blobs (``label`` names it in errors)."""
        return cls(Path(), frozenset(files), dict(files), blobs, label)

    @property
    def where(self) -> str:
        return self.label if self.label is not None else str(self.root)

    def read(self, name: object, field_name: str) -> bytes | Buffer:
        """The bytes of the listed file ``name`` (named by the config field ``field_name``),
        verified as described above."""
        listed = self._listed(name, field_name)
        if self.digests is None:
            return _checked_path(self.root, listed).read_bytes()
        if self.blobs is not None:
            return self.blobs(self.digests[listed])
        data, actual = read_hashed(_checked_path(self.root, listed))
        _check_hash(self.root, listed, actual, self.digests[listed])
        return data

    def file(self, name: object, field_name: str) -> Path:
        """The path of the listed file ``name`` (named by the config field ``field_name``)."""
        listed = self._listed(name, field_name)
        self._verify(lambda rel: rel == listed, listed)
        return self.root / listed

    def folder(self, name: object, field_name: str) -> Path:
        """The path of ``name``: a listed file, or a folder inside the bundle (whose files
        are those of the manifest's list that lie under it; it may be empty)."""
        if isinstance(name, str) and name in self.names:
            return self.file(name, field_name)
        try:
            clean = check_bundle_path(name)
        except ValidationError:
            raise self._unlisted(name, field_name) from None
        self._verify(lambda rel: rel.startswith(f"{clean}/"), clean)
        return self.root / clean

    def _listed(self, name: object, field_name: str) -> str:
        if isinstance(name, str) and name in self.names:
            return name
        raise self._unlisted(name, field_name)

    def _verify(self, wanted: Callable[[str], bool], name: str) -> None:
        if self.blobs is not None:
            raise FolderNeeded(name)
        if self.digests is not None:
            verify_folder(self.root, {r: d for r, d in self.digests.items() if wanted(r)})

    def _unlisted(self, name: object, field_name: str) -> IntegrityError:
        return IntegrityError(
            f"the bundle {self.where!r} names {str(name)[:80]!r} in {field_name}, which is not "
            "a file its manifest lists and hashes; it was not loaded"
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def hash_folder(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` except the top-level manifest.

    Names must be valid bundle file names (``check_bundle_path``); symbolic links are
    refused, so a bundle holds its own bytes and nothing from elsewhere on the machine.
    """
    hashed: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise ValidationError(
                f"bundle {str(folder)!r} holds a symbolic link, {rel[:80]!r}; a bundle holds its "
                "own files: copy the target into the folder instead"
            )
        if path.is_file() and rel != MANIFEST:
            hashed[check_bundle_path(rel)] = file_sha256(path)
    return hashed


def _checked_path(folder: Path, rel: str) -> Path:
    """``folder / rel`` after checking the name stays inside ``folder`` and is a regular
    file, not a symbolic link (IntegrityError otherwise): nothing outside the bundle is
    ever read."""
    try:
        check_bundle_path(rel)
        path_inside(folder, rel, "bundle file name")
    except ValidationError as error:
        raise IntegrityError(
            f"model bundle {str(folder)!r} lists a file outside itself ({error}); "
            "it was not loaded"
        ) from None
    path = folder / rel
    if path.is_symlink():
        raise IntegrityError(
            f"model bundle file {rel!r} in {str(folder)!r} is a symbolic link; a bundle holds "
            "its own files, so it was not loaded"
        )
    if not path.is_file():
        raise IntegrityError(f"model bundle {str(folder)!r} is missing {rel!r}; it was not loaded")
    return path


def _check_hash(folder: Path, rel: str, actual: str, digest: str) -> None:
    if actual != digest:
        raise IntegrityError(
            f"model bundle file {rel!r} in {str(folder)!r} hashes to {actual[:16]}..., not the "
            f"recorded {digest[:16]}...; it was tampered with or corrupted and was not loaded"
        )


def verify_folder(folder: Path, expected: Mapping[str, str]) -> None:
    """Raise IntegrityError unless every file hashes to ``expected`` and none is missing.

    Every name is checked and resolved inside ``folder`` first (a bad name is an
    IntegrityError too): nothing outside the bundle is ever read.
    """
    paths = {rel: _checked_path(folder, rel) for rel in expected}
    for rel, digest in expected.items():
        _check_hash(folder, rel, file_sha256(paths[rel]), digest)
