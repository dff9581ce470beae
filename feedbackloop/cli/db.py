"""`feedbackloop db`: the embedded server's lifecycle, the URL every component uses, migrations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from feedbackloop.config import ConfigError, get_settings

app = typer.Typer(
    help="The database: embedded server lifecycle and migrations.", no_args_is_help=True
)
console = Console()


@app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL server (or reuse the running one) and create the database."""
    from feedbackloop.db import database_url, masked_url

    settings = get_settings()
    if not settings.embedded:
        raise ConfigError("FEEDBACKLOOP_DATABASE_URL is set: there is no embedded server to start")
    url = database_url(settings)
    console.print(f"embedded PostgreSQL running: {masked_url(url)}")


@app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (its data stays under the state dir)."""
    from feedbackloop.db import embedded_server

    stopped = embedded_server().stop()
    console.print("stopped" if stopped else "not running")


@app.command("status")
def db_status() -> None:
    """Show where the database is, whether it runs, its schema revision and row counts."""
    from feedbackloop.db import check_connection, embedded_server, get_engine, masked_url
    from feedbackloop.db.migrate import current_revision, head_revision
    from feedbackloop.db.stats import row_counts

    settings = get_settings()
    if settings.embedded:
        status = embedded_server(settings).status()
        console.print(f"embedded server: {'running' if status.running else 'stopped'}")
        console.print(f"data directory: {status.pgdata}")
        if not status.running:
            raise typer.Exit(1)
        console.print(f"pid: {status.pid}")
    url = check_connection(settings)
    console.print(f"url: {masked_url(url)}")
    engine = get_engine(settings)
    revision = current_revision(engine)
    console.print(f"schema revision: {revision or 'none'} (head {head_revision()})")
    if revision:
        table = Table("table", "rows")
        for name, rows in row_counts(engine).items():
            table.add_row(name, f"{rows:,}")
        console.print(table)


@app.command("url")
def db_url(
    show_password: Annotated[bool, typer.Option(help="Print the password too.")] = False,
) -> None:
    """Print the database URL every component uses (starts the embedded server if needed)."""
    from feedbackloop.db import database_url

    url = database_url()
    print(url.render_as_string(hide_password=not show_password))


@app.command("migrate")
def db_migrate() -> None:
    """Apply the schema migrations (a no-op when the schema is current)."""
    from feedbackloop.db import check_connection, get_engine
    from feedbackloop.db.migrate import head_revision, upgrade

    settings = get_settings()
    check_connection(settings)
    engine = get_engine(settings)
    changed = upgrade(engine)
    console.print(f"schema at {head_revision()}" + ("" if changed else " (already current)"))
    if settings.bi_reader_password is not None:
        from feedbackloop.governance.roles import enable_bi_reader_login

        enable_bi_reader_login(engine, settings.bi_reader_password.get_secret_value())
        console.print("bi_reader can log in (reads the analytics_marts schema only)")
