"""kill -9 of a gated Zendesk sync in the middle of a multi-page batch (#20): once while the
batch's pages are being fetched (nothing of it committed yet) and once after some of its pages
committed, then a rerun: every ticket is stored exactly once, as the source has it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from sqlalchemy import Engine, text
from support.clock import NOW

from demo.fake_zendesk import FaultPlan, serve_fake_zendesk
from demo.generator import generate
from expectations.checkpoints import Validator
from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.governance.gate import table_gate
from feedbackloop.sources import zendesk

PAGE = 10

# The child syncs with the GX gate; each committed page is announced on stdout and followed
# by a pause, so the parent can kill it with pages of the same batch still to commit.
CHILD = """
import sys, time
from datetime import datetime, UTC
from pathlib import Path
from expectations.checkpoints import Validator
from feedbackloop.config import Settings
from feedbackloop.db import database_url, get_engine
from feedbackloop.governance.gate import table_gate
from feedbackloop.sources import zendesk

settings = Settings(state_dir=Path(sys.argv[1]), embedded_database=sys.argv[2])
url = database_url(settings).render_as_string(hide_password=False)
now = datetime(2026, 11, 1, tzinfo=UTC)
validator = Validator(settings.state_path, url, known_sources=["zendesk"], ephemeral=True, now=now)

def on_point(point):
    if point.stage == "committed":
        print(f"committed {point.page}", flush=True)
        time.sleep(0.5)

print("ready", flush=True)
client = zendesk.ZendeskClient(sys.argv[3], "api@tallybird.example", "fake-zendesk-token")
hooks = zendesk.SyncHooks(on_point, gate=table_gate(validator))
zendesk.sync_tickets(get_engine(settings), client, hash_key=b"k", hooks=hooks)
print("finished", flush=True)
"""


def _child(settings: Settings, base_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(settings.state_dir),
            settings.embedded_database,
            base_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stored(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT source_id FROM raw.tickets")).scalars())


def test_kill_mid_batch_then_rerun_stores_every_ticket_once(
    engine: Engine, settings: Settings
) -> None:
    dataset = generate(seed=73, tickets=120, now=NOW)  # 12 pages: batches of 1, 2, 4, ...
    # 0.3 s a page: killed after 5 of 12 requests, while a batch's pages are being fetched.
    faults = FaultPlan(slow_requests=10_000, delay=0.3, only_paths=("incremental/tickets",))
    with serve_fake_zendesk(dataset, page_size=PAGE, faults=faults) as fake:
        # 1. While a batch's pages are being fetched: only whole pages before it are stored.
        child = _child(settings, fake.base_url)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while fake.count("incremental/tickets") < 5:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the sync never got going"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        first = _stored(engine)
        assert len(first) == len(set(first)) and len(first) % PAGE == 0
        done = len(first) // PAGE
        assert done < 5

        # 2. The next run resumes after them; its third batch (its pages 4-7) is killed after
        # its first two pages committed, two more still to commit.
        child = _child(settings, fake.base_url)
        assert child.stdout is not None
        lines = []
        while (line := child.stdout.readline().strip()) != "committed 5":
            assert line, child.communicate()
            lines.append(line)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert lines == ["ready"] + [f"committed {n}" for n in range(1, 5)]
        assert len(_stored(engine)) == (done + 5) * PAGE

        # The rerun, gated as in production.
        url = database_url(settings).render_as_string(hide_password=False)
        validator = Validator(
            settings.state_path, url, known_sources=["zendesk"], ephemeral=True, now=NOW
        )
        client = zendesk.ZendeskClient(fake.base_url, fake.email, fake.api_token)
        hooks = zendesk.SyncHooks(gate=table_gate(validator))
        rest = zendesk.sync_tickets(engine, client, hash_key=b"k", hooks=hooks)

    stored = _stored(engine)
    assert len(stored) == len(set(stored))  # nothing doubled
    assert set(stored) == {t.source_id for t in dataset.tickets}  # nothing lost
    assert rest.rows_written == len(dataset.tickets) - (done + 5) * PAGE
    assert rest.quarantined == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops.quarantine")).scalar_one() == 0
        versions = dict(
            conn.execute(text("SELECT source_id, updated_at FROM raw.tickets")).tuples().all()
        )
    assert versions == {t.source_id: t.updated_at for t in dataset.tickets}
