"""Which files of the prediction log hold its rows, now that small files get compacted.

A date partition holds the writers' small files (``part-*.parquet``) and, once compacted, one
or more ``compact-*.parquet`` files. A compacted file names, in its Parquet footer, the files
it replaces (``replaces``) and the writer files whose rows it holds (``sources``); a file that
a live compacted file replaces is hidden, whether or not it is deleted yet. Because a compacted
file is renamed into place whole before any file it replaces is deleted, a reader that lists a
partition, reads it, and lists it again with the same result has read every row exactly once
(``stable_files`` retries until two listings agree and every file was still there).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyarrow.parquet as pq

from modelyard.core.errors import ModelyardError

COMPACT_PREFIX = "compact-"
META_KEY = b"modelyard.compaction"
SOURCE_COLUMN = "source_file"  # in compacted files: the writer file each row came from
T = TypeVar("T")


class LogChangedError(ModelyardError, RuntimeError):
    """The log kept changing under a reader (compaction) for every retry."""


@dataclass(frozen=True)
class LogFile:
    path: Path
    date: str
    sources: tuple[str, ...]  # writer files (``<date>/<name>``) whose rows this file holds
    replaces: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.date}/{self.path.name}"

    @property
    def compacted(self) -> bool:
        return self.path.name.startswith(COMPACT_PREFIX)


def compaction_meta(path: Path) -> dict[str, list[str]]:
    """``replaces`` and ``sources`` of a compacted file (names relative to its partition)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(META_KEY)
    if raw is None:
        return {"replaces": [], "sources": []}
    data = json.loads(raw)
    return {"replaces": list(data.get("replaces", [])), "sources": list(data.get("sources", []))}


def _date_of(folder: Path) -> str:
    return folder.name.split("=", 1)[1] if "=" in folder.name else folder.name


def partition_files(folder: Path) -> list[LogFile]:
    """The live files of one date partition (may raise ``FileNotFoundError`` mid-compaction)."""
    date = _date_of(folder)
    names = sorted(
        p.name
        for p in folder.iterdir()
        if p.name.endswith(".parquet") and not p.name.startswith(".")
    )
    hidden: set[str] = set()
    compacted: dict[str, dict[str, list[str]]] = {}
    for name in names:
        if name.startswith(COMPACT_PREFIX):
            meta = compaction_meta(folder / name)
            compacted[name] = meta
            hidden.update(meta["replaces"])
    out: list[LogFile] = []
    for name in names:
        if name in hidden:
            continue
        if name in compacted:
            meta = compacted[name]
            out.append(
                LogFile(
                    folder / name,
                    date,
                    tuple(f"{date}/{s}" for s in meta["sources"]),
                    tuple(meta["replaces"]),
                )
            )
        else:
            out.append(LogFile(folder / name, date, (f"{date}/{name}",)))
    return out


def date_folders(
    endpoint_root: Path, first: str | None = None, last: str | None = None
) -> list[Path]:
    """The ``date=`` partitions of an endpoint, optionally only ``first <= date <= last``."""
    if not endpoint_root.is_dir():
        return []
    out = []
    for folder in sorted(endpoint_root.iterdir()):
        if not folder.is_dir() or not folder.name.startswith("date="):
            continue
        date = _date_of(folder)
        if (first is None or date >= first) and (last is None or date <= last):
            out.append(folder)
    return out


def list_files(folders: Iterable[Path]) -> list[LogFile]:
    files: list[LogFile] = []
    for folder in folders:
        try:
            files.extend(partition_files(folder))
        except FileNotFoundError:
            if folder.exists():
                raise
    return files


def stable_files(
    folders: list[Path], read: Callable[[list[LogFile]], T], *, attempts: int = 20
) -> T:
    """``read(files)`` over a consistent set of live files: retried while compaction moves
    rows from file to file, until a listing before and after the read agree."""
    for _ in range(attempts):
        try:
            before = list_files(folders)
            result = read(before)
            after = list_files(folders)
        except FileNotFoundError:
            continue
        except OSError as error:  # DuckDB and Arrow report a vanished file in their own words
            if "No such file" in str(error) or "No files found" in str(error):
                continue
            raise
        if [f.key for f in before] == [f.key for f in after]:
            return result
    raise LogChangedError(
        f"the prediction log kept changing while it was read ({attempts} attempts); try again"
    )


def utc_date(value: _dt.datetime) -> str:
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%d")
