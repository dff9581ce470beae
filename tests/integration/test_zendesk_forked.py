"""Zendesk with ticket events synced in a forked child (#20, `sync_all(workers=2)`): the same
rows, counts, cursors, quarantine, gate runs, audit and API usage as the sequential sync, the
gate's refusals counted where the flow looks for them. Fake Zendesk over loopback HTTP, real
GX, real PostgreSQL, a real fork."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW

from demo.fake_zendesk import PRODUCT_AREA_FIELD_ID, FakeZendesk
from demo.generator import DemoDataset, generate
from expectations.checkpoints import Validator
from feedbackloop.config import Settings
from feedbackloop.db import database_url, embedded_server, ensure_ready, get_engine
from feedbackloop.forked import can_fork
from feedbackloop.governance.gate import GateFailed, table_gate
from feedbackloop.http import SourceError, engine_usage_recorder
from feedbackloop.sources.zendesk import (
    STREAMS,
    SyncHooks,
    SyncPoint,
    ZendeskClient,
    fork_stream,
    sync_all,
)
from flows.ingest import _stop_if_gate_failed

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork and Linux")

PAGE = 10
SOURCES = ["zendesk", "app_store", "crm", "survey"]
RAW = ("contacts", "accounts", "tickets", "ticket_comments", "ticket_status_changes")
RAW += ("satisfaction_ratings",)


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return generate(seed=29, tickets=90, now=NOW)


@pytest.fixture
def other_engine(pg_state_dir: Path) -> Iterator[Engine]:
    """A second empty, migrated database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    s = Settings(state_dir=pg_state_dir, embedded_database=name)
    embedded_server(s).ensure_database(name)
    yield ensure_ready(s)
    get_engine(s).dispose()


def _validator(settings: Settings) -> Validator:
    # The gate's clock a month and a half back: the newest records are "dated ahead" and
    # refused, so refusals happen in both processes.
    url = database_url(settings).render_as_string(hide_password=False)
    now = NOW - timedelta(days=45)
    return Validator(settings.state_path, url, known_sources=SOURCES, ephemeral=True, now=now)


def _sync(
    engine: Engine,
    fake: FakeZendesk,
    gate: SyncHooks,
    workers: int,
    pids: Path,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, Any]:
    def on_point(point: SyncPoint) -> None:
        if point.stage == "committed":  # which process committed each stream's pages
            with pids.open("a") as fh:
                fh.write(f"{point.stream} {os.getpid()}\n")

    client = ZendeskClient(
        fake.base_url,
        fake.email,
        fake.api_token,
        product_area_field_id=PRODUCT_AREA_FIELD_ID,
        on_call=engine_usage_recorder(engine),
    )
    hooks = SyncHooks(on_point=on_point, gate=gate.gate)
    with client:
        return sync_all(
            engine, client, hash_key=b"k", hooks=hooks, workers=workers, meanwhile=meanwhile
        )


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(map(repr, r)) for r in conn.execute(text(sql)))


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """What a sync leaves in the database, without surrogate keys and load times."""
    with engine.connect() as conn:
        columns = {
            table: [
                c
                for c in conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = 'raw' AND table_name = :t ORDER BY ordinal_position"
                    ),
                    {"t": table},
                ).scalars()
                if c not in ("id", "loaded_at")
            ]
            for table in RAW
        }
    snap = {
        t: _rows(engine, f"SELECT {', '.join(cols)} FROM raw.{t}") for t, cols in columns.items()
    }
    snap["sync_state"] = _rows(engine, "SELECT source, stream, cursor, state FROM ops.sync_state")
    snap["quarantine"] = _rows(
        engine, "SELECT source, stream, source_id, reason, payload FROM ops.quarantine"
    )
    snap["validation_runs"] = _rows(
        engine,
        "SELECT suite, checkpoint, batch, success, evaluated, failed FROM ops.validation_runs",
    )
    snap["audit_log"] = _rows(
        engine, "SELECT actor, action, entity_type, entity_id, details FROM ops.audit_log"
    )
    snap["api_usage"] = _rows(
        engine, "SELECT endpoint, method, status, count(*) FROM ops.api_usage GROUP BY 1, 2, 3"
    )
    return snap


