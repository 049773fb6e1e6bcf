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
from rich.text import Text

from modelyard.core.errors import ModelyardError, NotFoundError, ValidationError
from modelyard.core.tables import Styled, fitted_table

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")
Part = str | tuple[str, str]

__all__ = ["Styled", "console", "emit_json", "err_console", "friendly_errors", "say", "table", "warn_error"]


def say(*parts: Part, stderr: bool = False) -> None:
    """Print one line of plain text and (text, style) pieces: what a user named is printed as
    it is — ``[predict]`` stays ``[predict]`` — never read as Rich markup."""
    (err_console if stderr else console).print(Text.assemble(*parts), highlight=False, soft_wrap=True)


def warn_error(label: str, message: str) -> None:
    """A red ``label:`` and the message, on stderr."""
    say((f"{label}:", "bold red"), " ", message, stderr=True)


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
    *,
    keys: int = 1,
) -> None:
    """Print a table that fits the terminal without cutting names (see core.tables); cells
    are plain text, or ``Styled`` for the program's own colours."""
    console.print(fitted_table(title, columns, rows, width=console.width, caption=caption, keys=keys))


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Print modelyard errors as one red line and exit 1 (2 for bad input)."""
    try:
        yield
    except (ValidationError, NotFoundError) as error:
        warn_error("error", str(error))
        raise typer.Exit(2) from None
    except ModelyardError as error:
        warn_error("error", str(error))
        raise typer.Exit(1) from None


def run_guarded(fn: Callable[[], T]) -> T:
    with friendly_errors():
        return fn()
