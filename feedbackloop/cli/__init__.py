"""The `feedbackloop` command line: every command in --help works; errors are one line, exit 2.

This module assembles the Typer app from one module per command group and holds `main()`."""

from __future__ import annotations

import logging
import sys
from contextlib import suppress

import typer

from feedbackloop.cli import db, demo, governance, ingest, routing, serve
from feedbackloop.cli.dbt import CONTEXT_SETTINGS as DBT_CONTEXT_SETTINGS
from feedbackloop.cli.dbt import dbt as dbt_command
from feedbackloop.cli.errors import print_error
from feedbackloop.cli.faq import app as faq_app
from feedbackloop.cli.marts import app as marts_app
from feedbackloop.cli.milestones import app as milestones_app
from feedbackloop.cli.nlp import app as nlp_app
from feedbackloop.cli.pii import app as pii_app
from feedbackloop.cli.review import app as review_app
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
app.add_typer(db.app, name="db")
app.add_typer(governance.app, name="governance")
app.add_typer(pii_app, name="pii")
app.add_typer(nlp_app, name="nlp")
app.add_typer(routing.app, name="routing")
app.add_typer(topics_app, name="topics")
app.add_typer(review_app, name="review")
app.add_typer(faq_app, name="faq")
app.add_typer(marts_app, name="marts")
app.add_typer(milestones_app, name="milestones")
# dbt's own --help and every dbt option pass through untouched.
app.command("dbt", context_settings=DBT_CONTEXT_SETTINGS, add_help_option=False)(dbt_command)
app.command("import")(ingest.import_)
app.command()(serve.web)
app.command()(serve.serve)
app.command()(governance.forget)
app.command("explain")(routing.explain_command)
app.command()(demo.demo)


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


def main() -> None:
    """Console-script entry point: a bad setting, an unreadable input file or a database that
    is down or goes away is one clear line and exit code 2, never a traceback (whose SQL and
    parameters could hold personal data)."""
    import psycopg
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from feedbackloop.db import describe_failure
    from feedbackloop.db.embedded import EmbeddedServerError
    from feedbackloop.memory import tune_allocator
    from feedbackloop.sources.files import UnreadableFile

    tune_allocator()  # commands that run the pipeline in this process: flat memory as in flows
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
