"""The Zendesk connector against the fake Zendesk API over real HTTP on loopback, into a real
PostgreSQL: full syncs equal the source, crashes resume exactly once, rate limits and server
errors are waited out, bad credentials fail fast, bad records are quarantined, and no personal
data is stored."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from source_support import Sleeps, client_options
from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import count

from demo.fake_zendesk import (
    PRODUCT_AREA_FIELD_ID,
    Encoded,
    FakeZendesk,
    FaultPlan,
    serve_fake_zendesk,
)
from demo.generator import DemoDataset, generate
from feedbackloop.config import Settings
from feedbackloop.http import RetryPolicy, SourceError
from feedbackloop.sources.zendesk import (
    SyncHooks,
    SyncPoint,
    ZendeskClient,
    sync_all,
    sync_satisfaction_ratings,
    sync_ticket_events,
    sync_tickets,
    sync_users,
)
from nlp.pii import find_pii, mask

PAGE = 25
TEXT_COLUMNS = {
    "raw.tickets": ("subject", "description"),
    "raw.ticket_comments": ("body",),
    "raw.satisfaction_ratings": ("comment", "reason"),
}


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return generate(seed=11, tickets=120, now=NOW)


def _client(
    fake: FakeZendesk, engine: Engine, sleeps: Sleeps | None = None, **kwargs: Any
) -> ZendeskClient:
    return ZendeskClient(
        fake.base_url,
        kwargs.pop("email", fake.email),
        kwargs.pop("api_token", fake.api_token),
        product_area_field_id=PRODUCT_AREA_FIELD_ID,
        **client_options(engine, sleeps, kwargs),
    )


def _ids(engine: Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(text(f"SELECT source_id FROM {table} WHERE source = 'zendesk'")).scalars()
        )


def _expected(ds: DemoDataset) -> dict[str, list[str]]:
    return {
        "raw.tickets": sorted(t.source_id for t in ds.tickets),
        "raw.ticket_comments": sorted(c.source_id for c in ds.comments),
        "raw.ticket_status_changes": sorted(s.source_id for s in ds.status_changes),
        "raw.satisfaction_ratings": sorted(r.source_id for r in ds.satisfaction_ratings),
        "raw.contacts": sorted(c.source_id for c in ds.contacts),
    }


def _assert_equals_source(engine: Engine, ds: DemoDataset) -> None:
    for table, ids in _expected(ds).items():
        assert _ids(engine, table) == ids, table


def test_full_sync_equals_source_and_rerun_writes_nothing(
    engine: Engine, settings: Settings, dataset: DemoDataset, fake: FakeZendesk
) -> None:
    with _client(fake, engine) as client:
        results = sync_all(engine, client, hash_key=settings.hash_key())
    _assert_equals_source(engine, dataset)
    expected = _expected(dataset)
    assert results["tickets"].rows_written == len(expected["raw.tickets"])
    assert results["ticket_events"].rows_written == len(expected["raw.ticket_comments"]) + len(
        expected["raw.ticket_status_changes"]
    )
    assert results["satisfaction_ratings"].rows_written == len(dataset.satisfaction_ratings)
    assert results["tickets"].pages == -(-len(dataset.tickets) // PAGE)
    assert all(r.quarantined == 0 for r in results.values())
    # One ops.api_usage row per HTTP call, and the results count the same calls.
    assert sum(r.api_calls for r in results.values()) == len(fake.requests)
    assert count(engine, "SELECT count(*) FROM ops.api_usage") == len(fake.requests)
    assert count(engine, "SELECT count(*) FROM ops.api_usage WHERE endpoint LIKE '%?%'") == 0

    # Field mapping: ids resolve to CRM ids, roles and statuses follow the source.
    with engine.connect() as conn:
        tickets = {r.source_id: r for r in conn.execute(text("SELECT * FROM raw.tickets"))}
        comments = {r.source_id: r for r in conn.execute(text("SELECT * FROM raw.ticket_comments"))}
        changes = {
            r.source_id: r for r in conn.execute(text("SELECT * FROM raw.ticket_status_changes"))
        }
        ratings = {
            r.source_id: r for r in conn.execute(text("SELECT * FROM raw.satisfaction_ratings"))
        }
    for t in dataset.tickets:
        row = tickets[t.source_id]
        assert (row.status, row.channel, row.product_area) == (t.status, t.channel, t.product_area)
        assert row.requester_source_id == t.requester_source_id
        assert row.assignee_source_id == t.assignee_source_id
        assert row.account_source_id == t.account_source_id
        assert (row.updated_at, row.is_deleted) == (t.updated_at, False)
        assert row.subject == mask(t.subject)
    for c in dataset.comments:
        row = comments[c.source_id]
        assert (row.ticket_source_id, row.author_role, row.is_public) == (
            c.ticket_source_id,
            c.author_role,
            c.is_public,
        )
        assert row.author_source_id == c.author_source_id
    for s in dataset.status_changes:
        row = changes[s.source_id]
        assert (row.previous_status, row.status) == (s.previous_status, s.status)
    for r in dataset.satisfaction_ratings:
        assert ratings[r.source_id].score == r.score

    # No personal data stored: detectors find nothing, planted values appear nowhere.
    planted = {v for rec in (*dataset.tickets, *dataset.comments) for _, v in rec.pii_values}
    planted |= {c.email.strip() for c in dataset.contacts if c.email and c.email.strip()}
    with engine.connect() as conn:
        for table, columns in TEXT_COLUMNS.items():
            for column in columns:
                for value in conn.execute(text(f"SELECT {column} FROM {table}")).scalars():
                    assert value is None or find_pii(value) == [], f"PII in {table}.{column}"
        assert conn.execute(text("SELECT count(*) FROM raw.contacts WHERE email_hash IS NULL"))
        dump = "\n".join(
            str(row)
            for table in (*TEXT_COLUMNS, "raw.contacts", "ops.audit_log", "ops.quarantine")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ).lower()
        loaded_at = conn.execute(text("SELECT max(loaded_at) FROM raw.tickets")).scalar_one()
    assert planted
    assert sorted(v for v in planted if v.lower() in dump) == []

    # A rerun with nothing new writes nothing.
    with _client(fake, engine) as client:
        again = sync_all(engine, client, hash_key=settings.hash_key())
    assert {s: r.rows_written for s, r in again.items()} == dict.fromkeys(again, 0)
    assert all(r.quarantined == 0 for r in again.values())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT max(loaded_at) FROM raw.tickets")).scalar_one() == (
            loaded_at
        )
    _assert_equals_source(engine, dataset)
    assert count(engine, "SELECT count(*) FROM ops.api_usage") == len(fake.requests)


class Crash(RuntimeError):
    pass


def _crash_at(stream: str, page: int, stage: str, table: str | None = None) -> SyncHooks:
    def on_point(point: SyncPoint) -> None:
        if (point.stream, point.page, point.stage) == (stream, page, stage) and (
            table is None or point.table == table
        ):
            raise Crash(f"injected at {point}")

    return SyncHooks(on_point)


def test_crashes_between_and_inside_pages_resume_exactly_once(
    engine: Engine, settings: Settings, dataset: DemoDataset, fake: FakeZendesk
) -> None:
    key = settings.hash_key()
    # Between pages: page 2 committed, the process dies before asking for page 3.
    with _client(fake, engine) as client, pytest.raises(Crash):
        sync_tickets(engine, client, hash_key=key, hooks=_crash_at("tickets", 2, "committed"))
    assert count(engine, "SELECT count(*) FROM raw.tickets") == 2 * PAGE
    # Inside a page: comments of page 3 already upserted, status changes and cursor not yet.
    with _client(fake, engine) as client:
        sync_users(engine, client, hash_key=key)
        with pytest.raises(Crash):
            sync_ticket_events(
                engine,
                client,
                hash_key=key,
                hooks=_crash_at("ticket_events", 3, "rows", "ticket_comments"),
            )
        with pytest.raises(Crash):  # right before the cursor is written
            sync_satisfaction_ratings(
                engine, client, hash_key=key, hooks=_crash_at("satisfaction_ratings", 2, "state")
            )
    with engine.connect() as conn:
        committed_comments = conn.execute(text("SELECT count(*) FROM raw.ticket_comments"))
        assert 0 < committed_comments.scalar_one() < len(dataset.comments)
        assert count(engine, "SELECT count(*) FROM raw.satisfaction_ratings") == PAGE

    # Rerun (a fresh process: new client, state only from ops.sync_state).
    with _client(fake, engine) as client:
        results = sync_all(engine, client, hash_key=key)
    _assert_equals_source(engine, dataset)
    assert results["tickets"].rows_written == len(dataset.tickets) - 2 * PAGE
    with engine.connect() as conn:
        state = conn.execute(
            text("SELECT stream, cursor FROM ops.sync_state WHERE source = 'zendesk'")
        )
        streams = {stream: cursor for stream, cursor in state}
    assert set(streams) == {"users", "tickets", "ticket_events", "satisfaction_ratings"}
    assert streams["tickets"]


def test_rate_limit_storm_waits_as_told(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    faults = FaultPlan(rate_limited=6, retry_after=3)
    sleeps = Sleeps()
    with serve_fake_zendesk(dataset, page_size=PAGE, faults=faults) as fake:
        with _client(fake, engine, sleeps) as client:
            result = sync_tickets(engine, client, hash_key=settings.hash_key())
        assert sleeps == [3.0] * 6
        assert result.api_calls == len(fake.requests) == result.pages + 6
        with engine.connect() as conn:
            statuses = list(conn.execute(text("SELECT status FROM ops.api_usage")).scalars())
        assert statuses.count(429) == 6 and len(statuses) == len(fake.requests)
    assert _ids(engine, "raw.tickets") == _expected(dataset)["raw.tickets"]

    # Without Retry-After the documented default wait applies (30 s).
    sleeps = Sleeps()
    faults = FaultPlan(rate_limited=2, retry_after=None)
    with (
        serve_fake_zendesk(dataset, faults=faults) as fake,
        _client(fake, engine, sleeps) as client,
    ):
        sync_satisfaction_ratings(engine, client, hash_key=settings.hash_key())
    assert sleeps == [30.0, 30.0]


def test_server_errors_are_retried_with_backoff_then_give_up(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    sleeps = Sleeps()
    faults = FaultPlan(server_errors=3)
    with (
        serve_fake_zendesk(dataset, page_size=PAGE, faults=faults) as fake,
        _client(fake, engine, sleeps) as client,
    ):
        sync_tickets(engine, client, hash_key=settings.hash_key())
    # Full jitter with rand() = 0.5: half of 1, 2, 4 seconds.
    assert sleeps == [0.5, 1.0, 2.0]
    assert _ids(engine, "raw.tickets") == _expected(dataset)["raw.tickets"]

    faults = FaultPlan(server_errors=50, only_paths=("ticket_events",))
    with serve_fake_zendesk(dataset, faults=faults) as fake:
        with (
            _client(fake, engine, retry=RetryPolicy(max_retries=2)) as client,
            pytest.raises(SourceError) as err,
        ):
            sync_ticket_events(engine, client, hash_key=settings.hash_key())
        assert err.value.status == 500 and fake.count("ticket_events") == 3
    assert "/api/v2/incremental/ticket_events.json" in str(err.value)
    assert count(engine, "SELECT count(*) FROM ops.sync_state WHERE stream = 'ticket_events'") == 0


def test_slow_response_times_out_and_is_retried(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    faults = FaultPlan(slow_requests=1, delay=1.0)
    with serve_fake_zendesk(dataset, faults=faults) as fake:
        with _client(fake, engine, timeout=0.3) as client:
            result = sync_satisfaction_ratings(engine, client, hash_key=settings.hash_key())
        assert result.rows_written == len(dataset.satisfaction_ratings)
        assert count(engine, "SELECT count(*) FROM ops.api_usage WHERE status IS NULL") == 1
        assert count(engine, "SELECT count(*) FROM ops.api_usage") == len(fake.requests)


def test_bad_credentials_fail_at_once_without_the_token(
    engine: Engine,
    settings: Settings,
    fake: FakeZendesk,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "wrong-s3cr3t-token-value"
    sleeps = Sleeps()
    caplog.set_level(logging.DEBUG)
    with (
        _client(fake, engine, sleeps, api_token=token) as client,
        pytest.raises(SourceError) as err,
    ):
        sync_users(engine, client, hash_key=settings.hash_key())
    message = str(err.value)
    assert err.value.status == 401
    assert "zendesk" in message and "/api/v2/incremental/users/cursor.json" in message
    assert "401" in message and "token" in message.lower()  # says what to check...
    assert token not in message and token not in caplog.text  # ...never the token itself
    assert len(fake.requests) == 1 and sleeps == []
    assert count(engine, "SELECT count(*) FROM ops.api_usage WHERE status = 401") == 1
    assert count(engine, "SELECT count(*) FROM ops.sync_state") == 0


def test_malformed_records_are_quarantined_and_the_rest_loads(
    engine: Engine, settings: Settings, dataset: DemoDataset
) -> None:
    faults = FaultPlan(malformed_tickets=True, malformed_ratings=True)
    with (
        serve_fake_zendesk(dataset, page_size=PAGE, faults=faults) as fake,
        _client(fake, engine) as client,
    ):
        tickets = sync_tickets(engine, client, hash_key=settings.hash_key())
        ratings = sync_satisfaction_ratings(engine, client, hash_key=settings.hash_key())
    assert (tickets.quarantined, ratings.quarantined) == (3, 1)
    _expected_ids = _expected(dataset)
    assert _ids(engine, "raw.tickets") == _expected_ids["raw.tickets"]
    assert _ids(engine, "raw.satisfaction_ratings") == _expected_ids["raw.satisfaction_ratings"]
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT stream, source, source_id, reason, payload FROM ops.quarantine")
        ).all()
    reasons = {(r.stream, r.reason) for r in rows}
    assert reasons == {
        ("tickets", "id is missing"),
        ("tickets", "updated_at is not an ISO 8601 timestamp"),
        ("tickets", "id is not an integer"),
        ("satisfaction_ratings", "score is not one of bad, good, offered, unoffered"),
    }
    assert {r.source for r in rows} == {"zendesk"}
    payloads = json.dumps([r.payload for r in rows])
    assert "jane.doe@example.com" not in payloads and "<EMAIL_ADDRESS>" in payloads


def test_newer_version_overwrites_older_replay_does_not_deleted_is_kept(
    engine: Engine, settings: Settings, dataset: DemoDataset, fake: FakeZendesk
) -> None:
    key = settings.hash_key()
    first, second = dataset.tickets[0].source_id, dataset.tickets[1].source_id
    with _client(fake, engine) as client:
        sync_tickets(engine, client, hash_key=key)

        newer = dataset.tickets[0].updated_at + timedelta(days=30)
        fake.update_ticket(first, updated_at=newer, subject="Export is fixed, thanks")
        result = sync_tickets(engine, client, hash_key=key)
        assert (result.rows_written, result.rows_unchanged) == (1, 0)

        # A replay of an older version (generated_timestamp moved, updated_at did not).
        fake.update_ticket(first, updated_at=newer - timedelta(days=1), subject="Stale copy")
        replay = sync_tickets(engine, client, hash_key=key)
        assert (replay.rows_written, replay.rows_unchanged) == (0, 1)

        # Deleted in Zendesk: only generated_timestamp moves, updated_at stays as it was.
        fake.update_ticket(second, updated_at=dataset.tickets[1].updated_at, status="deleted")
        deleted = sync_tickets(engine, client, hash_key=key)
        assert deleted.rows_written == 1
        fake.update_ticket(second, subject="late edit of a deleted ticket")
        assert sync_tickets(engine, client, hash_key=key).rows_written == 1
    with engine.connect() as conn:
        rows = {
            r.source_id: r
            for r in conn.execute(
                text("SELECT source_id, subject, updated_at, status, is_deleted FROM raw.tickets")
            )
        }
    assert (rows[first].subject, rows[first].updated_at) == ("Export is fixed, thanks", newer)
    assert (rows[second].status, rows[second].is_deleted) == ("deleted", True)
    assert rows[second].subject == "late edit of a deleted ticket"
    assert len(rows) == len(dataset.tickets)


def test_rating_pages_follow_cursor_links_or_offset_pages() -> None:
    from feedbackloop.sources.zendesk.sync import _next_ratings_params

    first = {"start_time": 0, "page[size]": 100}
    cursor = {"meta": {"has_more": True, "after_cursor": "abc"}, "links": {"next": None}}
    assert _next_ratings_params(cursor, first) == {**first, "page[after]": "abc"}
    link_only = {"meta": {"has_more": True}, "links": {"next": "https://x/y?page%5Bafter%5D=d"}}
    assert _next_ratings_params(link_only, first) == {"page[after]": "d"}
    assert _next_ratings_params({"meta": {"has_more": False, "after_cursor": "z"}}, first) is None
    offset = {"next_page": "https://evil.example/api?page=2&start_time=0"}
    assert _next_ratings_params(offset, first) == {"page": "2", "start_time": "0"}
    assert _next_ratings_params({"next_page": None}, first) is None


def test_the_fake_events_export_sends_what_json_dumps_of_the_page_gives(
    fake: FakeZendesk,
) -> None:
    """The fake joins pre-encoded audits into a page: byte for byte what encoding the page
    gives, and the shape without comment events is unchanged."""
    path = "/api/v2/incremental/ticket_events.json"
    start, pages = 0, 0
    while True:
        q = {"start_time": str(start), "include": "comment_events"}
        code, sent = fake._ticket_events(path, q)
        _, page = fake._ticket_events(path, q, encoded=False)
        assert code == 200 and isinstance(sent, Encoded) and isinstance(page, dict)
        assert sent.data == json.dumps(page).encode()
        events = page["ticket_events"]
        assert len(events) > 0 and page["count"] == len(events)
        assert all(e["timestamp"] >= start for e in events)
        pages += 1
        if page["end_of_stream"]:
            break
        start = page["end_time"]
    assert pages > 1
    _, bare = fake._ticket_events(path, {"start_time": "0"})
    assert isinstance(bare, dict)
    children = [c for e in bare["ticket_events"] for c in e["child_events"]]
    assert any("comment_present" in c for c in children)
    assert not any(c.get("event_type") == "Comment" for c in children)
