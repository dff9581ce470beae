"""kill -9 of a Zendesk sync while its ticket events sync in a forked child (#20): the child
dies with it (no worker left writing with parent PID 1), and a rerun stores every record of
every stream exactly once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.processes import start_sync, wait_while_running

from demo.fake_zendesk import FaultPlan, serve_fake_zendesk
from demo.generator import generate
from feedbackloop.config import Settings
from feedbackloop.forked import COMM_PREFIX, can_fork
from feedbackloop.processes import pid_is_running
from feedbackloop.sources import zendesk

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork and Linux")

EVENTS = "incremental/ticket_events"

CHILD = """
import sys
from pathlib import Path
from feedbackloop.config import Settings
from feedbackloop.db import get_engine
from feedbackloop.sources import base, zendesk

base.BATCH_ROWS = 40  # a commit every few pages, so kills land between and inside them
settings = Settings(state_dir=Path(sys.argv[1]), embedded_database=sys.argv[2])
client = zendesk.ZendeskClient(sys.argv[3], "api@tallybird.example", "fake-zendesk-token")
zendesk.sync_all(get_engine(settings), client, hash_key=b"k", workers=2)
print("finished")
"""


def _forked_children(parent: int) -> list[int]:
    """`fork_call` workers of `parent` (they name themselves in /proc/<pid>/comm)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and comm.startswith(COMM_PREFIX):
            found.append(int(entry))
    return found


def _ids(engine: Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT source_id FROM raw.{table}")).scalars())


def test_sync_killed_while_events_fork_is_mid_stream_then_rerun_stores_every_row_once(
    engine: Engine, settings: Settings
) -> None:
    dataset = generate(seed=73, tickets=160, now=NOW)
    # Event pages answered after 0.15 s (the other streams at full speed): the kills land
    # while the child waits for a page or commits one.
    faults = FaultPlan(slow_requests=100_000, delay=0.15, only_paths=(EVENTS,))
    with serve_fake_zendesk(dataset, page_size=10, faults=faults) as fake:
        kills = 0
        for kill_after_requests in (4, 7, 7):  # event pages, counted from each restart
            before = fake.count(EVENTS)
            database = settings.embedded_database
            parent = start_sync(CHILD, settings.state_dir, database, fake.base_url)
            wait_while_running(
                parent,
                lambda: fake.count(EVENTS),
                before + kill_after_requests,
                "the events sync never got going",
            )
            workers = _forked_children(parent.pid)
            assert len(workers) == 1, workers
            time.sleep(0.07)  # inside the next request's wait, or its pages' transaction
            parent.send_signal(signal.SIGKILL)
            parent.wait(timeout=30)
            assert parent.returncode == -signal.SIGKILL
            kills += 1
            deadline = time.monotonic() + 10
            while pid_is_running(workers[0]):
                assert time.monotonic() < deadline, "the events worker outlived its parent"
                time.sleep(0.05)
            # Nothing is written after the kill: the worker's open transaction was rolled back.
            partial = len(_ids(engine, "ticket_comments"))
            time.sleep(0.5)
            assert 0 < len(_ids(engine, "ticket_comments")) == partial < len(dataset.comments)

        client = zendesk.ZendeskClient(fake.base_url, fake.email, fake.api_token)
        results = zendesk.sync_all(engine, client, hash_key=b"k", workers=2)

    assert kills == 3
    assert all(r.quarantined == 0 for r in results.values())
    expected = {
        "tickets": {t.source_id for t in dataset.tickets},
        "ticket_comments": {c.source_id for c in dataset.comments},
        "ticket_status_changes": {s.source_id for s in dataset.status_changes},
        "satisfaction_ratings": {r.source_id for r in dataset.satisfaction_ratings},
    }
    for table, ids in expected.items():
        stored = _ids(engine, table)
        assert len(stored) == len(set(stored)), f"{table}: a row stored twice"
        assert set(stored) == ids, f"{table}: rows lost"
