"""`feedbackloop demo`: the demo-loop flow on generated data, with a progress bar per stage and
a summary of each. The `demo` package (generator, fake APIs, the flow, the report) is not part
of the product: it is imported here, when the command runs, and only here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from feedbackloop import progress
from feedbackloop.cli.errors import fail
from feedbackloop.config import ENV_PREFIX, get_settings

console = Console()


def demo(
    tickets: Annotated[int, typer.Option(min=1, help="Tickets to generate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = 42,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Then serve the dashboard on 127.0.0.1 until Ctrl-C stops it."
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the dashboard with --serve.")] = 8000,
) -> None:
    """Run the loop as far as it is built on generated data, and summarize each stage."""
    try:
        import demo  # noqa: F401  (the package alone: Prefect comes with its flow, below)
    except ModuleNotFoundError as exc:
        if exc.name != "demo":
            raise
        raise fail("the demo is not installed: pip install -e '.[dev]'") from None
    from feedbackloop.serve import own_prefect_api, prefect_defaults

    # Before Prefect is imported (with the flow): it reads its settings then.
    prefect_defaults(get_settings())
    own_prefect_api()
    from demo.flow import demo_loop
    from demo.report import print_summary

    console.print(f"[bold]feedbackloop demo[/]: {tickets:,} tickets, seed {seed}")
    console.print("running the demo-loop flow (Prefect, in-process)")
    with _progress_bar() as sink, progress.reporting(sink):
        result = demo_loop(seed=seed, tickets=tickets, quiet=True)
    print_summary(result, console, get_settings())
    if serve:
        _serve_dashboard(port)


def _serve_dashboard(port: int) -> None:
    import secrets

    import uvicorn
    from pydantic import SecretStr

    from feedbackloop.db import ensure_ready
    from feedbackloop.web import create_app

    settings = get_settings()
    password = f"password from {ENV_PREFIX}DASHBOARD_PASSWORD"
    if settings.dashboard_password is None or not settings.dashboard_password.get_secret_value():
        # A demo on the loopback interface: a password for this run only, printed here.
        generated = secrets.token_urlsafe(12)
        settings = settings.model_copy(update={"dashboard_password": SecretStr(generated)})
        password = (
            f"password {generated} for this run; set {ENV_PREFIX}DASHBOARD_PASSWORD to fix one"
        )
    console.print(
        f"[bold]Dashboard[/]: http://127.0.0.1:{port}/ (user {settings.dashboard_user}, "
        f"{password}). Ctrl-C stops it.",
        highlight=False,
    )
    app_ = create_app(settings, engine=ensure_ready(settings))
    uvicorn.run(app_, host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def _progress_bar() -> Iterator[progress.Sink]:
    """One Rich bar per stage, created when the stage first reports."""
    bars: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:

        def sink(stage: str, advance: int, total: int | None) -> None:
            if stage not in bars:
                bars[stage] = bar.add_task(stage, total=total)
            bar.update(bars[stage], advance=advance, total=total)

        yield sink
