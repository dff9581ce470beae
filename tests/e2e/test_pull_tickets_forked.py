"""The pull-tickets flow's forked events task under a Prefect task timeout: the task runs in
a worker thread, where Prefect's timeout is an exception sent to the thread; `Forked.join`
waits in slices, so it lands, and the child is killed (no worker left pulling)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from support.clock import NOW

from demo.fake_zendesk import FaultPlan, serve_fake_zendesk
from demo.generator import generate
from feedbackloop.config import Settings, settings_overridden
from feedbackloop.forked import COMM_PREFIX, can_fork

pytestmark = [
    pytest.mark.usefixtures("prefect_harness"),
    pytest.mark.skipif(not can_fork(), reason="needs os.fork and Linux"),
]


def _forked_children() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            comm = Path(f"/proc/{entry}/comm").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and comm.startswith(COMM_PREFIX):
            found.append(int(entry))
    return found


def test_a_timed_out_forked_events_task_ends_its_child(engine: Engine, settings: Settings) -> None:
    from prefect import flow

    from flows._resources import prepare_resources
    from flows.ingest import governance_gate, pull_ticket_stream, zendesk_client

    @flow
    def events_with_a_short_timeout() -> tuple[bool, str]:
        res = prepare_resources()
        client, gate = zendesk_client(res), governance_gate(res)
        task = pull_ticket_stream.with_options(timeout_seconds=1, retries=0)
        future = task.submit(res, client, gate, "ticket_events", forked=True)
        future.wait()
        # Not the state itself: a flow returning a failed state fails.
        return future.state.is_failed(), future.state.message or ""

    # Every event page takes 8 s to answer: the task is still waiting when its second ends.
    faults = FaultPlan(slow_requests=10_000, delay=8.0, only_paths=("incremental/ticket_events",))
    dataset = generate(seed=53, tickets=30, now=NOW)
    with (
        serve_fake_zendesk(dataset, page_size=10, faults=faults) as fake,
        settings_overridden(settings.updated(fake.settings)),
    ):
        started = time.monotonic()
        failed, message = events_with_a_short_timeout()
        waited = time.monotonic() - started
        assert failed and "exceeded timeout" in message, message
        assert waited < 7, "the task waited for the page instead of timing out"
        assert _forked_children() == []
        assert fake.count("incremental/ticket_events") == 1  # the child asked once, then died
