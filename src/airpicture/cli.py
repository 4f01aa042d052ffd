"""Command-line interface (typer). Thin: every command calls the same API a notebook uses."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="airpicture: the recognized air picture, built in the open.")


def main() -> None:
    app()
