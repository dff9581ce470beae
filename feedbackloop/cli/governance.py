"""`feedbackloop governance` (validation runs and Data Docs) and `feedbackloop forget` (the
right to erasure)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.cli.common import cli_actor
from feedbackloop.config import get_settings

app = typer.Typer(help="Governance: validation runs, Data Docs, erasure.", no_args_is_help=True)
console = Console()


@app.command("report")
def governance_report(
    limit: Annotated[int, typer.Option(min=1, help="How many runs to show.")] = 20,
) -> None:
    """Show the latest validation runs and where the Data Docs (HTML) are."""
    from sqlalchemy import select

    from feedbackloop.db import ensure_ready
    from feedbackloop.db.models import ValidationRun

    engine = ensure_ready()
    with engine.connect() as conn:
        runs = conn.execute(
            select(ValidationRun).order_by(ValidationRun.id.desc()).limit(limit)
        ).all()
    table = Table("run at", "checkpoint", "batch", "result", "rows", "failed")
    for run in runs:
        table.add_row(
            f"{run.run_at:%Y-%m-%d %H:%M:%S}",
            run.checkpoint or run.suite,
            run.batch or "",
            "passed" if run.success else "[red]FAILED[/]",
            f"{run.evaluated:,}",
            f"{run.failed:,}",
        )
    console.print(table if runs else "no validation runs yet: run `feedbackloop demo`")
    docs = next((r.data_docs_path for r in runs if r.data_docs_path), None)
    docs = docs or str(get_settings().state_path / "gx" / "gx" / "uncommitted" / "data_docs")
    console.print(f"Data Docs: {docs}")


def forget(
    email: Annotated[str, typer.Option(help="Address of the person whose data to erase.")],
    rebuild: Annotated[bool, typer.Option(help="Rebuild the marts afterwards.")] = True,
) -> None:
    """Right to erasure: remove a person's data from every schema and rebuild the marts."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.governance.erasure import forget as erase
    from feedbackloop.marts import build_marts

    settings = get_settings()
    engine = ensure_ready(settings)
    with engine.begin() as conn:
        report = erase(conn, email, settings.hash_key(), actor=cli_actor())
    if not report.found:
        console.print("no contact with that address: nothing to erase")
        return
    table = Table("table", "rows changed", title=f"Erased {len(report.contacts)} contact(s)")
    for name, rows in report.changed.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    if rebuild:
        build_marts(settings, quiet=True)
        console.print("marts rebuilt; an audit row records the erasure (without the address)")
