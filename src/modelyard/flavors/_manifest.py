"""The bundle manifest, ``modelyard.yaml``: what a model folder holds and how to load it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelyard.core.errors import IntegrityError, ValidationError
from modelyard.core.hashing import CHUNK_SIZE
from modelyard.core.signature import Signature

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
        try:
            signature = data.get("signature")
            return cls(
                flavor=str(data["flavor"]),
                framework=str(data["framework"]),
                framework_version=str(data["framework_version"]),
                python_version=str(data["python_version"]),
                created_time=int(data["created_time"]),
                signature=Signature.from_dict(signature) if signature else None,
                files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
                requirements=[str(r) for r in data.get("requirements") or []],
                flavor_config=dict(data.get("flavor_config") or {}),
                input_example=data.get("input_example"),
                feature_importance=data.get("feature_importance"),
                source_format=str(data.get("source_format", FORMAT)),
            )
        except KeyError as error:
            raise ValidationError(f"{where} lacks the field {error.args[0]!r}") from None

    def dump(self) -> bytes:
        return yaml.safe_dump(self.to_dict(), sort_keys=False).encode("utf-8")


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise ValidationError(f"{str(folder)!r} is not a model bundle: it has no {MANIFEST}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValidationError(f"{str(path)!r} is not valid YAML: {error}") from error
    return Manifest.from_dict(data, str(path))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def hash_folder(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` except the manifest."""
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def verify_folder(folder: Path, expected: dict[str, str]) -> None:
    """Raise IntegrityError unless every file hashes to ``expected`` and none is missing."""
    for rel, digest in expected.items():
        path = folder / rel
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
