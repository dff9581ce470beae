"""`feedbackloop web` (the webhook receiver and dashboard) and `feedbackloop serve` (every
deployment on its schedule; the orchestration lives in `feedbackloop.serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from feedbackloop.config import ENV_PREFIX, get_settings

console = Console()


def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the webhook endpoints (POST /webhooks/zendesk, POST /webhooks/{source}) and the
    feedback dashboard (GET /, behind HTTP Basic auth: FEEDBACKLOOP_DASHBOARD_USER/_PASSWORD)."""
    import uvicorn

    from feedbackloop.db import ensure_ready
    from feedbackloop.web import create_app

    settings = get_settings()
    engine = ensure_ready(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"webhooks: POST http://{shown}:{port}/webhooks/zendesk, /webhooks/{{source}}")
    if settings.dashboard_password is not None and settings.dashboard_password.get_secret_value():
        console.print(
            f"Dashboard: http://{shown}:{port}/ (user {settings.dashboard_user}, password from "
            f"{ENV_PREFIX}DASHBOARD_PASSWORD)"
        )
    else:
        console.print(
            f"Dashboard: closed (it answers 503) until {ENV_PREFIX}DASHBOARD_PASSWORD is set",
            style="yellow",
        )
    uvicorn.run(create_app(settings, engine=engine), host=host, port=port, log_level="warning")


def serve(
    prefect_yaml: Annotated[
        Path, typer.Option("--prefect-yaml", help="Deployments and schedules to serve.")
    ] = Path("prefect.yaml"),
    deployment: Annotated[
        list[str] | None,
        typer.Option("--deployment", "-d", help="Serve only these deployments (repeatable)."),
    ] = None,
    prefect_port: Annotated[
        int, typer.Option(help="Port of the Prefect server started when PREFECT_API_URL is unset.")
    ] = 4200,
    web: Annotated[bool, typer.Option(help="Also run the webhook receiver.")] = True,
    host: Annotated[str, typer.Option(help="Interface of the webhook receiver.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the webhook receiver.")] = 8000,
    limit: Annotated[int | None, typer.Option(help="Most flow runs at once.")] = None,
) -> None:
    """Run every deployment in prefect.yaml on its schedule, in one process, with a Prefect
    server (started here unless PREFECT_API_URL points at one) and the webhook receiver."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.serve import ServeError, serve_all

    settings = get_settings()
    engine = ensure_ready(settings)  # migrate once, before flow runs race to do it
    try:
        serve_all(
            settings,
            engine,
            prefect_yaml,
            only=set(deployment) if deployment else None,
            prefect_port=prefect_port,
            web=web,
            host=host,
            port=port,
            limit=limit,
            echo=console.print,
        )
    except ServeError as exc:
        console.print(f"[red]serve:[/] {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("stopped")
