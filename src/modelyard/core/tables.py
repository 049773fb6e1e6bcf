"""How tables are laid out for people on a terminal, the same in the CLI and the demo (no I/O).

A table must fit the terminal, and shrinking must never cut a name: the key columns (the
first ``keys``; what a row is about) never wrap and are as wide as their longest cell; the
other columns wrap between words and are at least as wide as their longest word, so a
value breaks inside a word only when that word alone is wider than the space left. Cells
are plain text: a name like ``[predict]`` is shown as it is, never read as Rich markup;
``Styled`` marks the few cells the program itself colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

KEY_CAP = 40  # a key cell longer than this folds rather than take the whole width
WORD_CAP = 24  # a longer word may fold
FLOOR = 4


@dataclass(frozen=True)
class Styled:
    """A cell with a Rich style, e.g. ``Styled("FAIL", "red")``; its text is still not markup."""

    text: str
    style: str

    def __str__(self) -> str:
        return self.text


def _text(cell: Any) -> str:
    return "-" if cell is None else str(cell)


def min_widths(columns: Sequence[str], rows: Sequence[Sequence[Any]], keys: int, width: int) -> list[int]:
    """Each column's minimum width so that no name is cut, reduced (values first, the widest
    first) only as far as the table must to fit ``width``."""
    n = len(columns)
    mins: list[int] = []
    for j, header in enumerate(columns):
        cells = [header, *(_text(row[j]) for row in rows if j < len(row))]
        lines = [line for cell in cells for line in cell.splitlines() or [""]]
        if j < keys:
            mins.append(min(max((len(line) for line in lines), default=1), KEY_CAP))
        else:
            words = [w for line in lines for w in line.split()]
            mins.append(min(max((len(w) for w in words), default=1), WORD_CAP))
    budget = width - (3 * n + 1)  # borders and one space of padding on each side
    order = [j for j in range(n) if j >= keys] + list(range(min(keys, n)))
    while sum(mins) > budget:
        shrinkable = [j for j in order if mins[j] > FLOOR]
        if not shrinkable:
            break
        values = [j for j in shrinkable if j >= keys] or shrinkable
        widest = max(values, key=lambda j: mins[j])
        mins[widest] -= 1
    return mins


def fitted_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    width: int,
    caption: str | None = None,
    keys: int = 1,
) -> Table:
    """A Rich table of ``rows`` that fits ``width`` columns without cutting names."""
    from rich.table import Table
    from rich.text import Text

    out = Table(
        min_width=min(len(title or "") + 4, width),  # a title on one line when it fits
        title=None if title is None else Text(title, style="italic"),
        caption=None if caption is None else Text(caption, style="dim"),
        header_style="bold cyan",
    )
    for j, (column, least) in enumerate(zip(columns, min_widths(columns, rows, keys, width), strict=True)):
        out.add_column(Text(column), no_wrap=j < keys, overflow="fold", min_width=least)
    for row in rows:
        out.add_row(*(Text(cell.text, style=cell.style) if isinstance(cell, Styled) else Text(_text(cell)) for cell in row))
    return out
