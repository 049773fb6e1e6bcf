"""MkDocs hook: pages generated at build time from the code and the repository.

* ``<!-- generated: cli -->`` becomes the CLI reference, walked from the Typer app the
  ``modelyard`` console script runs (every command, its arguments and options);
* ``<!-- generated: benchmarks -->`` becomes BENCHMARKS.md (its top heading dropped, links to
  files outside the site turned into file names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLI_MARK = "<!-- generated: cli -->"
BENCH_MARK = "<!-- generated: benchmarks -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if CLI_MARK in markdown:
        markdown = markdown.replace(CLI_MARK, cli_reference())
    if BENCH_MARK in markdown:
        markdown = markdown.replace(BENCH_MARK, benchmarks())
    return markdown


def benchmarks() -> str:
    text = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    text = re.sub(r"\A# [^\n]*\n", "", text)
    return re.sub(r"\[([^\]]+)\]\((?!https?:|#)([^)]+)\)", r"`\2`", text)


def _clean(text: str | None) -> str:
    """Typer help text as Markdown: Rich markup dropped, paragraphs kept."""
    if not text:
        return ""
    text = re.sub(r"\[/?(bold|dim|italic|cyan|green|red|yellow|magenta|blue)\]", "", text)
    return text.replace("\b\n", "").strip()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _params_table(command: Any) -> list[str]:
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False) or param.name in ("help",):
            continue
        if param.param_type_name == "argument":
            name = f"`{(getattr(param, 'metavar', None) or param.name or '').upper()}`"
            kind = "argument" + ("" if param.required else " (optional)")
            help_text = getattr(param, "help", None) or ""
        else:
            names = [*param.opts, *param.secondary_opts]
            name = " / ".join(f"`{n}`" for n in names)
            kind = "option" + (" (required)" if param.required else "")
            help_text = param.help or ""
            default = param.default
            if (
                default not in (None, False, (), [])
                and not callable(default)
                and not getattr(param, "is_flag", False)
            ):
                help_text = f"{help_text} (default: `{default}`)".strip()
        rows.append(f"| {name} | {kind} | {_cell(_clean(help_text))} |")
    if not rows:
        return []
    return ["| name | kind | what it does |", "|---|---|---|", *rows, ""]


def _walk(command: Any, path: list[str], out: list[str]) -> None:
    depth = min(len(path) + 2, 4)
    title = " ".join(["modelyard", *path])
    out.append(f"{'#' * depth} `{title}`")
    out.append("")
    help_text = _clean(command.help)
    if help_text:
        out.append(help_text)
        out.append("")
    if hasattr(command, "list_commands"):  # a group (Typer vendors click: no isinstance)
        ctx = command.context_class(command, info_name=title)
        names = command.list_commands(ctx)
        if names:
            out.append("Commands: " + ", ".join(f"`{n}`" for n in names) + ".")
            out.append("")
        out.extend(_params_table(command))
        for name in names:
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _walk(sub, [*path, name], out)
    else:
        ctx = command.context_class(command, info_name=title)
        pieces = command.collect_usage_pieces(ctx)
        out.append(f"```text\n{title} {' '.join(pieces)}\n```")
        out.append("")
        out.extend(_params_table(command))


def cli_reference() -> str:
    import typer

    from modelyard.cli import app

    out: list[str] = []
    _walk(typer.main.get_command(app), [], out)
    return "\n".join(out)