def test_events_in_a_forked_child_store_what_the_sequential_sync_stores(
    engine: Engine,
    other_engine: Engine,
    settings: Settings,
    fake: FakeZendesk,
    tmp_path: Path,
) -> None:
    gate = SyncHooks(gate=table_gate(_validator(settings)))
    # `meanwhile` runs once, after this process's own streams committed (every stream with
    # one worker): what each run had saved a cursor for when it was called.
    saved: dict[int, list[list[str]]] = {1: [], 2: []}

    def saved_streams(engine: Engine, workers: int) -> Callable[[], None]:
        def meanwhile() -> None:
            sql = "SELECT stream FROM ops.sync_state WHERE source = 'zendesk' ORDER BY stream"
            with engine.connect() as conn:
                saved[workers].append(list(conn.execute(text(sql)).scalars()))

        return meanwhile

    one = _sync(engine, fake, gate, 1, tmp_path / "one", saved_streams(engine, 1))
    two = _sync(other_engine, fake, gate, 2, tmp_path / "two", saved_streams(other_engine, 2))
    assert saved[1] == [sorted(STREAMS)]
    assert len(saved[2]) == 1 and set(STREAMS) - {"ticket_events"} <= set(saved[2][0])

    assert list(two) == list(one) == list(STREAMS)
    assert {s: dataclasses.asdict(r) for s, r in two.items()} == {
        s: dataclasses.asdict(r) for s, r in one.items()
    }
    seq, forked = _snapshot(engine), _snapshot(other_engine)
    assert seq["ticket_comments"] and seq["ticket_status_changes"] and seq["tickets"]
    assert {t for t, rows in seq.items() if forked[t] != rows} == set()

    # Ticket events ran in another process; the other streams here.
    def committed_by(path: Path) -> dict[str, set[int]]:
        by: dict[str, set[int]] = {}
        for line in path.read_text().splitlines():
            stream, pid = line.split()
            by.setdefault(stream, set()).add(int(pid))
        return by

    assert all(pids == {os.getpid()} for pids in committed_by(tmp_path / "one").values())
    by = committed_by(tmp_path / "two")
    assert len(by["ticket_events"]) == 1 and os.getpid() not in by["ticket_events"]
    assert all(by[s] == {os.getpid()} for s in STREAMS if s != "ticket_events")

    # The gate refused comments in the child: the count reaches the flow's check.
    events = two["ticket_events"]
    assert 0 < events.quarantined < events.rows_written + events.quarantined
    with other_engine.connect() as conn:
        parked = conn.execute(
            text("SELECT count(*) FROM ops.quarantine WHERE stream = 'ticket_comments'")
        ).scalar_one()
    assert parked == events.quarantined
    res: Any = SimpleNamespace(settings=settings.model_copy(update={"gate_max_failed_share": 0}))
    with pytest.raises(GateFailed, match="ticket_events"):
        _stop_if_gate_failed(res, {"ticket_events": events})

    # A rerun in two processes writes nothing.
    again = _sync(other_engine, fake, gate, 2, tmp_path / "again")
    assert {s: r.rows_written for s, r in again.items()} == dict.fromkeys(STREAMS, 0)
    assert _snapshot(other_engine)["ticket_comments"] == forked["ticket_comments"]


def test_a_failure_in_the_child_comes_back_whole(engine: Engine, fake: FakeZendesk) -> None:
    """The child's SourceError is raised here as it was raised there (type, status, message)."""
    client = ZendeskClient(fake.base_url, fake.email, "a-wrong-token")
    with client, pytest.raises(SourceError, match="authentication failed") as raised:
        fork_stream("ticket_events", engine, client, hash_key=b"k").join()
    assert raised.value.status == 401 and raised.value.endpoint.endswith("ticket_events.json")
