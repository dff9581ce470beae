"""`feedbackloop milestones`: check the milestones file, evaluate it, list what was reached."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.cli.errors import fail
from feedbackloop.config import ConfigError, get_settings

app = typer.Typer(
    help="Usage milestones: product events (POST /webhooks/segment) -> milestone items.",
    no_args_is_help=True,
)
console = Console()


@app.command("check")
def check(
    path: Annotated[
        Path | None,
        typer.Argument(help="Milestones file (default: FEEDBACKLOOP_MILESTONES_PATH)."),
    ] = None,
) -> None:
    """Validate a milestones file: one line naming the file, milestone and field; exit 2."""
    from feedbackloop.milestones import load_milestones

    path = path or get_settings().milestones_path
    try:
        found = load_milestones(path)  # a missing or non-UTF-8 file is a MilestonesError too
    except ConfigError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"{path}: {len(found.milestones)} milestones")
    for column in ("milestone", "per", "reached at"):
        table.add_column(column)
    for m in found.milestones:
        table.add_row(m.name, m.per, m.describe())
    console.print(table)


@app.command("evaluate")
def evaluate() -> None:
    """Record the milestones reached since the last evaluation and let the routing rules decide
    for them (the process-webhook-events flow does this after each drain)."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.milestones import evaluate_from_settings

    settings = get_settings()
    try:
        report = evaluate_from_settings(ensure_ready(settings), settings)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    for name, count in sorted(report.reached.items()):
        console.print(f"{name}: {count:,} reached")
    console.print(
        f"{report.total:,} milestones reached, {report.actions:,} actions decided"
        + (
            f"; {report.unreadable_traits:,} trait values are not timestamps"
            if report.unreadable_traits
            else ""
        )
    )


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
    name: Annotated[str | None, typer.Option(help="Only this milestone.")] = None,
) -> None:
    """The milestones reached: name, user_id, account_id, reached_at (stored, masked ids)."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.milestones import reached

    rows = reached(ensure_ready(get_settings()), name)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows):,} milestones reached")
    for column in ("milestone", "user", "account", "reached at", "item"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["name"], r["user_id"] or "", r["account_id"] or "", r["reached_at"], r["item"]
        )
    console.print(table)
