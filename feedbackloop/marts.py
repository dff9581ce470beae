"""dbt, driven from the one Settings object: a profile written under the state dir (dbt reads
the connection from it, not from the environment), artifacts and logs there too.

`DbtRunner` is the API (`Resources.dbt`); the module functions are shorthands for one call."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.memory import frozen_heap


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
    # The views this run built ("schema.name"); empty when any of them did not succeed.
    views: list[str] = field(default_factory=list)


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


# Written on each staging view a full build made (COMMENT ON VIEW), followed by the project's
# fingerprint and the database's migration: a view carrying the current one needs no rebuild.
VIEW_MARK = "feedbackloop dbt project "
# The mark in SQL: VIEW_MARK, the fingerprint (bound as :mark) and the migration the database is at.
_MARK_SQL = ":mark || (SELECT max(version_num) FROM ops.alembic_version)"


def _mark(fingerprint: str) -> str:
    return f"{VIEW_MARK}{fingerprint} migration "


# The views a full build made, per connection (beside its profile): what the marks are checked on.
_VIEWS_FILE = "views.json"
# Not part of the project's source: dbt's own output, if it is ever written inside the project.
_NOT_SOURCE = {"target", "logs", "dbt_packages", "__pycache__"}


def project_fingerprint(project_dir: Path, dbt_vars: Mapping[str, Any] | None = None) -> str:
    """A hash of everything a view's SQL can depend on: every file of the dbt project, the dbt
    version and the vars given. Any change to any of them rebuilds every view."""
    import hashlib

    from dbt.version import __version__

    digest = hashlib.sha256(f"dbt {__version__}\n".encode())
    digest.update(json.dumps(dict(dbt_vars or {}), sort_keys=True, default=str).encode())
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or _NOT_SOURCE.intersection(relative.parts):
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(f"\0{relative.as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


# What the `dbt` console script runs, in this interpreter (`-m dbt.cli.main` warns on import).
_DBT_MAIN = "import sys; from dbt.cli.main import cli; sys.exit(cli(prog_name='dbt'))"
# dbt commands without a target dir (`--target-path` is not one of their options).
_NO_TARGET = {"debug", "deps", "init"}


def write_profile(settings: Settings, url: URL | None = None) -> Path:
    """The dbt profile with our connection written out (mode 600, under the state dir), from
    the project's `profiles.yml`: dbt reads it through `--profiles-dir`, so the connection
    never passes through the process environment. One directory per connection, so runs
    against different databases never share a profile. Returns the directory."""
    import hashlib

    import yaml

    url = url or database_url(settings)
    env = dbt_env(url, settings)
    committed = yaml.safe_load((settings.dbt_project_dir / "profiles.yml").read_text())
    (name, profile), *_ = committed.items()
    output = {
        **profile["outputs"]["default"],
        "host": env["FEEDBACKLOOP_PG_HOST"],
        "port": int(env["FEEDBACKLOOP_PG_PORT"]),
        "user": env["FEEDBACKLOOP_PG_USER"],
        "password": env["FEEDBACKLOOP_PG_PASSWORD"],
        "dbname": env["FEEDBACKLOOP_PG_DBNAME"],
    }
    text = yaml.safe_dump({name: {"target": "default", "outputs": {"default": output}}})
    key = hashlib.sha256(url.render_as_string(hide_password=False).encode()).hexdigest()[:16]
    directory = settings.state_path / "dbt" / "profiles" / key
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "profiles.yml"
    if not path.exists() or path.read_text() != text:
        # Written whole under another name, then renamed: a concurrent reader sees one or
        # the other, never half a file.
        tmp = directory / f".profiles.{os.getpid()}.yml"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    return directory


def _keep_connections() -> None:
    """Keep each dbt thread's database connection open from one node to the next.

    dbt closes a node's connection when the node ends (`release`), so each of an increment's
    ~150 nodes opened and authenticated (SCRAM) a new one. dbt-snowflake's `reuse_connections`
    keeps them instead; dbt-postgres has no such option, so its `release` is wrapped here, in
    this process only. A kept connection is rolled back first (what closing did to an open
    transaction); one that fails that, or is not a plain psycopg2 connection, is closed as
    before. dbt closes the kept ones when the command ends (`cleanup_all`). What a node leaves
    in its session: the project's only `set` is `set local` (ends with the transaction); an
    incremental model's temporary table has a timestamped name of its own and now lives until
    the build ends instead of the node (docs/decisions.md)."""
    import psycopg2
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    idle = psycopg2.extensions.TRANSACTION_STATUS_IDLE
    close = PostgresConnectionManager.release
    if getattr(close, "keeps_connections", False):
        return

    def release(self: PostgresConnectionManager) -> None:
        handle = getattr(self.get_if_exists(), "handle", None)
        # Not yet opened (a LazyHandle) or dbt's record/replay wrapper: dbt's own release.
        if isinstance(handle, psycopg2.extensions.connection) and not handle.closed:
            try:
                # What closing did to a transaction the node left open. Also after dbt's own
                # COMMIT statement: psycopg2 still counts that transaction as open, and until
                # it is told otherwise it would not begin the next node's transaction (a
                # pre-hook's `set local` would then do nothing). Costs a round trip, and the
                # server notes "there is no transaction in progress".
                handle.rollback()
                kept = handle.get_transaction_status() == idle
            except psycopg2.Error:
                kept = False  # broken: closed below, and the next node opens a new one
            if kept:
                self.get_thread_connection().transaction_open = False
                return
        close(self)

    release.keeps_connections = True  # type: ignore[attr-defined]
    PostgresConnectionManager.release = release  # type: ignore[method-assign]


@dataclass(frozen=True)
class DbtRunner:
    """dbt against the database of one Settings: our written profile, the project, and
    artifacts and logs under the state dir, all passed as command-line options."""

    settings: Settings

    @property
    def target_path(self) -> Path:
        return self.settings.state_path / "dbt" / "target"

    def options(self, args: Sequence[str]) -> tuple[list[str], list[str]]:
        """Options for `dbt ARGS`: (before the command, after it). An option ARGS already
        give is left to them."""
        given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
        before = ["--no-send-anonymous-usage-stats"]
        if "--log-path" not in given:
            before += ["--log-path", str(self.settings.state_path / "dbt" / "logs")]
        after = {
            "--project-dir": str(self.settings.dbt_project_dir),
            "--profiles-dir": str(write_profile(self.settings)),
        }
        if not _NO_TARGET.intersection(args[:1]):
            after["--target-path"] = str(self.target_path)
        return before, [x for k, v in after.items() if k not in given for x in (k, v)]

    def process(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = None,
        capture: bool = False,
        connect: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `dbt ARGS` as a child process, as the `dbt` script would. `connect=False` for
        help and version (no database needed). A timeout kills dbt and raises
        `subprocess.TimeoutExpired`."""
        before, after = self.options(args) if connect else ([], [])
        return subprocess.run(
            [sys.executable, "-c", _DBT_MAIN, *before, *args, *after],
            timeout=timeout,
            capture_output=capture,
            text=True,
            check=False,
        )

    def run(
        self,
        args: Sequence[str],
        *,
        raise_on_failure: bool = True,
        quiet: bool = False,
        write_json: bool = True,
    ) -> DbtResult:
        """Run one dbt command in-process (dbt's programmatic runner) against our database.
        `write_json=False`: dbt writes no manifest (the one on disk is kept), the run results
        are written here."""
        before, after = self.options(args)
        if quiet:
            after.append("--quiet")  # errors still print; the per-node progress lines do not
        if not write_json:
            before.append("--no-write-json")
        with frozen_heap():
            # Inside: dbt's first import in a process sets off full collections too.
            from dbt.cli.main import dbtRunner

            _keep_connections()
            res = dbtRunner().invoke([*before, *args, *after])
        result = DbtResult(
            success=bool(res.success), command=" ".join(args), target_path=self.target_path
        )
        if not write_json and hasattr(res.result, "write"):
            # dbt's own serialization of this run: what every reader of run_results.json expects
            res.result.write(str(self.target_path / "run_results.json"))
        views_ok = True
        for node in getattr(res.result, "results", None) or []:
            name = node.node.unique_id if getattr(node, "node", None) else str(node)
            status = str(node.status).lower()
            if name.startswith("model.") and node.node.config.materialized == "view":
                result.views.append(f"{node.node.schema}.{node.node.alias}")
                views_ok = views_ok and status == "success"
            if status in {"success", "pass"}:
                result.passed.append(name)
            elif status in {"skipped", "no-op"}:
                # no-op: nodes with nothing to run, such as exposures
                result.skipped.append(name)
            elif status not in {"warn"}:
                result.failed.append(name)
        if raise_on_failure and not result.success:
            detail = (
                ", ".join(result.failed) if result.failed else str(res.exception or "see dbt logs")
            )
            raise MartsBuildError(f"dbt {result.command} failed: {detail}")
        if not views_ok:
            result.views = []
        return result

    def build(
        self,
        select: str | None = None,
        *,
        quiet: bool = False,
        full_refresh: bool = False,
        dbt_vars: Mapping[str, Any] | None = None,
        unit_tests: bool = False,
    ) -> DbtResult:
        """`dbt build` (models and data tests; unit tests with `unit_tests`). `full_refresh`
        rebuilds the incremental models from scratch; `dbt_vars` override dbt_project.yml
        vars (e.g. as_of)."""
        args = ["build"] + (["--select", select] if select else [])
        if not unit_tests:
            # Unit tests check the SQL on fixed inputs: the code, not the data. dbt recommends
            # them in development and CI only (docs/decisions.md); `make test` and the CLI run them.
            args += ["--exclude-resource-type", "unit_test"]
        if full_refresh:
            args.append("--full-refresh")
        if dbt_vars:
            args += ["--vars", json.dumps(dict(dbt_vars))]
        if select or full_refresh:
            return self.run(args, quiet=quiet)
        fingerprint = project_fingerprint(self.settings.dbt_project_dir, dbt_vars)
        if not self._views_current(fingerprint):
            result = self.run(args, quiet=quiet)
            if result.success and result.views:
                self._mark_views(fingerprint, result.views)
            return result
        # The staging views read the raw tables live: new rows need no rebuild, only a changed
        # project or migration does. Their tests still run (`--indirect-selection empty` keeps
        # the tests of an excluded model selected). The manifest on disk is this project's
        # already: only the run results are written (docs/decisions.md).
        args += ["--indirect-selection", "empty", "--exclude", "config.materialized:view"]
        return self.run(args, quiet=quiet, write_json=False)

    def parse(self) -> DbtResult:
        """`dbt parse`: the manifest and partial-parse file under the state dir, so the next
        build against this database skips parsing the whole project (about 4.6 CPU-s, half of
        a first full build at 20,000 tickets). Run where this process would wait anyway
        (`pull_tickets(prepare_marts=True)`). Does not raise: a project that fails to parse
        fails the build that follows, with dbt's message. Skipped when the last full build
        against this database was of this project (its views carry the fingerprint): its
        parse is current, and dbt would only spend about 0.3 s confirming it."""
        fingerprint = project_fingerprint(self.settings.dbt_project_dir)
        if (self.target_path / "partial_parse.msgpack").exists() and self._views_current(
            fingerprint
        ):
            return DbtResult(success=True, command="parse", target_path=self.target_path)
        return self.run(["parse"], raise_on_failure=False, quiet=True)

    def _views_file(self) -> Path:
        return write_profile(self.settings) / _VIEWS_FILE

    def _views_current(self, fingerprint: str) -> bool:
        """Every view the last full build made exists in the database and carries this
        project's fingerprint and the database's migration; and the manifest on disk exists."""
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from feedbackloop.db import get_engine

        try:
            saved = json.loads(self._views_file().read_text())
        except (OSError, ValueError):
            return False
        views = saved.get("views") if saved.get("fingerprint") == fingerprint else None
        if not views or not (self.target_path / "manifest.json").exists():
            return False
        try:
            with get_engine(self.settings).connect() as conn:
                marked = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind = 'v' AND n.nspname || '.' || c.relname = ANY(:views) "
                        f"AND obj_description(c.oid, 'pg_class') = {_MARK_SQL}"
                    ),
                    {"views": views, "mark": _mark(fingerprint)},
                ).scalar_one()
        except SQLAlchemyError:
            return False
        return bool(marked == len(views))

    def _mark_views(self, fingerprint: str, views: Sequence[str]) -> None:
        """After a full build whose every view succeeded: mark them, and save their names."""
        from sqlalchemy import text

        from feedbackloop.db import get_engine

        built = [tuple(v.split(".", 1)) for v in views]
        with get_engine(self.settings).begin() as conn:
            # format() quotes the names and the mark: COMMENT takes no bound parameters.
            statements = conn.execute(
                text(
                    f"SELECT string_agg(format('COMMENT ON VIEW %I.%I IS %L', s, v, {_MARK_SQL}), "
                    "'; ') "
                    "FROM unnest(CAST(:schemas AS text[]), CAST(:names AS text[])) AS t (s, v)"
                ),
                {
                    "schemas": [s for s, _ in built],
                    "names": [v for _, v in built],
                    "mark": _mark(fingerprint),
                },
            ).scalar_one()
            if statements:
                conn.exec_driver_sql(statements)
        path = self._views_file()
        tmp = path.with_name(f".{_VIEWS_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "views": list(views)}))
        os.replace(tmp, path)

    def source_freshness(
        self, *, exclude: Sequence[str] = (), timeout: float | None = None
    ) -> FreshnessResult:
        """`dbt source freshness` in a child process. Its artifacts go to their own target
        dir so a concurrent `dbt build` never shares (and races on) a partial-parse file."""
        target = self.settings.state_path / "dbt" / "freshness"
        (target / "sources.json").unlink(missing_ok=True)  # never read an earlier run's results
        parsed, built = (d / "partial_parse.msgpack" for d in (target, self.target_path))
        if not parsed.exists() and built.exists():
            # Start from the last build's parse: the first check skips parsing the whole
            # project (a torn copy only costs that full parse: dbt falls back to it).
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, parsed)
        args = ["source", "freshness", "--target-path", str(target)]
        if exclude:
            args += ["--exclude", *exclude]
        proc = self.process(args, timeout=timeout, capture=True)
        statuses: dict[str, str] = {}
        results = target / "sources.json"
        if results.exists():
            for row in json.loads(results.read_text()).get("results", []):
                # unique_id: source.<project>.<source>.<table>
                name = ".".join(row["unique_id"].split(".")[2:])
                statuses[name] = str(row.get("status", "")).lower()
        return FreshnessResult(proc.returncode, statuses)


def run_dbt_process(
    args: Sequence[str],
    settings: Settings,
    *,
    timeout: float | None = None,
    capture: bool = False,
    connect: bool = True,
) -> subprocess.CompletedProcess[str]:
    return DbtRunner(settings).process(args, timeout=timeout, capture=capture, connect=connect)


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
    settings: Settings, *, exclude: Sequence[str] = (), timeout: float | None = None
) -> FreshnessResult:
    return DbtRunner(settings).source_freshness(exclude=exclude, timeout=timeout)


def run_dbt(
    args: Sequence[str],
    settings: Settings,
    *,
    raise_on_failure: bool = True,
    quiet: bool = False,
) -> DbtResult:
    return DbtRunner(settings).run(args, raise_on_failure=raise_on_failure, quiet=quiet)


def build_marts(settings: Settings, select: str | None = None, **options: Any) -> DbtResult:
    """`DbtRunner(settings).build(select, ...)`: its keyword options, listed there once."""
    return DbtRunner(settings).build(select, **options)
