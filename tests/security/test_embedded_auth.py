"""The embedded server asks for a password (SCRAM) on its socket, a state dir made when it
trusted every connection is upgraded on start, and bi_reader cannot create temporary tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from feedbackloop.config import Settings
from feedbackloop.db import database_url, embedded_server, ensure_ready, masked_url
from feedbackloop.db.embedded import EmbeddedPostgres, _wheel
from feedbackloop.governance.roles import enable_bi_reader_login


def test_the_socket_refuses_a_wrong_or_missing_password(settings: Settings) -> None:
    status = embedded_server(settings).status()
    info = status.conninfo(settings.embedded_database)
    for password in ("wrong", None):
        refused = "password authentication failed|no password supplied"
        with pytest.raises(psycopg.OperationalError, match=refused):
            psycopg.connect(**{**info, "password": password})
    with psycopg.connect(**info) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)

    server = embedded_server(settings)
    assert server.password_file.stat().st_mode & 0o777 == 0o600
    assert "trust" not in (server.pgdata / "pg_hba.conf").read_text()
    url = database_url(settings)
    assert url.password == status.password
    assert status.password not in masked_url(url) and status.password not in repr(status)


def test_a_state_dir_that_trusted_everyone_is_upgraded_on_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "pgdata").mkdir(parents=True)
    # What earlier versions left: the wheel's initdb with trust, and data in it.
    _wheel().PostgresServer(state / "pgdata", cleanup_mode=None)
    server = EmbeddedPostgres(state)
    try:
        before = server.status()
        assert before.running and before.password is None
        with psycopg.connect(**{**before.conninfo(), "password": "anything"}) as conn:
            conn.execute("CREATE TABLE kept (v int)")
            conn.execute("INSERT INTO kept VALUES (7)")

        after = server.start()
        assert after.pid == before.pid  # upgraded in place, not restarted
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(**{**after.conninfo(), "password": "anything"})
        with psycopg.connect(**after.conninfo()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == (7,)

        server.stop()  # and it still asks after a restart
        again = server.start()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(**{**again.conninfo(), "password": "anything"})
    finally:
        server.stop()


@pytest.fixture
def bi_login(engine: Engine, settings: Settings) -> Iterator[dict[str, object]]:
    """bi_reader with a login, as a BI tool connects; the login is taken away afterwards."""
    password = f"bi-{uuid.uuid4().hex}"
    enable_bi_reader_login(engine, password)
    info = embedded_server(settings).status().conninfo(settings.embedded_database)
    yield {**info, "user": "bi_reader", "password": password}
    with engine.begin() as conn:
        conn.execute(text("ALTER ROLE bi_reader NOLOGIN PASSWORD NULL"))


def test_bi_reader_cannot_create_temporary_tables(
    engine: Engine, bi_login: dict[str, object]
) -> None:
    # In the pipeline's database and in the maintenance database it can connect to.
    for dbname in (bi_login["dbname"], "postgres"):
        with psycopg.connect(**{**bi_login, "dbname": dbname}) as conn:
            assert conn.execute("SELECT session_user").fetchone() == ("bi_reader",)
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary"):
                conn.execute("CREATE TEMP TABLE scratch (v int)")
    # Nor through the dashboard's `SET ROLE` path.
    with engine.connect() as conn:
        conn.execute(text("SET ROLE bi_reader"))
        with pytest.raises(ProgrammingError, match="temporary"):
            conn.execute(text("CREATE TEMP TABLE scratch (v int)"))
    # The pipeline keeps TEMP: dbt's incremental models build a temporary table.
    with engine.connect() as conn:
        conn.execute(text("CREATE TEMP TABLE scratch (v int)"))


def test_a_pipeline_role_that_owns_its_database_keeps_temp(settings: Settings) -> None:
    """Production shape: the pipeline user owns the database and is no superuser. After the
    migrations it can still create temporary tables; PUBLIC (so bi_reader) cannot."""
    admin = embedded_server(settings).status()
    role, dbname, password = f"pipe_{uuid.uuid4().hex[:8]}", f"p_{uuid.uuid4().hex[:10]}", "pw-1"
    with psycopg.connect(**admin.conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(dbname), sql.Identifier(role)
            )
        )
    try:
        url = admin.url(dbname).set(username=role, password=password)
        pipeline = Settings(
            state_dir=settings.state_dir, database_url=url.render_as_string(hide_password=False)
        )
        engine = ensure_ready(pipeline)
        with engine.connect() as conn:
            privileges = conn.execute(
                text(
                    "SELECT has_database_privilege(current_user, current_database(), 'TEMP'), "
                    "has_database_privilege('bi_reader', current_database(), 'TEMP')"
                )
            ).one()
            assert tuple(privileges) == (True, False)
            conn.execute(text("CREATE TEMP TABLE scratch (v int)"))
        engine.dispose()
    finally:
        with psycopg.connect(**admin.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
