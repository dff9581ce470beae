"""dbt, driven from the one Settings object: connection env, artifacts under the state dir."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from feedbackloop.config import Settings, get_settings
from feedbackloop.db import database_url


class MartsBuildError(RuntimeError):
    """dbt failed; the message names the failing nodes (models or tests)."""


@dataclass
class DbtResult:
    success: bool
    command: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    target_path: Path | None = None


def dbt_env(url: URL, settings: Settings) -> dict[str, str]:
    """The env vars `dbt_project/profiles.yml` reads, from the same URL SQLAlchemy uses."""
    host = url.host or url.query.get("host") or "localhost"
    port = url.port or url.query.get("port") or 5432
    dbt_dir = settings.state_path / "dbt"
    return {
        "FEEDBACKLOOP_PG_HOST": str(host),
        "FEEDBACKLOOP_PG_PORT": str(port),
        "FEEDBACKLOOP_PG_USER": url.username or "postgres",
        "FEEDBACKLOOP_PG_PASSWORD": url.password or "",
        "FEEDBACKLOOP_PG_DBNAME": url.database or "postgres",
        "DBT_TARGET_PATH": str(dbt_dir / "target"),
        "DBT_LOG_PATH": str(dbt_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def run_dbt(
    args: Sequence[str],
    settings: Settings | None = None,
    *,
    raise_on_failure: bool = True,
    quiet: bool = False,
) -> DbtResult:
    """Run one dbt command in-process (dbt's programmatic runner) against our database."""
    from dbt.cli.main import dbtRunner

    settings = settings or get_settings()
    env = dbt_env(database_url(settings), settings)
    project_dir = str(settings.dbt_project_dir)
    argv = [*args, "--project-dir", project_dir, "--profiles-dir", project_dir]
    if quiet:
        argv.append("--quiet")  # errors still print; the per-node progress lines do not
    with _environ(env):
        res = dbtRunner().invoke(argv)
    result = DbtResult(
        success=bool(res.success),
        command=" ".join(args),
        target_path=Path(env["DBT_TARGET_PATH"]),
    )
    for node in getattr(res.result, "results", None) or []:
        name = node.node.unique_id if getattr(node, "node", None) else str(node)
        status = str(node.status).lower()
        if status in {"success", "pass"}:
            result.passed.append(name)
        elif status in {"skipped", "no-op"}:
            # no-op: nodes with nothing to run, such as exposures
            result.skipped.append(name)
        elif status not in {"warn"}:
            result.failed.append(name)
    if raise_on_failure and not result.success:
        detail = ", ".join(result.failed) if result.failed else str(res.exception or "see dbt logs")
        raise MartsBuildError(f"dbt {result.command} failed: {detail}")
    return result


def build_marts(
    settings: Settings | None = None,
    select: str | None = None,
    *,
    quiet: bool = False,
    full_refresh: bool = False,
    dbt_vars: Mapping[str, Any] | None = None,
) -> DbtResult:
    """`dbt build` (models, data tests, unit tests). `full_refresh` rebuilds the incremental
    models (fct_feedback) from scratch; `dbt_vars` override dbt_project.yml vars (e.g. as_of)."""
    args = ["build"] + (["--select", select] if select else [])
    if full_refresh:
        args.append("--full-refresh")
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars))]
    return run_dbt(args, settings, quiet=quiet)
