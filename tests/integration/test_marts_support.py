"""Support and sentiment marts on a hand-built set of tickets, checked against numbers worked
out by hand (real embedded PostgreSQL, real `dbt build`, one build for every assertion)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from feedbackloop.config import Settings
from feedbackloop.marts import build_marts

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def _monday_two_weeks_back(today: date) -> datetime:
    """09:00 UTC on the Monday 14-20 days ago: the whole week, and the closing of its tickets
    five days on, lie in the past and inside the last 30 days."""
    monday = today - timedelta(days=14 + today.weekday())
    return datetime.combine(monday, time(9, 0), tzinfo=UTC)


def _insert(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        row = {"source": "zendesk", **row}
        row.setdefault("updated_at", row.get("created_at") or datetime.now(UTC))
        cols = ", ".join(row)
        conn.execute(
            text(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in row)})"), row
        )


def _ticket(tid: str, status: str, at: datetime, area: str, **extra: Any) -> dict[str, Any]:
    return {
        "source_id": tid,
        "status": status,
        "subject": f"ticket {tid}",
        "description": "masked text",
        "channel": "email",
        "product_area": area,
        "requester_source_id": f"person-{tid}",
        "account_source_id": "acc-1",
        "created_at": at,
        **extra,
    }


def _on_ticket(source_id: str, tid: str, at: datetime, **columns: Any) -> dict[str, Any]:
    """A row of a ticket's comments, status changes or ratings."""
    return {"source_id": source_id, "ticket_source_id": tid, "created_at": at, **columns}


def _comment(cid: str, tid: str, role: str, public: bool, at: datetime) -> dict[str, Any]:
    return _on_ticket(cid, tid, at, author_role=role, is_public=public, body="masked")


def _status(sid: str, tid: str, previous: str | None, status: str, at: datetime) -> dict[str, Any]:
    return _on_ticket(sid, tid, at, previous_status=previous, status=status)


def _rating(rid: str, tid: str, score: str, at: datetime) -> dict[str, Any]:
    comment = None if score == "offered" else f"{score} service"
    return _on_ticket(rid, tid, at, score=score, comment=comment)


def _score(item_type: str, source: str, sid: str, label: str, sentiment: float) -> dict[str, Any]:
    return {
        "item_type": item_type,
        "item_source": source,
        "item_source_id": sid,
        "model_version": "test-v1",
        "text_hash": "0" * 64,
        "sentiment": sentiment,
        "label": label,
        "frustrated": label == "very_negative",
    }


