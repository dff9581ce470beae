"""The one way a command fails: `error: ...` on stderr, in red, and exit code 2 (1 on request).

`main()` turns what escapes a command into that line too: an unreadable input file
(`UnreadableFile`), a database that is down or goes away (`describe_failure`), a setting.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from feedbackloop.sources.files import UnreadableFile, check_text_file, decode_problem

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


@contextmanager
def reading(path: Path | str, *, check: bool = True) -> Iterator[None]:
    """Read `path` inside this block: a file that is missing, empty, binary or UTF-16 is
    refused first (with `check`), and a decode or CSV error further down becomes one line
    naming the file. Never quotes the file's content."""
    try:
        if check:
            check_text_file(path)
        yield
    except UnreadableFile as exc:
        raise fail(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise fail(f"{path}: {decode_problem(exc, path)}") from None
    except csv.Error as exc:
        raise fail(f"{path}: not a readable CSV file ({exc})") from None
