"""`feedbackloop import`: a drop of notes or survey answers, governed like every source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from feedbackloop.cli.common import cli_actor, counts_table
from feedbackloop.config import get_settings

console = Console()


def import_(
    path: Annotated[Path, typer.Argument(help="JSONL or CSV file.")],
) -> None:
    """Import a drop of notes or survey answers (schema in the README); re-imports are no-ops.
    A file that cannot be read at all is refused in one line before anything is stored."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.sources.drops import check_drop_file, import_drop

    # The file first: a bad one fails fast, without touching (or starting) the database.
    check_drop_file(path)
    settings = get_settings()
    result = import_drop(
        ensure_ready(settings),
        path,
        hash_key=settings.hash_key(),
        actor=cli_actor(),
        known_sources=settings.known_sources,
    )
    console.print(
        counts_table(
            {
                "read": result.read,
                "written": result.written,
                "unchanged": result.unchanged,
                "quarantined": result.quarantined,
                "contacts created": result.contacts_created,
            }
        )
    )
    if result.quarantined:
        console.print("quarantined records: see ops.quarantine (reason and line number)")
