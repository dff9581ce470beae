"""`feedbackloop dbt ARGS...`: any dbt command with our profile, project, target and log dirs;
`feedbackloop dbt env`: the same settings as `export` lines, for a plain `dbt`."""

from __future__ import annotations

import shlex

import typer

from feedbackloop.config import Settings, get_settings

CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
# Arguments that only print dbt's help or version: no database needed for those.
_NO_CONNECTION = {"-h", "--help", "--version", "-V"}
USAGE = """\
feedbackloop dbt ARGS...   runs `dbt ARGS...` against the configured database, for example
                           `feedbackloop dbt source freshness`, `feedbackloop dbt build -s marts`
feedbackloop dbt env [--show-password]
                           prints the variables a plain `dbt` needs, for
                           eval "$(feedbackloop dbt env)"
"""


def dbt(ctx: typer.Context) -> None:
    """Run any dbt command with the project's profile, project, target and log dirs
    (`feedbackloop dbt build`, `... dbt source freshness`); `feedbackloop dbt env` prints them
    as export lines. dbt's exit code is passed through."""
    args = list(ctx.args)
    if args[:1] == ["env"]:
        _print_env(show_password="--show-password" in args[1:])
        return
    if not args or args == ["--help"]:
        typer.echo(USAGE)
        if not args:
            return
    settings = get_settings()
    connect = bool(args) and not _NO_CONNECTION.intersection(args)
    if connect:
        from feedbackloop.db import ensure_ready

        ensure_ready(settings)  # the embedded server up and the sources at the current schema
    from feedbackloop.marts import run_dbt_process

    raise typer.Exit(run_dbt_process(args, settings, connect=connect).returncode)


def _print_env(show_password: bool) -> None:
    from feedbackloop.marts import dbt_process_env

    settings = get_settings()
    env = dbt_process_env(settings)
    for key, value in env.items():
        if key == "FEEDBACKLOOP_PG_PASSWORD" and value and not show_password:
            typer.echo(_password_line(key, settings))
            continue
        typer.echo(f"export {key}={shlex.quote(value)}")


def _password_line(key: str, settings: Settings) -> str:
    """The password is not printed: the embedded server's is read from its file when the
    shell evaluates the line; a configured URL's needs --show-password."""
    if settings.embedded:
        from feedbackloop.db import embedded_server

        path = shlex.quote(str(embedded_server(settings).password_file))
        return f'export {key}="$(cat {path})"'
    return f"# {key} is set but not shown: add --show-password"
