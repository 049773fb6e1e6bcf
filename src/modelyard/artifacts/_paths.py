"""Local files and the names they are stored under: a name never leads out of its folder,
and a folder's files are taken only from inside it."""

from __future__ import annotations

import os
from pathlib import Path

from modelyard.core.errors import ValidationError
from modelyard.core.validation import check_artifact_path


def path_inside(root: Path, name: str, what: str = "artifact path") -> Path:
    """``root / name``, resolved, after checking it stays inside ``root``.

    ``name`` must pass ``check_artifact_path`` (relative, no ``..``, no drive, no control
    characters); the joined path is then resolved, so a symbolic link already inside
    ``root`` cannot carry a read or a write out of it either.
    """
    clean = check_artifact_path(name, what)
    if not clean:
        raise ValidationError(f"{what} is empty; name a file inside {str(root)!r}")
    base = root.resolve()
    target = (base / clean).resolve()
    if target == base or not target.is_relative_to(base):
        raise ValidationError(
            f"{what} {clean[:80]!r} resolves outside {str(root)!r} (through a symbolic link); "
            "it was not used"
        )
    return target


def files_under(root: Path, *, follow_symlinks: bool = False) -> list[tuple[str, Path]]:
    """Every file under ``root`` as (relative name with '/', path), sorted by name.

    A symbolic link (to a file or a folder) is refused with a ValidationError naming it,
    unless ``follow_symlinks=True``: then a linked file counts under the link's name and a
    linked folder is walked (a link back to a folder above it is refused: a loop).
    """
    found: list[tuple[str, Path]] = []
    pending: list[tuple[Path, str, frozenset[str]]] = [
        (root, "", frozenset({os.path.realpath(root)}))
    ]
    while pending:
        folder, prefix, above = pending.pop()
        with os.scandir(folder) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            name = f"{prefix}{entry.name}"
            path = Path(entry.path)
            if entry.is_symlink():
                if not follow_symlinks:
                    raise ValidationError(
                        f"{name[:200]!r} in {str(root)!r} is a symbolic link; links are not "
                        "followed, so that a folder cannot pull in files from elsewhere on the "
                        "machine. Pass follow_symlinks=True to store what it points to under "
                        "the link's name, or remove the link"
                    )
                if not path.exists():
                    raise ValidationError(
                        f"{name[:200]!r} in {str(root)!r} is a symbolic link to nothing; "
                        "remove it or point it at a file"
                    )
            if entry.is_dir():
                real = os.path.realpath(path)
                if real in above:
                    raise ValidationError(
                        f"{name[:200]!r} in {str(root)!r} links back to a folder above it "
                        "(a loop); remove the link"
                    )
                pending.append((path, f"{name}/", above | {real}))
            elif entry.is_file():
                found.append((name, path))
    return sorted(found)
