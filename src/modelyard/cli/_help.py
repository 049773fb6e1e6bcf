"""How ``--help`` reads: whole sentences, value names instead of Python types, commands in
panels.

Docstrings are wrapped in the source, and typer's Rich help would print their line breaks
mid-sentence ("a health⏎ check"); here each paragraph is joined back into one line and the
terminal wraps it. Options show what they take (``--port INTEGER``, ``--engine
local|ray``; flags nothing) rather than ``<int>``/``<bool>``, and arguments are named in
capitals (``TARGET``), not ``{target}``. The root group applies this to every command
below it when click resolves one, so the commands themselves stay plain typer.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "bool": "BOOLEAN"}


def whole_sentences(text: str | None) -> str | None:
    """Join the lines of each paragraph; keep the blank lines between paragraphs."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def value_name(typer_label: str) -> str:
    """``<int>`` → ``INTEGER``, ``<list[str]>...`` → ``TEXT``, ``<loop|tracking>`` as it is."""
    label = typer_label.strip().removesuffix("...").removeprefix("<").removesuffix(">")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    if "|" in label:
        return label
    return _TYPE_NAMES.get(label.lower(), label.upper())


class _Option(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar:
            return str(self.metavar)
        shown = super().display_type_rich(ctx)
        return None if shown is None else value_name(shown)


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if not self.required:
            name = f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")


def tidy(command: Any, ctx: Any = None) -> Any:
    """Make ``command``'s help read well (idempotent)."""
    if getattr(command, "_modelyard_tidy", False):
        return command
    command.help = whole_sentences(command.help)
    command.short_help = whole_sentences(command.short_help)
    params = list(command.params)
    if ctx is not None and hasattr(command, "get_help_option"):
        helper = command.get_help_option(ctx)
        if helper is not None:
            params.append(helper)
    for param in params:
        if isinstance(param, TyperOption) and not isinstance(param, _Option):
            param.__class__ = _Option
        elif isinstance(param, TyperArgument) and not isinstance(param, _Argument):
            param.__class__ = _Argument
        if isinstance(param, TyperOption | TyperArgument) and getattr(param, "help", None):
            param.help = whole_sentences(param.help)
    if isinstance(command, TyperGroup) and not isinstance(command, Group):
        command.__class__ = Group
    command._modelyard_tidy = True
    return command


class Group(TyperGroup):
    """A command group whose commands (and groups) have tidy help; ``order`` lists the
    commands first, in that order (typer's panels follow it), the rest after."""

    order: Sequence[str] = ()

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        return None if found is None else tidy(found, ctx)

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        rank = {name: i for i, name in enumerate(self.order)}
        return sorted(names, key=lambda n: rank.get(n, len(rank)))

    def get_params(self, ctx: Any) -> Any:
        tidy(self, ctx)
        return super().get_params(ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy(self, ctx)
        super().format_help(ctx, formatter)
