"""The database stops in the middle of `feedbackloop import`: one line saying the database is
unavailable, exit code 2, never the SQL or its parameters (they hold customer data); the batches
committed before the stop stay, and importing the file again completes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.db import ensure_ready
from feedbackloop.db.embedded import EmbeddedPostgres

FEEDBACKLOOP = str(Path(sys.executable).with_name("feedbackloop"))
RECORDS = 40_000  # minutes of work on this machine: the stop lands well before the end


def _drop(path: Path) -> Path:
    with path.open("w") as fh:
        for i in range(RECORDS):
            record = {
                "id": f"n-{i}",
                "source": "survey",
                "department": "cs",
                "created_at": "2026-10-01T10:00:00Z",
                "text": f"Export {i} failed again, call 555-010-{i % 10_000:04d}",
                "contact_email": f"person{i}@example.com",
            }
            fh.write(json.dumps(record) + "\n")
    return path


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM raw.notes")).scalar_one()


def _import(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACKLOOP_")}
    return subprocess.Popen(
        [FEEDBACKLOOP, "import", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**base, **env},
    )


def test_database_stopped_mid_import_is_one_line_without_sql(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    settings = Settings(state_dir=own_server.state_dir)
    engine = ensure_ready(settings)
    drop = _drop(tmp_path / "calls.jsonl")
    env = {"FEEDBACKLOOP_STATE_DIR": str(own_server.state_dir)}

    child = _import(drop, env)
    deadline = time.monotonic() + 180
    while _count(engine) == 0 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    engine.dispose()
    own_server.stop()
    stdout, stderr = child.communicate(timeout=120)

    out = stdout + stderr
    lines = [line for line in out.splitlines() if line.strip()]
    assert child.returncode == 2, out
    assert len(lines) == 1, out
    assert lines[0].startswith("error: database unavailable: "), out
    assert str(own_server.pgdata) in lines[0] or "socket" in lines[0]
    for leak in ("Traceback", "SQL", "parameters", "INSERT", "SELECT", "@example.com", "n-1"):
        assert leak not in out, leak

    own_server.start()
    engine = ensure_ready(settings)
    kept = _count(engine)
    assert 0 < kept < RECORDS  # committed batches stay; the one in flight rolled back
    again = _import(drop, env)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stdout + stderr
    assert _count(engine) == RECORDS
    engine.dispose()


def test_a_session_error_that_hides_the_lost_connection_is_still_unavailable(
    own_server: EmbeddedPostgres,
) -> None:
    # A Session raises PendingRollbackError with no driver error chained when the stop lands
    # between two flushes; the server, not the exception, then says the database is gone.
    from sqlalchemy.exc import PendingRollbackError

    from feedbackloop.db import describe_failure

    settings = Settings(state_dir=own_server.state_dir)
    hidden = PendingRollbackError("This Session's transaction has been rolled back", None, None)
    up = describe_failure(hidden, settings)
    assert up is not None and up.startswith("database error: "), up
    own_server.stop()
    down = describe_failure(hidden, settings)
    assert down is not None and down.startswith("database unavailable: "), down
    assert str(own_server.pgdata) in down
