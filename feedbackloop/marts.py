"""dbt, driven from the one Settings object: connection env, artifacts under the state dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def dbt_process_env(settings: Settings, url: URL | None = None) -> dict[str, str]:
    """`dbt_env` plus where the project and its profile are: all a plain `dbt` process needs
    (`feedbackloop dbt env` prints it, `feedbackloop dbt ...` hands it to the child)."""
    project_dir = str(settings.dbt_project_dir)
    return {
        **dbt_env(url or database_url(settings), settings),
        "DBT_PROJECT_DIR": project_dir,
        "DBT_PROFILES_DIR": project_dir,
    }


# What the `dbt` console script runs, in this interpreter (`-m dbt.cli.main` warns on import).
_DBT_MAIN = "import sys; from dbt.cli.main import cli; sys.exit(cli(prog_name='dbt'))"


def run_dbt_process(
    args: Sequence[str],
    settings: Settings | None = None,
    *,
    timeout: float | None = None,
    capture: bool = False,
    connect: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `dbt ARGS` as a child process, as the `dbt` script would, with our connection in
    the child's environment only. `connect=False` for help and version (no database needed).
    A timeout kills dbt and raises `subprocess.TimeoutExpired`."""
    settings = settings or get_settings()
    env = dict(os.environ)
    if connect:
        env.update(dbt_process_env(settings))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return subprocess.run(
        [sys.executable, "-c", _DBT_MAIN, *args],
        env=env,
        timeout=timeout,
        capture_output=capture,
        text=True,
        check=False,
    )


@dataclass(frozen=True)
class FreshnessResult:
    """`dbt source freshness`: its exit code and each source table's status (pass, warn,
    error, runtime error), keyed `source_name.table`."""

    returncode: int
    statuses: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0  # warn-level staleness exits 0 too

    def named(self, *statuses: str) -> list[str]:
        return sorted(name for name, status in self.statuses.items() if status in statuses)


def source_freshness(
    settings: Settings | None = None,
    *,
    exclude: Sequence[str] = (),
    timeout: float | None = None,
) -> FreshnessResult:
    """`dbt source freshness` in a child process. Its artifacts go to their own target dir so
    a concurrent `dbt build` never shares (and races on) a partial-parse file with it."""
    settings = settings or get_settings()
    target = settings.state_path / "dbt" / "freshness"
    (target / "sources.json").unlink(missing_ok=True)  # never read an earlier run's results
    parsed, built = (d / "partial_parse.msgpack" for d in (target, target.with_name("target")))
    if not parsed.exists() and built.exists():
        # Start from the last build's parse: the first check skips parsing the whole project
        # (a torn copy only costs that full parse: dbt falls back to it).
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, parsed)
    args = ["source", "freshness", "--target-path", str(target)]
    if exclude:
        args += ["--exclude", *exclude]
    proc = run_dbt_process(args, settings, timeout=timeout, capture=True)
    statuses: dict[str, str] = {}
    results = target / "sources.json"
    if results.exists():
        for row in json.loads(results.read_text()).get("results", []):
            # unique_id: source.<project>.<source>.<table>
            name = ".".join(row["unique_id"].split(".")[2:])
            statuses[name] = str(row.get("status", "")).lower()
    return FreshnessResult(proc.returncode, statuses)


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
