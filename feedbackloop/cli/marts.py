"""`feedbackloop marts`: dbt build and docs against the configured database."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from feedbackloop.cli.errors import fail
from feedbackloop.config import get_settings

app = typer.Typer(help="The marts: dbt build and dbt docs.", no_args_is_help=True)
console = Console()


@app.command("build")
def build(
    select: Annotated[
        str | None, typer.Option(help="dbt node selection, e.g. +fct_feedback.")
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild the incremental models from scratch.")
    ] = False,
    vars_: Annotated[
        str | None,
        typer.Option("--vars", help="dbt vars as JSON, e.g. '{\"faq_min_similar\": 20}'."),
    ] = None,
) -> None:
    """`dbt build`: models, data tests and unit tests; exits 1 naming the failing nodes."""
    from feedbackloop.db import ensure_ready
    from feedbackloop.marts import MartsBuildError, build_marts

    ensure_ready(get_settings())  # the sources must be at the current migration
    try:
        dbt_vars = json.loads(vars_) if vars_ else None
    except json.JSONDecodeError as exc:
        raise fail(f"--vars is not JSON: {exc}") from None
    try:
        result = build_marts(
            get_settings(),
            select,
            quiet=True,
            full_refresh=full_refresh,
            dbt_vars=dbt_vars,
            unit_tests=True,  # by hand: the SQL's unit tests too, as `make test` does
        )
    except MartsBuildError as exc:
        raise fail(str(exc), code=1) from None
    models = sum(1 for n in result.passed if n.startswith("model."))
    tests = sum(1 for n in result.passed if n.startswith(("test.", "unit_test.")))
    console.print(f"dbt build: {models} models and {tests} tests passed ({result.target_path})")


@app.command("docs")
def docs() -> None:
    """`dbt docs generate`: the catalog and docs site under STATE_DIR/dbt/target; serve it
    with any static file server (`python -m http.server -d STATE_DIR/dbt/target`)."""
    from feedbackloop.marts import MartsBuildError, run_dbt

    try:
        result = run_dbt(["docs", "generate"], get_settings(), quiet=True)
    except MartsBuildError as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"dbt docs written to {result.target_path}/index.html")