def _load(engine: Engine, base: datetime, now: datetime) -> None:
    tickets = [
        # 101: reopened once, two CSAT answers (good, then bad).
        _ticket("101", "closed", base, "billing"),
        # 102: one-touch, CSAT offered but not answered.
        _ticket("102", "solved", base + D, "billing"),
        # 103: no agent reply yet.
        _ticket("103", "open", base + 2 * D, "mobile"),
        # 104: deleted in Zendesk: in no metric.
        _ticket("104", "solved", base + 2 * D, "mobile", is_deleted=True),
        # 105: logged by an agent for the customer; the opening comment is not a reply.
        _ticket("105", "solved", base + 3 * D, "mobile"),
    ]
    comments = [
        _comment("c1", "101", "end_user", True, base),
        _comment("c2", "101", "agent", False, base + 10 * M),  # internal note
        _comment("c3", "101", "agent", True, base + 45 * M + timedelta(seconds=30)),
        _comment("c4", "101", "end_user", True, base + 2 * H),
        _comment("c5", "101", "agent", True, base + 3 * H),
        _comment("c6", "101", "agent", True, base + D + 2 * H),
        _comment("c7", "102", "end_user", True, base + D),
        _comment("c8", "102", "agent", True, base + D + 20 * M),
        _comment("c9", "103", "end_user", True, base + 2 * D),
        _comment("c10", "103", "end_user", True, base + 2 * D + 5 * H),
        _comment("c11", "104", "end_user", True, base + 2 * D),
        _comment("c12", "104", "agent", True, base + 2 * D + 5 * M),
        _comment("c13", "105", "agent", True, base + 3 * D),
        _comment("c14", "105", "agent", True, base + 3 * D + H),
    ]
    statuses = [
        _status("s1", "101", None, "new", base),
        _status("s2", "101", "new", "pending", base + 45 * M + timedelta(seconds=30)),
        _status("s3", "101", "pending", "open", base + 2 * H),
        _status("s4", "101", "open", "solved", base + 3 * H),
        _status("s5", "101", "solved", "open", base + D),
        _status("s6", "101", "open", "solved", base + D + 2 * H),
        _status("s7", "101", "solved", "closed", base + 5 * D),
        _status("s8", "102", None, "new", base + D),
        _status("s9", "102", "new", "solved", base + D + 20 * M),
        _status("s10", "103", None, "new", base + 2 * D),
        _status("s11", "103", "new", "open", base + 2 * D + H),
        _status("s12", "104", None, "new", base + 2 * D),
        _status("s13", "104", "new", "solved", base + 2 * D + 5 * M),
        _status("s14", "105", None, "new", base + 3 * D),
        _status("s15", "105", "new", "solved", base + 3 * D + 90 * M),
    ]
    ratings = [
        _rating("r1", "101", "good", base + 3 * H + 10 * M),
        _rating("r2", "101", "bad", base + D + 3 * H),
        _rating("r3", "102", "offered", base + D + H),
        _rating("r5", "105", "good", base + 3 * D + 2 * H),
    ]
    reviews = [
        {"source": "app_store", "source_id": "rv1", "rating": 5, "body": "love it",
         "created_at": now - 3 * D},
        {"source": "app_store", "source_id": "rv2", "rating": 2, "body": "meh",
         "created_at": now - 40 * D},  # older than 30 days
        {"source": "app_store", "source_id": "rv3", "rating": 4, "body": "not scored yet",
         "created_at": now - 5 * D},
    ]  # fmt: skip
    notes = [
        {"source": "gong", "source_id": "n1", "department": "sales", "kind": "sales_call",
         "text": "pricing concerns", "created_at": now - 10 * D},
    ]  # fmt: skip
    scores = [
        _score("ticket", "zendesk", "101", "negative", -0.5),
        _score("ticket", "zendesk", "102", "positive", 0.5),
        _score("ticket", "zendesk", "103", "very_negative", -0.9),
        _score("ticket", "zendesk", "104", "very_negative", -0.8),  # deleted ticket
        _score("ticket", "zendesk", "105", "neutral", 0.0),
        _score("review", "app_store", "rv1", "very_positive", 0.9),
        _score("review", "app_store", "rv2", "negative", -0.4),
        _score("note", "gong", "n1", "negative", -0.3),
    ]
    with engine.begin() as conn:
        _insert(
            conn,
            "raw.accounts",
            [
                {"source": "crm", "source_id": "acc-1", "name": "Acme", "tier": "pro",
                 "arr": Decimal("1200.00"), "churned_at": base + 2 * D, "created_at": base},
                {"source": "crm", "source_id": "acc-2", "name": "Initech", "tier": "free",
                 "created_at": base},
            ],
        )  # fmt: skip
        _insert(conn, "raw.tickets", tickets)
        _insert(conn, "raw.ticket_comments", comments)
        _insert(conn, "raw.ticket_status_changes", statuses)
        _insert(conn, "raw.satisfaction_ratings", ratings)
        _insert(conn, "raw.reviews", reviews)
        _insert(conn, "raw.notes", notes)
        for s in scores:
            cols = ", ".join(s)
            conn.execute(
                text(f"INSERT INTO nlp.feedback_scores ({cols}) VALUES "
                     f"({', '.join(':' + c for c in s)})"),
                s,
            )  # fmt: skip


