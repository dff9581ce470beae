"""The `feedbackloop` command line: every command in --help works; errors are one line, exit 2."""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

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
from rich.table import Table

from feedbackloop import progress
from feedbackloop.cli.dbt import CONTEXT_SETTINGS as DBT_CONTEXT_SETTINGS
from feedbackloop.cli.dbt import dbt as dbt_command
from feedbackloop.cli.errors import print_error
from feedbackloop.cli.faq import app as faq_app
from feedbackloop.cli.marts import app as marts_app
from feedbackloop.cli.nlp import app as nlp_app
from feedbackloop.cli.pii import app as pii_app
from feedbackloop.cli.review import app as review_app
from feedbackloop.cli.routing import app as routing_app
from feedbackloop.cli.topics import app as topics_app
from feedbackloop.config import ENV_PREFIX, ConfigError, get_settings
from feedbackloop.governance.logging import install_pii_logging_filter

app = typer.Typer(
    name="feedbackloop",
    help="Turn what customers say into action: collect, govern, score, route, marts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="The database: embedded server lifecycle and migrations.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
governance_app = typer.Typer(
    help="Governance: validation runs, Data Docs, erasure.", no_args_is_help=True
)
app.add_typer(governance_app, name="governance")
app.add_typer(pii_app, name="pii")
app.add_typer(nlp_app, name="nlp")
app.add_typer(routing_app, name="routing")
app.add_typer(topics_app, name="topics")
app.add_typer(review_app, name="review")
app.add_typer(faq_app, name="faq")
app.add_typer(marts_app, name="marts")
# dbt's own --help and every dbt option pass through untouched.
app.command("dbt", context_settings=DBT_CONTEXT_SETTINGS, add_help_option=False)(dbt_command)

console = Console()


def _prefect_defaults() -> None:
    """Keep Prefect's local state beside ours and quiet offline, unless the user set it."""
    settings = get_settings()
    os.environ.setdefault("PREFECT_HOME", str(settings.state_path / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The first start on a fresh machine migrates Prefect's database, which takes longer
    # than the default 20 s on a small machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Prefect's own run logs would tear through the progress bars; warnings still show.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _own_prefect_api() -> None:
    """Flows run against a Prefect API server tied to this process. Without PREFECT_API_URL,
    Prefect would start its ephemeral API as a subprocess that a kill -9 of this process
    leaves running (Prefect has no hook to change that): start `prefect server start` here
    instead, which dies with this process (`die_with_parent`) and stops at a normal exit
    after Prefect's own exit handlers have flushed to it (atexit runs last-in first-out)."""
    if os.environ.get("PREFECT_API_URL"):
        return
    import atexit
    from contextlib import ExitStack

    from feedbackloop.serve import ServeError, free_port, prefect_server

    home = Path(os.environ["PREFECT_HOME"])
    # A private API for this run: no UI, no schedules to create (the ephemeral API's way).
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    env = {
        **os.environ,
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    }
    stack = ExitStack()
    try:
        api_url = stack.enter_context(
            prefect_server(home, free_port(), log_path=home / "api-server.log", env=env)
        )
    except ServeError as exc:
        raise ConfigError(f"cannot start the Prefect API server: {exc}") from None
    atexit.register(stack.close)
    os.environ["PREFECT_API_URL"] = api_url


@app.callback()
def _root() -> None:
    # No personal data in any log line or exception message, whichever logger writes it.
    install_pii_logging_filter()
    # Our own loggers at the configured level; libraries (alembic, dbt, httpx) only warn.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("feedbackloop", "flows", "nlp", "expectations"):
        logging.getLogger(name).setLevel(get_settings().log_level)
    # A lost connection makes the driver and the pool log multi-line warnings (tracebacks,
    # SQL) on the way down; main() reports the failure itself, in one line.
    for name in ("psycopg", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # Scratch files of a run that was killed (an unmasked drop file, a key) go first.
    from feedbackloop.scratch import sweep_stale

    with suppress(OSError):
        sweep_stale(get_settings().state_dir.expanduser())


# ------------------------------------------------------------------------------------- db


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL server (or reuse the running one) and create the database."""
    from feedbackloop.db import database_url, masked_url

    settings = get_settings()
    if not settings.embedded:
        raise ConfigError("FEEDBACKLOOP_DATABASE_URL is set: there is no embedded server to start")
    url = database_url(settings)
    console.print(f"embedded PostgreSQL running: {masked_url(url)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (its data stays under the state dir)."""
    from feedbackloop.db import embedded_server

    stopped = embedded_server().stop()
    console.print("stopped" if stopped else "not running")


@db_app.command("status")
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


@db_app.command("url")
def db_url(
    show_password: Annotated[bool, typer.Option(help="Print the password too.")] = False,
) -> None:
    """Print the database URL every component uses (starts the embedded server if needed)."""
    from feedbackloop.db import database_url

    url = database_url()
    print(url.render_as_string(hide_password=not show_password))


@db_app.command("migrate")
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


# ------------------------------------------------------------------------------- governance


@governance_app.command("report")
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


@app.command("import")
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
        actor=f"cli:{_user()}",
        known_sources=settings.known_sources,
    )
    table = Table("read", "written", "unchanged", "quarantined", "contacts created")
    table.add_row(
        *(
            f"{n:,}"
            for n in (
                result.read,
                result.written,
                result.unchanged,
                result.quarantined,
                result.contacts_created,
            )
        )
    )
    console.print(table)
    if result.quarantined:
        console.print("quarantined records: see ops.quarantine (reason and line number)")


@app.command()
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


@app.command()
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
    from contextlib import ExitStack

    from feedbackloop.db import ensure_ready
    from feedbackloop.serve import (
        WEBHOOK_DEPLOYMENT,
        DeploymentTrigger,
        ServeError,
        interrupt_on_sigterm,
        prefect_server,
        read_prefect_yaml,
        read_pull_steps,
        register_deployments,
        run_runner,
        webhook_receiver,
    )

    settings = get_settings()
    engine = ensure_ready(settings)  # migrate once, before flow runs race to do it
    os.environ.setdefault("PREFECT_HOME", str(settings.state_path / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    interrupt_on_sigterm()
    try:
        specs = read_prefect_yaml(prefect_yaml)
        with ExitStack() as stack:
            api_url = os.environ.get("PREFECT_API_URL")
            if not api_url:
                console.print(f"starting a Prefect server on 127.0.0.1:{prefect_port} ...")
                api_url = stack.enter_context(
                    prefect_server(Path(os.environ["PREFECT_HOME"]), prefect_port)
                )
                os.environ["PREFECT_API_URL"] = api_url
            from prefect.settings import PREFECT_API_URL, temporary_settings

            from feedbackloop.serve import load_deployments

            stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))
            only = set(deployment) if deployment else None
            deployments = load_deployments(prefect_yaml, only)
            served = {d.name for d in deployments}
            table = Table(title=f"Serving {len(deployments)} deployments from {prefect_yaml}")
            table.add_column("deployment")
            table.add_column("schedules")
            for spec in specs:
                if spec.name in served:
                    crons = ", ".join(
                        s.get("cron", str(s.get("interval")))
                        + ("" if s.get("active", True) else " (inactive)")
                        for s in spec.schedules
                    )
                    table.add_row(spec.name, crons or "on demand")
            console.print(table)
            console.print(f"Prefect API: {api_url} (UI: {api_url.removesuffix('/api')})")
            runner = register_deployments(deployments, read_pull_steps(prefect_yaml), limit=limit)
            if web:
                from feedbackloop.web import create_app

                trigger = None
                if WEBHOOK_DEPLOYMENT.split("/")[1] in served:
                    trigger = DeploymentTrigger(WEBHOOK_DEPLOYMENT).start()
                    stack.callback(trigger.stop)
                app_ = create_app(
                    settings, engine=engine, on_stored=trigger.notify if trigger else None
                )
                url = stack.enter_context(webhook_receiver(app_, host, port))
                console.print(f"webhooks: POST {url}/webhooks/zendesk, {url}/webhooks/{{source}}")
            console.print("Ctrl-C stops everything.")
            run_runner(runner)
    except ServeError as exc:
        console.print(f"[red]serve:[/] {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("stopped")


@app.command()
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
        report = erase(conn, email, settings.hash_key(), actor=f"cli:{_user()}")
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


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# ---------------------------------------------------------------------------------- explain


@app.command()
def explain(
    target: Annotated[
        str,
        typer.Argument(
            help="An action id (42), a reply reference (fl-...), or an item "
            "(ticket:zendesk:12345, zendesk:12345)."
        ),
    ],
) -> None:
    """Why the loop did what it did to an item or an action, in plain words."""
    from feedbackloop.cli.routing import explain as explain_target

    explain_target(target)


# ------------------------------------------------------------------------------------- demo


@app.command()
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
    _prefect_defaults()
    _own_prefect_api()
    from flows.demo import demo_loop

    console.print(f"[bold]feedbackloop demo[/]: {tickets:,} tickets, seed {seed}")
    console.print("running the demo-loop flow (Prefect, in-process)")
    with _progress_bar() as sink, progress.reporting(sink):
        result = demo_loop(seed=seed, tickets=tickets, quiet=True)
    _print_demo_summary(result)
    if not serve:
        return

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


def _collect_counts(result: Any) -> tuple[int, int, int, int | None]:
    """(written, unchanged, quarantined, API calls) of a connector's or a drop's result."""
    if hasattr(result, "rows_written"):
        return result.rows_written, result.rows_unchanged, result.quarantined, result.api_calls
    return result.written, result.unchanged, result.quarantined, None


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


def _print_demo_summary(result: dict) -> None:
    report = result["report"]
    table = Table(title="Collect: through the connectors (fake APIs on 127.0.0.1, a drop file)")
    for column in ("source", "stream", "received", "stored", "unchanged", "quarantined", "calls"):
        table.add_column(column, justify="left" if column in ("source", "stream") else "right")
    masked_counts = Counter(report.masked_entities)
    for source, streams in result["collected"].items():
        for stream, r in streams.items():
            written, unchanged, quarantined, calls = _collect_counts(r)
            masked_counts.update(r.masked_entities)
            table.add_row(
                source,
                stream,
                f"{written + unchanged + quarantined:,}",
                f"{written:,}",
                f"{unchanged:,}",
                f"{quarantined:,}",
                "-" if calls is None else f"{calls:,}",
            )
    for stream, generated in report.generated.items():
        table.add_row(
            "crm",
            stream,
            f"{generated:,}",
            f"{report.written[stream]:,}",
            "0",
            f"{report.quarantined[stream]:,}",
            "-",
        )
    console.print(table)

    masked = Table(title="Governance: masked before storage, validated, merged")
    masked.add_column("entity type")
    masked.add_column("masked", justify="right")
    for kind, count in sorted(masked_counts.items()):
        masked.add_row(kind, f"{count:,}")
    masked.add_row("invalid emails flagged", f"{report.invalid_emails:,}")
    masked.add_row("duplicate contacts merged", f"{result['merged_contacts']:,}")
    masked.add_row("consent decisions recorded", f"{report.consent_changes:,}")
    console.print(masked)
    check = result["marts_check"]
    console.print(
        f"GX gate: {result['counts'].get('ops.validation_runs', 0):,} batches validated, "
        f"{result['counts'].get('ops.quarantine', 0):,} records quarantined; "
        f"checks on dbt output: {'passed' if check.success else 'FAILED'}. "
        f"Data Docs: {result['data_docs']}"
    )

    scores = result["scores"]
    totals = scores.totals
    labels = Table(
        title=f"Sentiment ({scores.model_version})",
        caption=f"{totals.get('items', 0):,} items; {scores.scored:,} new or changed in this run",
    )
    labels.add_column("label")
    labels.add_column("items", justify="right")
    for label in ("very_negative", "negative", "neutral", "positive", "very_positive"):
        labels.add_row(label, f"{totals.get(label, 0):,}")
    labels.add_row("frustrated", f"{totals.get('frustrated', 0):,}")
    labels.add_row("not English (flagged)", f"{totals.get('not_english', 0):,}")
    console.print(labels)

    from feedbackloop.cli.routing import summary_table

    console.print(summary_table(result["routing"]))
    dispatched = result["routed"].dispatched
    if dispatched is not None:
        console.print(
            f"dispatched to the fakes: {dispatched.sent:,} sent, {dispatched.retrying:,} "
            f"retrying, {dispatched.failed:,} failed"
        )
    if result["explained"]:
        console.print(f"[bold]feedbackloop explain {result['routing'].example_action_id}[/]")
        console.print(result["explained"], highlight=False, markup=False, soft_wrap=True)

    topics = result["topics"]
    console.print(
        f"Topics ({topics.encoder}): {topics.clusters:,} clusters, {topics.candidates:,} with at "
        f"least {get_settings().topic_min_cluster_size} items; outliers "
        f"{100 * topics.outlier_share:.1f}% of {topics.items:,} consented items"
    )

    health = result["health"]
    failing = [c.name for c in health.checks if not c.ok]
    console.print(
        f"Health checks: {len(health.checks)} recorded in ops.health_pings, "
        + (f"[red]failing: {', '.join(failing)}[/]" if failing else "all ok")
        + " (source freshness: `feedbackloop dbt source freshness`)"
    )

    dbt = result["dbt"]
    models = sum(1 for n in dbt.passed if n.startswith("model."))
    tests = sum(1 for n in dbt.passed if n.startswith(("test.", "unit_test.")))
    console.print(
        f"dbt build: {models} models and {tests} data tests passed (artifacts in {dbt.target_path})"
    )

    counts = Table(title="Rows in the database now")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, rows in result["counts"].items():
        if rows:
            counts.add_row(name, f"{rows:,}")
    console.print(counts)
    console.print(
        "Next: `feedbackloop db status` for every table, `feedbackloop db url` to connect "
        "with psql or a BI tool."
    )
    console.print(
        f"Dashboard: feedbackloop web, then http://127.0.0.1:8000/ (user "
        f"{get_settings().dashboard_user}, password from {ENV_PREFIX}DASHBOARD_PASSWORD); "
        "or `feedbackloop demo --serve`",
        highlight=False,
    )


def main() -> None:
    """Console-script entry point: a bad setting, an unreadable input file or a database that
    is down or goes away is one clear line and exit code 2, never a traceback (whose SQL and
    parameters could hold personal data)."""
    import psycopg
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from feedbackloop.db import describe_failure
    from feedbackloop.db.embedded import EmbeddedServerError
    from feedbackloop.sources.files import UnreadableFile

    try:
        app()
    except (ConfigError, EmbeddedServerError, UnreadableFile) as exc:
        _fail(str(exc))
    except ValidationError as exc:
        # Name the setting, never echo its value (it may be a URL with a password).
        problems = "; ".join(
            f"{ENV_PREFIX}{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors()
        )
        _fail(f"invalid setting: {problems}")
    except (SQLAlchemyError, psycopg.Error) as exc:
        _fail(describe_failure(exc) or "database error")


def _fail(message: str) -> None:
    print_error(message)
    sys.exit(2)


if __name__ == "__main__":
    main()
