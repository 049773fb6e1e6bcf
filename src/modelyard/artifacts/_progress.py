"""Progress bars for large transfers, as fsspec callbacks drawn by Rich."""

from __future__ import annotations

import os
from typing import Any

from fsspec.callbacks import Callback, NoOpCallback
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

DEFAULT_MIN_BYTES = 64 << 20


def progress_threshold() -> int:
    """Transfers at least this large show a bar (``MODELYARD_PROGRESS_MIN_BYTES``)."""
    raw = os.environ.get("MODELYARD_PROGRESS_MIN_BYTES")
    return int(raw) if raw and raw.isdigit() else DEFAULT_MIN_BYTES


class RichCallback(Callback):  # type: ignore[misc]
    """An fsspec callback that draws a Rich progress bar on stderr."""

    def __init__(self, description: str, size: int, console: Console | None = None) -> None:
        super().__init__(size=size)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task(description, total=size)
        self.seen = 0
        self._progress.start()

    def set_size(self, size: int) -> None:
        self.size = size
        self._progress.update(self._task, total=size)

    def relative_update(self, inc: int = 1) -> None:
        self.seen += inc
        self._progress.update(self._task, advance=inc)

    def absolute_update(self, value: int) -> None:
        self.relative_update(value - self.seen)

    def close(self) -> None:
        self._progress.stop()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def callback_for(description: str, size: int) -> Callback:
    """A progress bar for a transfer of ``size`` bytes, or a no-op when it is small."""
    if size >= progress_threshold():
        return RichCallback(description, size)
    return NoOpCallback()
