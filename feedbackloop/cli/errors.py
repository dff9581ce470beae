"""The one way a command fails: `error: ...` on stderr, in red, and exit code 2 (1 on request)."""

from __future__ import annotations

import typer
from rich.console import Console

err_console = Console(stderr=True)


def print_error(message: str) -> None:
    # markup=False: messages quote user input and paths, which may hold [brackets].
    err_console.print(
        f"error: {message}", style="red", markup=False, highlight=False, soft_wrap=True
    )


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print the error; `raise fail(...) from None` ends the command."""
    print_error(message)
    return typer.Exit(code=code)
