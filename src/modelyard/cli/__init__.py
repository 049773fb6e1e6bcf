"""The command line: ``modelyard experiments|runs|demo``."""

from modelyard.cli._app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
