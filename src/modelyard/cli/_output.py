"""Output for people (Rich tables) and for scripts (``--json``), and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.core.errors import ModelyardError, NotFoundError, ValidationError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")


def emit_json(data: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            data,
            option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
            default=str,
        ).decode()
        + "\n"
    )


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%m-%d %H:%M:%S")


def duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    seconds = ms / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    caption: str | None = None,
) -> None:
    out = Table(title=title, caption=caption, header_style="bold cyan", show_lines=False)
    for i, column in enumerate(columns):
        out.add_column(column, overflow="fold", no_wrap=i < 2)
    for row in rows:
        out.add_row(*("-" if cell is None else str(cell) for cell in row))
    console.print(out)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Print modelyard errors as one red line and exit 1 (2 for bad input)."""
    try:
        yield
    except (ValidationError, NotFoundError) as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    except ModelyardError as error:  # escaped: "modelyard[serve]" is not markup
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None


def run_guarded(fn: Callable[[], T]) -> T:
    with friendly_errors():
        return fn()