def test_ticket_metrics_kpis_and_30_day_sentiment_match_hand_counts(
    engine: Engine, settings: Settings
) -> None:
    now = datetime.now(UTC)
    base = _monday_two_weeks_back(now.date())
    _load(engine, base, now)

    # The SQL's unit tests too (the pipeline's own builds leave them out).
    result = build_marts(settings, quiet=True, unit_tests=True)
    assert result.success and not result.failed
    assert any(n.startswith("unit_test.feedbackloop.fct_ticket_metrics") for n in result.passed)

    with engine.connect() as conn:
        metrics = {
            r.ticket_id: r
            for r in conn.execute(text("SELECT * FROM analytics_marts.fct_ticket_metrics"))
        }
        kpis = conn.execute(
            text("SELECT * FROM analytics_marts.mart_support_kpis WHERE week_start = :w"),
            {"w": base.date()},
        ).one()
        weeks = conn.execute(
            text("SELECT count(*) FROM analytics_marts.mart_support_kpis")
        ).scalar_one()
        last_30 = conn.execute(
            text(
                """
                SELECT sum(items) AS items, sum(scored_items) AS scored,
                       sum(very_negative_items) AS very_negative, sum(negative_items) AS negative,
                       sum(neutral_items) AS neutral, sum(positive_items) AS positive,
                       sum(very_positive_items) AS very_positive
                FROM analytics_marts.mart_sentiment_daily
                WHERE sentiment_date > CAST(now() AT TIME ZONE 'UTC' AS date) - 30
                """
            )
        ).one()
        ticket_101_day = conn.execute(
            text(
                "SELECT items, negative_items, mean_sentiment_score "
                "FROM analytics_marts.mart_sentiment_daily "
                "WHERE sentiment_date = :d AND channel = 'zendesk_email' "
                "AND product_area = 'billing'"
            ),
            {"d": base.date()},
        ).one()

    # --- fct_ticket_metrics, ticket by ticket
    assert set(metrics) == {"101", "102", "103", "105"}  # 104 was deleted
    t1, t2, t3, t5 = metrics["101"], metrics["102"], metrics["103"], metrics["105"]
    # created 09:00, first public agent comment 09:45:30; the 09:10 internal note is no reply
    assert t1.first_reply_time_calendar_minutes == Decimal("45.50")
    assert t1.replies == 3
    assert t1.reopens == 1  # solved -> open once; solved -> closed is not a reopen
    assert t1.first_resolution_calendar_minutes == Decimal("180.00")  # solved at 12:00
    assert t1.full_resolution_calendar_minutes == Decimal("1560.00")  # last solve: +1 day 11:00
    assert t1.is_one_touch_resolution is False
    assert (t1.csat_score, t1.is_csat_good) == ("bad", False)  # the later answer wins
    assert t1.sentiment_label == "negative"

    assert t2.first_reply_time_calendar_minutes == Decimal("20.00")
    assert (t2.replies, t2.reopens) == (1, 0)
    assert t2.full_resolution_calendar_minutes == Decimal("20.00")
    assert t2.is_one_touch_resolution is True
    assert (t2.is_csat_offered, t2.csat_score) == (True, None)  # offered, never answered

    assert t3.first_reply_time_calendar_minutes is None
    assert (t3.replies, t3.reopens) == (0, 0)
    assert t3.first_resolution_calendar_minutes is None
    assert t3.full_resolution_calendar_minutes is None
    assert (t3.is_csat_offered, t3.csat_score) == (False, None)

    # the agent logged 105 at 09:00 (not a reply) and replied at 10:00
    assert t5.first_reply_time_calendar_minutes == Decimal("60.00")
    assert t5.replies == 1
    assert t5.full_resolution_calendar_minutes == Decimal("90.00")
    assert t5.is_one_touch_resolution is True
    assert t5.csat_score == "good"

    # --- mart_support_kpis, the week of `base`
    assert kpis.tickets_created == 4
    assert kpis.tickets_replied == 3
    assert kpis.median_first_reply_minutes == Decimal("45.50")  # median(45.5, 20, 60)
    assert kpis.tickets_solved == 3
    assert kpis.median_full_resolution_minutes == Decimal("90.00")  # median(1560, 20, 90)
    assert kpis.one_touch_share == Decimal("0.6667")  # 102 and 105 of three
    assert kpis.reopens_of_solved == 1
    assert (kpis.csat_answers, kpis.csat_good, kpis.csat_score) == (2, 1, Decimal("0.5000"))
    assert (kpis.tickets_scored, kpis.tickets_negative) == (4, 2)  # 101 negative, 103 very
    assert kpis.share_negative == Decimal("0.5000")
    assert (kpis.churned_accounts, kpis.churned_arr) == (1, Decimal("1200.00"))
    assert weeks == 1  # every event of the set falls in that one week

    # --- sentiment over the last 30 days: tickets 101, 102, 103, 105, three CSAT answers, review
    # rv1 and rv3 (not scored), note n1; rv2 is 40 days old and 104 is deleted.
    assert last_30._asdict() == {
        "items": 10,
        "scored": 6,
        "very_negative": 1,
        "negative": 2,
        "neutral": 1,
        "positive": 1,
        "very_positive": 1,
    }
    assert tuple(ticket_101_day) == (1, 1, Decimal("-0.5000"))
