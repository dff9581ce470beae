"""FAQ candidates at the threshold, department themes and article deflection on hand-built
clusters (real embedded PostgreSQL, real `dbt build`, default vars: 30 items in 60 days)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from feedbackloop.config import Settings
from feedbackloop.marts import build_marts

D = timedelta(days=1)
H = timedelta(hours=1)
SECRET = "UNCONSENTED-TEXT"


def _review(conn: Connection, sid: str, body: str, at: datetime) -> tuple[str, str, str]:
    conn.execute(
        text(
            "INSERT INTO raw.reviews (source, source_id, rating, body, created_at, updated_at) "
            "VALUES ('app_store', :i, 3, :b, :t, :t)"
        ),
        {"i": sid, "b": body, "t": at},
    )
    return ("review", "app_store", sid)


def _note(
    conn: Connection, sid: str, department: str, contact: str | None, at: datetime, body: str
) -> tuple[str, str, str]:
    conn.execute(
        text(
            "INSERT INTO raw.notes (source, source_id, department, kind, text, "
            "contact_source_id, created_at, updated_at) "
            "VALUES ('drop', :i, :d, 'note', :b, :c, :t, :t)"
        ),
        {"i": sid, "d": department, "b": body, "c": contact, "t": at},
    )
    return ("note", "drop", sid)


def _assign(conn: Connection, items: list[tuple[str, str, str]], cluster: int, key: str) -> None:
    for item_type, source, sid in items:
        conn.execute(
            text(
                "INSERT INTO nlp.topic_assignments (item_type, item_source, item_source_id, "
                "topic_key, cluster_id, encoder) VALUES (:t, :s, :i, :k, :c, 'test')"
            ),
            {"t": item_type, "s": source, "i": sid, "k": key, "c": cluster},
        )


def _load(engine: Engine, now: datetime) -> dict[str, Any]:
    published = now - 14 * D
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO raw.contacts (source, source_id, email_valid, updated_at) "
                "VALUES ('crm', 'c-yes', true, now())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO ops.consent (contact_source, contact_source_id, purpose, granted, "
                "recorded_by) VALUES ('crm', 'c-yes', 'improvement', true, 'test')"
            )
        )
        for cid, label, phrases in (
            (1, "export csv", [{"phrase": "export csv", "weight": 1.0, "share": 0.3}]),
            (2, "login", [{"phrase": "login", "weight": 1.0, "share": 0.5}]),
            (3, "refund", [{"phrase": "refund", "weight": 1.0, "share": 0.9}]),
        ):
            conn.execute(
                text(
                    "INSERT INTO nlp.clusters (cluster_id, encoder, label, key_phrases, size) "
                    "VALUES (:c, 'test', :l, CAST(:p AS jsonb), 40)"
                ),
                {"c": cid, "l": label, "p": json.dumps(phrases)},
            )

        # Cluster 1: exactly 30 consented items in the window (20 in the newer half, 10 in
        # the older), 5 of them naming the key phrase; plus the newest item of all, whose
        # author gave no consent: it must neither count nor be shown.
        c1 = []
        for i in range(30):
            at = now - (i + 1) * H if i < 20 else now - (21 + i) * D  # 41-50 days
            body = f"How do I export csv files? ({i})" if i < 5 else f"Question {i} on data"
            c1.append(_review(conn, f"a{i}", body, at))
        c1.append(_note(conn, "a-secret", "cs", None, now - H / 6, SECRET))
        _assign(conn, c1, 1, "export_csv")

        # Cluster 2: one short: 29 consented items in the window, one 61 days old, one
        # unconsented.
        c2 = [_review(conn, f"b{i}", f"login fails {i}", now - (i + 1) * D) for i in range(29)]
        c2.append(_review(conn, "b-old", "login fails long ago", now - 61 * D))
        c2.append(_note(conn, "b-secret", "cs", None, now - 2 * H, SECRET))
        _assign(conn, c2, 2, "login")

        # Cluster 3: 30 reviews, 20 in the week before its article's publication and 10 in
        # the week after; 3 sales notes and 2 CS notes (one short of raising a theme) in the
        # second week after. The published article covers it.
        c3 = [
            _review(conn, f"r{i}", f"refund please {i}", published - (i + 1) * 6 * H)
            for i in range(20)
        ]
        c3 += [
            _review(conn, f"r{i}", f"refund please {i}", published + (i - 19) * 12 * H)
            for i in range(20, 30)
        ]
        c3 += [
            _note(conn, f"s{i}", "sales", "c-yes", published + 8 * D, f"refund ask {i}")
            for i in range(3)
        ]
        c3 += [
            _note(conn, f"k{i}", "cs", "c-yes", published + 8 * D, f"refund ask {i}")
            for i in range(2)
        ]
        _assign(conn, c3, 3, "refund_policy")
        conn.execute(
            text(
                "INSERT INTO raw.faq_articles (source, source_id, title, topic_key, "
                "published_at, updated_at) VALUES ('zendesk', 'art-1', 'Refunds', "
                "'refund_policy', :p, :p)"
            ),
            {"p": published},
        )
    return {"published": published}


def test_faq_candidate_at_threshold_not_below_and_department_themes(
    engine: Engine, settings: Settings
) -> None:
    now = datetime.now(UTC)
    _load(engine, now)

    # The SQL's unit tests too (the pipeline's own builds leave them out).
    result = build_marts(settings, quiet=True, unit_tests=True)
    assert result.success and not result.failed
    assert any(n.startswith("unit_test.feedbackloop.mart_faq_candidates") for n in result.passed)

    with engine.connect() as conn:
        candidates = conn.execute(
            text("SELECT * FROM analytics_marts.mart_faq_candidates ORDER BY cluster_id")
        ).all()
        themes = conn.execute(
            text(
                "SELECT department, cluster_id, theme_rank, items, departments_raising, "
                "raised_by, is_validated FROM analytics_marts.mart_department_insights "
                "ORDER BY department, theme_rank"
            )
        ).all()
        impact = dict(
            conn.execute(
                text(
                    "SELECT week_offset, items FROM analytics_marts.mart_learning_loop_impact "
                    "WHERE article_id = 'art-1'"
                )
            ).all()
        )

    # Cluster 1 at exactly 30 is the only candidate; cluster 2 (29) is not, cluster 3 is covered.
    assert [c.cluster_id for c in candidates] == [1]
    (c1,) = candidates
    assert (c1.items_in_window, c1.items_recent_half, c1.items_previous_half) == (30, 20, 10)
    assert c1.trend == "rising"
    assert c1.topic_key == "export_csv"
    # Examples: those naming the key phrase, newest first; never the unconsented text.
    assert [c1.example_1, c1.example_2, c1.example_3] == [
        f"How do I export csv files? ({i})" for i in range(3)
    ]
    assert SECRET not in " ".join(str(v) for row in candidates for v in row)

    # Departments (last 90 days): cluster 3 is raised by product (30 reviews) and sales (3
    # notes): validated. CS has 2 notes there, one short of raising it; its unconsented notes
    # have no topic. Clusters 1 and 2 (29 + the 61-day-old review) come from product only;
    # equal sizes rank by cluster id.
    assert [tuple(t) for t in themes] == [
        ("product", 1, 1, 30, 1, "product", False),
        ("product", 2, 2, 30, 1, "product", False),
        ("product", 3, 3, 30, 2, "product,sales", True),
        ("sales", 3, 1, 3, 2, "product,sales", True),
    ]

    # Deflection of the refund article: 20 items the week before, 10 the week after, 5 notes in
    # the second week; periods before the first item (61 days ago) are not shown.
    assert impact[-1] == 20
    assert impact[0] == 10
    assert impact[1] == 5
    assert min(impact) == -6 and max(impact) == 1
