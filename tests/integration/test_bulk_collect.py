"""Collect with bulk loads (#20): pages gathered into a batch, one GX validation per table and
batch, rows COPYed into a staging table and upserted with one statement, each page committed
with its cursor. Real fake-Zendesk HTTP, real GX, real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from support.clock import NOW
from support.db import count
from support.gx import feedback_text, ticket_row

from demo.fake_zendesk import FakeZendesk
from demo.generator import DemoDataset, generate
from expectations import data_docs
from expectations.checkpoints import Validator, build_data_docs
from expectations.docs_html import site_dir
from feedbackloop.config import Settings
from feedbackloop.db import database_url
from feedbackloop.db.models import Ticket
from feedbackloop.db.upsert import COPY_MIN_ROWS, copy_upsert, upsert_rows
from feedbackloop.governance import fields
from feedbackloop.governance.gate import gate_feedback, table_gate
from feedbackloop.http import SourceError
from feedbackloop.sources import base
from feedbackloop.sources.zendesk import (
    SyncHooks,
    ZendeskClient,
    sync_ticket_events,
    sync_tickets,
    sync_users,
)

PAGE = 10
SOURCES = ["zendesk", "app_store", "crm", "survey"]


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return generate(seed=23, tickets=60, now=NOW)


@pytest.fixture
def validator(engine: Engine, settings: Settings) -> Validator:
    url = database_url(settings).render_as_string(hide_password=False)
    return Validator(settings.state_path, url, known_sources=SOURCES, ephemeral=True, now=NOW)


def _client(fake: FakeZendesk) -> ZendeskClient:
    return ZendeskClient(fake.base_url, fake.email, fake.api_token)


def _slow_start_batches(pages: int, max_pages: int | None = None) -> int:
    """Batches `sync_stream` makes of `pages` pages: the first page alone, then the rest in
    batches of `max_pages` pages (what the row cap holds; all of them without a cap)."""
    if pages <= 1:
        return pages
    rest = pages - 1
    return 1 + (-(-rest // max_pages) if max_pages else 1)


def _gx_results(validator: Validator) -> int:
    """Validation results GX itself has stored (one per validation run)."""
    return len(validator.context.validation_results_store.list_keys())


def test_gate_rejects_and_database_refusals_are_quarantined_and_counts_reconcile(
    engine: Engine,
    settings: Settings,
    dataset: DemoDataset,
    fake: FakeZendesk,
    validator: Validator,
) -> None:
    future = NOW + timedelta(days=30)
    tickets = [t.source_id for t in dataset.tickets]
    gated, refused = tickets[3], tickets[17]
    # The gate's rule: nothing dated a month ahead. The database's: no NUL in text.
    fake.update_ticket(gated, updated_at=future, created_at=future.isoformat())
    fake.update_ticket(refused, subject="Printer\x00jam again")
    before = _gx_results(validator)

    result = sync_tickets(
        engine,
        _client(fake),
        hash_key=settings.hash_key(),
        hooks=SyncHooks(gate=table_gate(validator)),
    )

    assert result.pages == -(-len(tickets) // PAGE) > 3  # several pages, fewer batches
    batches = _slow_start_batches(result.pages)
    assert result.rows_written + result.rows_unchanged + result.quarantined == len(tickets)
    assert result.quarantined == 2 and result.rows_written == len(tickets) - 2
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT source_id FROM raw.tickets")).scalars())
        parked = dict(
            conn.execute(
                text("SELECT source_id, reason FROM ops.quarantine WHERE stream = 'tickets'")
            )
            .tuples()
            .all()
        )
        runs = conn.execute(text("SELECT batch, evaluated, failed FROM ops.validation_runs")).all()
    assert stored == set(tickets) - {gated, refused}
    assert set(parked) == {gated, refused}
    assert "failed governance gate" in parked[gated] and "created_at" in parked[gated]
    assert "NUL" in parked[refused] and "failed governance gate" not in parked[refused]
    # One GX validation per batch of pages (not per page), each recorded once.
    assert _gx_results(validator) - before == batches < result.pages
    assert len(runs) == batches and sum(r.evaluated for r in runs) == len(tickets)
    assert count(engine, "SELECT count(*) FROM ops.audit_log WHERE action = 'quarantine'") == 2

    # A rerun reads nothing new; the rows stored stay as they are.
    again = sync_tickets(
        engine,
        _client(fake),
        hash_key=settings.hash_key(),
        hooks=SyncHooks(gate=table_gate(validator)),
    )
    assert again.rows_written == 0
    assert count(engine, "SELECT count(*) FROM raw.tickets") == len(tickets) - 2


def test_gx_validations_per_batch_not_per_page(
    engine: Engine,
    settings: Settings,
    dataset: DemoDataset,
    fake: FakeZendesk,
    validator: Validator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = SyncHooks(gate=table_gate(validator))
    client = _client(fake)
    key = settings.hash_key()
    sync_users(engine, client, hash_key=key)  # authors resolve; not gated here
    before = _gx_results(validator)
    events = sync_ticket_events(engine, client, hash_key=key, hooks=hooks)
    assert events.pages > 1 and events.quarantined == 0
    # Comments are gated (status changes are not feedback): one validation for the first
    # page, one for the rest of a stream under the row cap, however many pages it has.
    batches = _slow_start_batches(events.pages)
    assert _gx_results(validator) - before == batches < events.pages
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT batch, evaluated FROM ops.validation_runs")).all()
        comments = conn.execute(text("SELECT count(*) FROM raw.ticket_comments")).scalar_one()
    assert {r.batch for r in runs} == {"zendesk ticket_comments"} and len(runs) == batches
    assert sum(r.evaluated for r in runs) == comments == len(dataset.comments)

    # A batch cap smaller than the stream: one validation per batch, every row still once.
    monkeypatch.setattr(base, "BATCH_ROWS", 2 * PAGE)
    before = _gx_results(validator)
    result = sync_tickets(engine, client, hash_key=key, hooks=hooks)
    batches = _slow_start_batches(result.pages, max_pages=2)
    assert result.rows_written == len(dataset.tickets)
    assert _gx_results(validator) - before == batches > 1


AWKWARD = [
    "tab\there",
    "two\nlines\r\nand a carriage return\r",
    "back\\slash \\N \\t \\\\ at the end\\",
    "quotes ' \" and a comma, semicolon;",
    "ünïcödé — 日本語のテキスト — emoji 🙂👍🏽 — RTL עברית — combining e\u0301",
    "",
    "\\.",  # COPY's end-of-data marker in text format, as data
    " leading and trailing spaces ",
]


def _awkward_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        subject = AWKWARD[i % len(AWKWARD)]
        rows.append(
            {
                "source": "zendesk",
                "source_id": f"copy-{i}",
                "subject": subject,
                "description": None if i % 3 == 0 else f"{subject} / {i}",
                "status": "open",
                "priority": None,
                "channel": "web\tform" if i % 2 else None,
                "product_area": None,
                "language": None,
                "requester_source_id": None,
                "assignee_source_id": None,
                "account_source_id": None,
                "tags": [subject, 'a"b', "c\\d"] if i % 4 else [],
                "is_deleted": bool(i % 5 == 0),
                "created_at": NOW - timedelta(days=1, microseconds=i),
                "updated_at": NOW,
            }
        )
    return rows


def test_copy_round_trips_awkward_text_and_nulls_exactly(engine: Engine) -> None:
    rows = _awkward_rows(max(COPY_MIN_ROWS, 2 * len(AWKWARD)))
    with engine.begin() as conn:
        assert copy_upsert(conn, Ticket, rows) == len(rows)
    columns = list(rows[0])
    with engine.connect() as conn:
        stored = {
            r["source_id"]: r
            for r in conn.execute(
                text(f"SELECT {', '.join(columns)} FROM raw.tickets ORDER BY source_id")
            ).mappings()
        }
    assert len(stored) == len(rows)
    for row in rows:
        assert dict(stored[row["source_id"]]) == row

    # The newest-version check is the upsert's: the same rows again change nothing, an older
    # version never overwrites, a newer one does.
    with engine.begin() as conn:
        assert copy_upsert(conn, Ticket, rows) == 0
        older = [{**r, "subject": "older", "updated_at": NOW - timedelta(days=1)} for r in rows]
        assert copy_upsert(conn, Ticket, older) == 0
        newer = [
            {**r, "subject": "newer", "updated_at": NOW + timedelta(hours=1)} for r in rows[:5]
        ]
        assert copy_upsert(conn, Ticket, newer + rows[5:]) == 5
    with engine.connect() as conn:
        subjects = conn.execute(text("SELECT subject, count(*) FROM raw.tickets GROUP BY 1")).all()
    assert dict(subjects)["newer"] == 5 and "older" not in dict(subjects)


def test_a_bulk_batch_the_database_refuses_falls_back_row_by_row(engine: Engine) -> None:
    rows = _awkward_rows(COPY_MIN_ROWS + 5)
    rows[7] = {**rows[7], "subject": "nul \x00 inside"}
    rows[11] = {**rows[11], "status": "x" * 40}  # longer than the column allows
    with engine.begin() as conn:
        outcome = upsert_rows(conn, Ticket, rows, source="zendesk", stream="tickets")
    assert (outcome.written, outcome.quarantined) == (len(rows) - 2, 2)
    with engine.connect() as conn:
        parked = conn.execute(
            text("SELECT source_id, reason, payload::text FROM ops.quarantine ORDER BY source_id")
        ).all()
    assert [p.source_id for p in parked] == ["copy-11", "copy-7"]
    assert all(p.reason.split(":")[0] in {"DataError", "StringDataRightTruncation"} for p in parked)
    assert json.loads(parked[0].payload)["source_id"] == "copy-11"
    assert count(engine, "SELECT count(*) FROM raw.tickets") == len(rows) - 2


def test_a_source_failing_mid_batch_keeps_the_pages_fetched_before(
    engine: Engine, settings: Settings, fake: FakeZendesk
) -> None:
    rows = _awkward_rows(50)
    fail_after: list[int] = [3]

    def pages(cursor: str | None, state: dict) -> base.Pages:
        for n in range(int(cursor or 0), 5):
            page = base.Page()
            for row in rows[10 * n : 10 * n + 10]:
                page.add(Ticket, row)
            yield page, str(n + 1), {}
            if fail_after and n + 1 == fail_after[0]:
                raise SourceError("zendesk", "/api/v2/tickets", 500, "server error")

    def sync() -> base.SyncResult:
        return base.sync_stream(
            engine, _client(fake), "zendesk", "tickets", pages,
            hooks=None, actor="test", hash_key=settings.hash_key(),
        )  # fmt: skip

    with pytest.raises(SourceError):
        sync()
    # The three pages fetched before the failure are stored with their cursor.
    assert count(engine, "SELECT count(*) FROM raw.tickets") == 30
    with engine.connect() as conn:
        cursor = conn.execute(text("SELECT cursor FROM ops.sync_state")).scalar_one()
    assert cursor == "3"
    fail_after.clear()
    rest = sync()
    assert rest.rows_written == 20 and rest.pages == 2
    assert count(engine, "SELECT count(DISTINCT source_id) FROM raw.tickets") == 50
    assert count(engine, "SELECT count(*) FROM raw.tickets") == 50


def test_data_docs_render_only_the_newest_validation_results(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_docs, "VALIDATION_RESULTS_LIMIT", 2)
    url = database_url(settings).render_as_string(hide_password=False)
    # A file context of this test's own (the session's state dir is shared).
    validator = Validator(tmp_path, url, known_sources=SOURCES, now=NOW)
    for run in range(4):
        rows = [ticket_row(f"{run}-{i}", f"How do I export report {i}?", NOW) for i in range(3)]
        gate_feedback(validator, rows, "ticket", feedback_text)
    assert len(validator.context.validation_results_store.list_keys()) == 4
    index = build_data_docs(tmp_path)
    assert index is not None and index.exists()
    pages = list((site_dir(tmp_path) / "validations").rglob("*.html"))
    assert len(pages) == 2  # the newest two of four runs


@contextmanager
def _role_without_temp(engine: Engine) -> Iterator[str]:
    """A role that may write raw.tickets but not create TEMP tables, dropped after the block."""
    role = f"no_temp_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
        conn.execute(text(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC, {role}'))
        conn.execute(text(f"GRANT USAGE ON SCHEMA raw, ops TO {role}"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE ON raw.tickets TO {role}"))
        conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA raw TO {role}"))
    try:
        yield role
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))


def test_a_role_without_temp_privilege_loads_through_executemany(engine: Engine) -> None:
    rows = _awkward_rows(COPY_MIN_ROWS + 5)
    with _role_without_temp(engine) as role:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL ROLE {role}"))
            # TEMP, what the bulk path needs, is what this role lacks.
            with pytest.raises(DBAPIError), conn.begin_nested():
                copy_upsert(conn, Ticket, rows)
            outcome = upsert_rows(conn, Ticket, rows, source="zendesk", stream="tickets")
        assert (outcome.written, outcome.quarantined) == (len(rows), 0)
        assert count(engine, "SELECT count(*) FROM raw.tickets") == len(rows)


def test_a_version_goes_with_the_page_it_came_from(engine: Engine) -> None:
    """A batch holding a ticket's newest version on its first page and an older one (a
    replay) on its third: the newest is written with the first page, so a crash after that
    page cannot leave the rerun only the older version."""
    newest = ticket_row("9001", "Refund please", NOW, updated_at=NOW)
    replay = ticket_row("9001", "Refund", NOW, updated_at=NOW - timedelta(hours=3))
    other = ticket_row("9002", "Thanks", NOW)
    with engine.connect() as conn:
        screened = base._screen_table(
            conn, Ticket, [[newest], [other], [replay]], base.SyncHooks(), base.only_newer
        )
    assert {n: [r["source_id"] for r in rows] for n, rows in screened.passed.items()} == {
        0: ["9001"],
        1: ["9002"],
    }
    assert screened.passed[0][0]["updated_at"] == NOW
    assert screened.unchanged == {0: 0, 1: 0, 2: 1}


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL `engine` sends inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_repeated_key_in_a_bulk_batch_keeps_the_row_by_row_version(engine: Engine) -> None:
    """A key twice or more in one batch (a replayed page): the bulk upsert keeps the version
    the row-by-row path keeps (the newest `updated_at`, the first of equals) in one statement,
    and the older versions count as not newer."""
    rows = _awkward_rows(COPY_MIN_ROWS + 5)
    rows.append({**rows[3], "subject": "older replay", "updated_at": NOW - timedelta(hours=1)})
    rows.append({**rows[4], "subject": "newest", "updated_at": NOW + timedelta(hours=1)})
    rows.append(
        {**rows[4], "subject": "newest, seen second", "updated_at": NOW + timedelta(hours=1)}
    )
    with _statements(engine) as statements, engine.begin() as conn:
        outcome = upsert_rows(conn, Ticket, rows, source="zendesk", stream="tickets")
    assert (outcome.written, outcome.not_newer, outcome.quarantined) == (len(rows), 3, 0)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO RAW.TICKETS")]
    assert len(inserts) == 1, "one INSERT ... SELECT, no row-by-row fallback"
    assert not any("SAVEPOINT" in s and "ROLLBACK" in s for s in statements)
    with engine.connect() as conn:
        subjects = dict(conn.execute(text("SELECT source_id, subject FROM raw.tickets")).all())
    assert len(subjects) == COPY_MIN_ROWS + 5
    assert subjects["copy-3"] == rows[3]["subject"]
    assert subjects["copy-4"] == "newest"


def test_a_role_without_temp_privilege_is_not_asked_again(engine: Engine) -> None:
    """The refused CREATE TEMP is remembered for the engine: its next batches go straight to
    the executemany path; another engine still loads in bulk."""
    with _role_without_temp(engine) as role:
        limited = create_engine(engine.url)
        event.listen(limited, "connect", lambda dbapi, _: dbapi.execute(f"SET ROLE {role}"))
        try:
            with _statements(limited) as statements:
                for batch in range(3):
                    rows = [
                        {**r, "source_id": f"{batch}-{r['source_id']}"} for r in _awkward_rows(60)
                    ]
                    with limited.begin() as conn:
                        outcome = upsert_rows(
                            conn, Ticket, rows, source="zendesk", stream="tickets"
                        )
                    assert (outcome.written, outcome.quarantined) == (len(rows), 0)
            assert sum(s.startswith("CREATE TEMPORARY") for s in statements) == 1
            assert count(engine, "SELECT count(*) FROM raw.tickets") == 180
            # The refusal belongs to that engine's role: this one still stages and COPYs.
            with _statements(engine) as seen, engine.begin() as conn:
                upsert_rows(conn, Ticket, _awkward_rows(60), source="zendesk", stream="tickets")
            assert any(s.startswith("CREATE TEMPORARY") for s in seen)
        finally:
            limited.dispose()


def test_a_sync_run_leaves_no_raw_id_in_the_masking_caches(
    engine: Engine, settings: Settings, fake: FakeZendesk
) -> None:
    fields.keyed_id("left.over@example.com", settings.hash_key())
    result = sync_tickets(engine, _client(fake), hash_key=settings.hash_key())
    assert result.rows_written > 0
    assert fields._id_entities_cached.cache_info().currsize == 0
    assert fields._masked_cached.cache_info().currsize == 0
