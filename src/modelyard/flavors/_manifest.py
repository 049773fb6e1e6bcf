"""The bundle manifest, ``modelyard.yaml``: what a model folder holds and how to load it.

A bundle is its manifest. Every file it names is a relative path inside the bundle
(``check_bundle_path``: no absolute path, drive, ``..``, backslash or control character)
with its sha256; flavors open files only through ``BundleFolder``, which refuses names the
manifest does not list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelyard.artifacts import path_inside
from modelyard.core.errors import IntegrityError, ValidationError
from modelyard.core.hashing import CHUNK_SIZE, check_digest
from modelyard.core.signature import Signature
from modelyard.core.validation import check_bundle_path

MANIFEST = "modelyard.yaml"
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
    def parse(cls, data: bytes, where: str) -> Manifest:
        """The manifest in ``data`` (the bytes of a ``modelyard.yaml``)."""
        try:
            loaded = yaml.safe_load(data.decode("utf-8"))
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


@dataclass(frozen=True)
class BundleFolder:
    """A bundle folder on local disk, seen through its manifest's file list.

    Flavors open the files a ``flavor_config`` names only through ``file`` and ``folder``,
    which refuse any name the manifest does not list (and so did not hash): a config cannot
    point a loader at a file elsewhere on the machine.
    """

    root: Path
    names: frozenset[str]

    @classmethod
    def of(cls, root: Path, names: Iterable[str]) -> BundleFolder:
        return cls(root, frozenset(names))

    def file(self, name: object, field_name: str) -> Path:
        """The path of the listed file ``name`` (named by the config field ``field_name``)."""
        if isinstance(name, str) and name in self.names:
            return self.root / name
        raise self._unlisted(name, field_name)

    def folder(self, name: object, field_name: str) -> Path:
        """The path of ``name``: a listed file, or a folder inside the bundle (whose files
        are those of the manifest's list that lie under it; it may be empty)."""
        if isinstance(name, str) and name in self.names:
            return self.root / name
        try:
            return self.root / check_bundle_path(name)
        except ValidationError:
            raise self._unlisted(name, field_name) from None

    def _unlisted(self, name: object, field_name: str) -> IntegrityError:
        return IntegrityError(
            f"the bundle {str(self.root)!r} names {str(name)[:80]!r} in {field_name}, which is not "
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


def verify_folder(folder: Path, expected: dict[str, str]) -> None:
    """Raise IntegrityError unless every file hashes to ``expected`` and none is missing.

    Every name is checked and resolved inside ``folder`` first (a bad name is an
    IntegrityError too): nothing outside the bundle is ever read.
    """
    for rel in expected:
        try:
            check_bundle_path(rel)
            path_inside(folder, rel, "bundle file name")
        except ValidationError as error:
            raise IntegrityError(
                f"model bundle {str(folder)!r} lists a file outside itself ({error}); "
                "it was not loaded"
            ) from None
    for rel, digest in expected.items():
        path = folder / rel
        if path.is_symlink():
            raise IntegrityError(
                f"model bundle file {rel!r} in {str(folder)!r} is a symbolic link; a bundle holds "
                "its own files, so it was not loaded"
            )
        if not path.is_file():
            raise IntegrityError(
                f"model bundle {str(folder)!r} is missing {rel!r}; it was not loaded"
            )
        actual = file_sha256(path)
        if actual != digest:
            raise IntegrityError(
                f"model bundle file {rel!r} in {str(folder)!r} hashes to {actual[:16]}..., not the "
                f"recorded {digest[:16]}...; it was tampered with or corrupted and was not loaded"
            )
