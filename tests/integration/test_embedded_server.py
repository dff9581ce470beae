"""The embedded server: start, reuse, stop, concurrent starters, data kept between runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
from sqlalchemy import text
from support.processes import python_output

from feedbackloop.config import Settings
from feedbackloop.db import check_connection, database_url, get_engine
from feedbackloop.db.embedded import EmbeddedPostgres, ServerStatus

START_AND_PRINT_PID = (
    "import sys\n"
    "from pathlib import Path\n"
    "from feedbackloop.db.embedded import EmbeddedPostgres, ServerStatus\n"
    "print(EmbeddedPostgres(Path(sys.argv[1])).start().pid)\n"
)


def _connect(status: ServerStatus) -> psycopg.Connection:
    return psycopg.connect(**status.conninfo("postgres"))


def test_start_reuse_stop_and_data_survives_a_restart(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "state")
    assert not server.status().running

    first = server.start()
    assert first.running and first.pid
    assert server.start().pid == first.pid  # reused, not a second server
    with _connect(first) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")

    assert server.stop() is True
    assert not server.status().running
    assert server.stop() is False  # stopping a stopped server is not an error

    again = server.start()
    assert again.running and again.pid != first.pid
    with _connect(again) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    server.stop()


def test_two_processes_starting_at_once_share_one_server(tmp_path: Path) -> None:
    state = tmp_path / "state"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", START_AND_PRINT_PID, str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
        pids = {out.strip() for out, _ in outputs}
        assert len(pids) == 1, f"two servers started: {pids}"
        status = EmbeddedPostgres(state).status()
        assert status.running and str(status.pid) in pids
    finally:
        EmbeddedPostgres(state).stop()


def test_server_outlives_the_process_that_started_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pid = python_output(START_AND_PRINT_PID, str(state), timeout=120)
    try:
        status = EmbeddedPostgres(state).status()
        assert status.running and str(status.pid) == pid
    finally:
        EmbeddedPostgres(state).stop()


def test_settings_without_url_resolve_to_the_embedded_server(settings: Settings) -> None:
    url = database_url(settings)
    assert url.drivername == "postgresql+psycopg"
    assert url.database == settings.embedded_database
    assert check_connection(settings) == url
    with get_engine(settings).connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar_one() == url.database
