"""The one way to reach the database.

`database_url()` resolves the settings to a URL (starting the embedded server when no URL is
set), `get_engine()` hands out one engine per URL, and `ensure_ready()` checks the connection
and applies migrations. dbt and GX take their connection from `database_url()` too.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from feedbackloop.config import ENV_PREFIX, ConfigError, Settings, get_settings
from feedbackloop.db.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)

__all__ = [
    "DatabaseUnreachable",
    "database_url",
    "describe_failure",
    "embedded_server",
    "ensure_ready",
    "get_engine",
    "masked_url",
]


class DatabaseUnreachable(ConfigError):
    """The configured database cannot be reached; the message names the setting and host."""


def embedded_server(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.state_path)


def _normalize(url: URL) -> URL:
    # One driver everywhere: psycopg 3. Plain postgresql:// URLs from users are accepted.
    if url.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        return url.set(drivername="postgresql+psycopg")
    return url


def database_url(settings: Settings | None = None, *, start: bool = True) -> URL:
    """The URL every component uses; with no setting, the embedded server's (started on demand)."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        raw = settings.database_url.get_secret_value()
        try:
            url = make_url(raw)
        except ArgumentError:
            raise ConfigError(
                f"{ENV_PREFIX}DATABASE_URL is not a valid database URL "
                "(expected postgresql://user:password@host:port/database)"
            ) from None
        if not url.drivername.startswith("postgres"):
            raise ConfigError(
                f"{ENV_PREFIX}DATABASE_URL must point at PostgreSQL, got {url.drivername!r}"
            )
        return _normalize(url)
    server = embedded_server(settings)
    status = server.start() if start else server.status()
    server.ensure_database(settings.embedded_database)
    return status.url(settings.embedded_database)


def masked_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _host_of(url: URL) -> str:
    host = url.host or url.query.get("host") or "localhost"
    return f"{host}:{url.port}" if url.port else str(host)


@lru_cache(maxsize=8)
def _engine_for(url_string: str) -> Engine:
    # hide_parameters: a statement's parameters are customer data; keep them out of every
    # exception message, and so out of any log line or traceback that quotes one.
    return create_engine(url_string, pool_pre_ping=True, future=True, hide_parameters=True)


def get_engine(settings: Settings | None = None) -> Engine:
    url = database_url(settings)
    return _engine_for(url.render_as_string(hide_password=False))


def check_connection(settings: Settings | None = None) -> URL:
    """Connect once; a failure becomes one line naming the setting and the host tried."""
    settings = settings or get_settings()
    url = database_url(settings)
    engine = _engine_for(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        setting = f"{ENV_PREFIX}DATABASE_URL" if not settings.embedded else "the embedded server"
        reason = _first_line(exc)
        raise DatabaseUnreachable(
            f"cannot connect to {setting}: host {_host_of(url)} ({masked_url(url)}): {reason}"
        ) from None
    return url


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    message = str(orig) if orig is not None else str(exc)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    # psycopg writes 'connection to server at "h", port p failed: <cause>' and then hints.
    for line in lines:
        if "failed:" in line:
            return line.rsplit("failed:", 1)[1].strip()
    return lines[0] if lines else type(exc.orig).__name__


def _where(settings: Settings) -> str:
    # From the settings and the server's pid file only: never connects or starts anything.
    if settings.database_url is not None:
        url = database_url(settings)
        return f"host {_host_of(url)}, {masked_url(url)}"
    status = embedded_server(settings).status()
    if status.running:
        return f"embedded server, socket {status.socket_dir} port {status.port}"
    return f"embedded server in {status.pgdata}, not running"


def _safe_where(settings: Settings | None) -> str:
    try:
        return _where(settings or get_settings())
    except Exception:  # the settings themselves may be what is broken
        return "see FEEDBACKLOOP_DATABASE_URL"


def _reachable(settings: Settings | None) -> bool:
    """One short connection attempt, without starting the embedded server."""
    import psycopg

    try:
        settings = settings or get_settings()
        if settings.database_url is None:
            status = embedded_server(settings).status()
            if not status.running:
                return False
            with psycopg.connect(**status.conninfo(), connect_timeout=3):
                return True
        dsn = database_url(settings).set(drivername="postgresql")
        with psycopg.connect(dsn.render_as_string(hide_password=False), connect_timeout=3):
            return True
    except Exception:
        return False


def describe_failure(exc: BaseException, settings: Settings | None = None) -> str | None:
    """One line for a database error, or None when `exc` is not one.

    A lost or refused connection gives the driver's reason and where the database is (password
    masked); any other error only its class and SQLSTATE, because the driver's message can
    quote row values. Never the SQL text or its parameters.
    """
    import psycopg
    from sqlalchemy.exc import (
        DBAPIError,
        DisconnectionError,
        InterfaceError,
        PendingRollbackError,
        SQLAlchemyError,
    )
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if not isinstance(exc, SQLAlchemyError | psycopg.Error):
        return None
    # A lost connection often surfaces as a follow-up error (PendingRollbackError on the way
    # out of a transaction): judge by the driver error underneath, when there is one.
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain and len(chain) < 10:
        chain.append(link)
        link = link.__cause__ or link.__context__
    exc = next((e for e in chain if isinstance(e, DBAPIError | psycopg.Error)), exc)
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lost = (
        isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        or isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
    )
    if not lost and isinstance(exc, PendingRollbackError) and not _reachable(settings):
        # The session hid the driver error it rolled back for; ask the server instead.
        return f"database unavailable: server not answering ({_safe_where(settings)})"
    if not lost:
        sqlstate = getattr(orig, "sqlstate", None)
        return f"database error: {type(orig).__name__}" + (
            f" (SQLSTATE {sqlstate})" if sqlstate else ""
        )
    where = _safe_where(settings)
    reason = _first_line(orig) if isinstance(orig, psycopg.Error) else type(orig).__name__
    return f"database unavailable: {reason[:200]} ({where})"


def ensure_ready(settings: Settings | None = None) -> Engine:
    """Connection checked and schema migrated: what every command that touches data calls."""
    from feedbackloop.db.migrate import upgrade

    settings = settings or get_settings()
    check_connection(settings)
    engine = get_engine(settings)
    upgrade(engine)
    return engine
