"""kill -9 of a Zendesk sync in the middle of its pages, several times, then a rerun: every
ticket of the source is stored exactly once (the cursor commits with its page's rows)."""

from __future__ import annotations

import signal
import time

from sqlalchemy import Engine, text
from support.clock import NOW
from support.processes import start_sync, wait_while_running

from demo.fake_zendesk import FaultPlan, serve_fake_zendesk
from demo.generator import generate
from feedbackloop.config import Settings
from feedbackloop.sources import zendesk

CHILD = """
import sys
from pathlib import Path
from feedbackloop.config import Settings
from feedbackloop.db import get_engine
from feedbackloop.sources import zendesk

settings = Settings(state_dir=Path(sys.argv[1]), embedded_database=sys.argv[2])
client = zendesk.ZendeskClient(sys.argv[3], "api@tallybird.example", "fake-zendesk-token")
zendesk.sync_tickets(get_engine(settings), client, hash_key=b"k")
print("finished")
"""


def test_sync_killed_mid_stream_then_rerun_stores_every_ticket_once(
    engine: Engine, settings: Settings
) -> None:
    dataset = generate(seed=71, tickets=240, now=NOW)
    # 24 pages, each answered after 0.15 s: the kills land while pages are in flight or
    # being written.
    faults = FaultPlan(slow_requests=10_000, delay=0.15, only_paths=("incremental/tickets",))
    with serve_fake_zendesk(dataset, page_size=10, faults=faults) as fake:
        kills = 0
        for kill_after_requests in (3, 6, 6):  # of 24 pages, counted from each restart
            before = fake.count("incremental/tickets")
            child = start_sync(CHILD, settings.state_dir, settings.embedded_database, fake.base_url)
            wait_while_running(
                child,
                lambda: fake.count("incremental/tickets"),
                before + kill_after_requests,
                "the sync never got going",
            )
            time.sleep(0.07)  # inside the next request's wait, or its page's transaction
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            assert child.returncode == -signal.SIGKILL
            kills += 1
            with engine.connect() as conn:
                partial = conn.execute(text("SELECT count(*) FROM raw.tickets")).scalar_one()
            assert partial < len(dataset.tickets), "killed too late to prove anything"

        client = zendesk.ZendeskClient(fake.base_url, fake.email, fake.api_token)
        zendesk.sync_tickets(engine, client, hash_key=b"k")

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT source_id FROM raw.tickets")).scalars().all()
    assert kills == 3
    assert len(stored) == len(set(stored))  # no duplicates
    assert set(stored) == {t.source_id for t in dataset.tickets}  # none lost
