"""PostgreSQL restarted in the middle of the pull-tickets flow: the task fails on the lost
connection, Prefect retries it, it resumes from the committed cursor, and the run completes
with every ticket stored once (no partial page survives: rows and cursor commit together)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from support.clock import NOW

from demo.fake_zendesk import FaultPlan, serve_fake_zendesk
from demo.generator import generate
from feedbackloop.config import Settings, settings_overridden
from feedbackloop.db import ensure_ready
from feedbackloop.db.embedded import EmbeddedPostgres

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_pull_tickets_survives_a_postgres_restart(own_server: EmbeddedPostgres) -> None:
    from flows.ingest import pull_tickets

    settings = Settings(state_dir=own_server.state_dir)
    engine = ensure_ready(settings)
    dataset = generate(seed=72, tickets=60, now=NOW)
    faults = FaultPlan(slow_requests=10_000, delay=0.1, only_paths=("incremental/tickets",))
    with (
        serve_fake_zendesk(dataset, page_size=10, faults=faults) as fake,
        settings_overridden(settings.updated(fake.settings)),
    ):
        restarted = threading.Event()

        def first_page_committed() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        text("SELECT count(*) FROM ops.sync_state WHERE stream = 'tickets'")
                    ).scalar_one()
                )

        def restart_mid_stream() -> None:
            # Down from after the first page's commit until the stream has fetched its last
            # page (or 5 s, if it failed before), and 1 s more: its next write meets the lost
            # connection (a restart quicker than the last pages' fetch let it through, and
            # nothing failed); up again well before the task's first retry (10 s).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (
                fake.count("incremental/tickets") >= 3 and first_page_committed()
            ):
                time.sleep(0.01)
            engine.dispose()
            own_server.stop()
            down = time.monotonic() + 5.0
            while fake.count("incremental/tickets") < 6 and time.monotonic() < down:
                time.sleep(0.01)
            time.sleep(1.0)
            own_server.start()
            restarted.set()

        restarter = threading.Thread(target=restart_mid_stream, daemon=True)
        restarter.start()
        results = pull_tickets()
        restarter.join(timeout=120)

    assert restarted.is_set()
    assert results["tickets"].pages < 6  # the retried attempt resumed, it did not start over
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT source_id FROM raw.tickets")).scalars().all()
        retried = conn.execute(
            text("SELECT count(*) FROM ops.sync_state WHERE stream = 'tickets'")
        ).scalar_one()
    engine.dispose()
    assert retried == 1
    assert len(stored) == len(set(stored)) == len(dataset.tickets)
    assert set(stored) == {t.source_id for t in dataset.tickets}
