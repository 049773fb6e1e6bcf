"""How the demo tells its story on the terminal: one Rich console, tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str | None = None,
) -> None:
    out = Table(title=title, caption=caption, header_style="bold cyan")
    for i, column in enumerate(columns):
        out.add_column(column, overflow="fold", no_wrap=i < 2)
    for row in rows:
        out.add_row(*("-" if cell is None else str(cell) for cell in row))
    console.print(out)
