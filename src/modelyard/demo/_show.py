"""How the demo tells its story on the terminal: one Rich console, tables that fit it, and
lines whose names are printed as they are (never read as markup)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from modelyard.core.tables import fitted_table

console = Console()
Part = str | tuple[str, str]


def say(*parts: Part) -> None:
    """One line of plain text and (text, style) pieces, left for the terminal to wrap."""
    console.print(Text.assemble(*parts), highlight=False, soft_wrap=True)


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str | None = None,
    *,
    keys: int = 1,
) -> None:
    console.print(fitted_table(title, columns, rows, width=console.width, caption=caption, keys=keys))
