"""Every incremental mart, built incrementally through a sequence of changes, holds exactly the
rows a `--full-refresh` build of the same data gives (real embedded PostgreSQL, real dbt).

The changes: tickets updated and answered, a comment that commits after a build has read the
sources though it was written before (its loaded_at is older than that build), a ticket deleted
in Zendesk, a CSAT answer withdrawn, a contact's consent withdrawn, a person erased, new
reviews. bi_reader still reads the incremental marts, and the pipeline's own build leaves out
the unit tests."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import fixed_scores_sql

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.governance.erasure import forget
from feedbackloop.governance.identity import check_email
from feedbackloop.marts import DbtResult, build_marts

# Written by each build, not by the data: the only columns a full refresh may change.
BUILD_COLUMNS = {"processed_at", "watermark_at"}

SCORE_NEW = fixed_scores_sql(
    {"ticket": "raw.tickets", "review": "raw.reviews"},
    sentiment=-0.5,
    label="negative",
    frustrated=True,
)


def _incremental_marts(result: DbtResult) -> list[str]:
    assert result.target_path is not None
    manifest = json.loads((result.target_path / "manifest.json").read_text())
    return sorted(
        node["alias"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"]["materialized"] == "incremental"
        and node["fqn"][1] == "marts"
    )


def _snapshot(engine: Engine, marts: list[str]) -> None:
    """A copy of each mart's data columns, to compare with the full refresh."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS equivalence CASCADE"))
        conn.execute(text("CREATE SCHEMA equivalence"))
        for mart in marts:
            conn.execute(
                text(f"CREATE TABLE equivalence.{mart} AS SELECT * FROM analytics_marts.{mart}")
            )


def _differences(engine: Engine, mart: str) -> tuple[int, int, int]:
    """(rows, rows only in the incremental build, rows only in the full refresh)."""
    with engine.connect() as conn:
        columns = [
            c
            for c in conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'analytics_marts' AND table_name = :t "
                    "ORDER BY ordinal_position"
                ),
                {"t": mart},
            ).scalars()
            if c not in BUILD_COLUMNS
        ]
        cols = ", ".join(f'"{c}"' for c in columns)
        inc = f"SELECT {cols} FROM equivalence.{mart}"
        full = f"SELECT {cols} FROM analytics_marts.{mart}"
        rows = conn.execute(text(f"SELECT count(*) FROM ({full}) AS f")).scalar_one()
        only_inc = conn.execute(text(f"SELECT count(*) FROM ({inc} EXCEPT ALL {full}) AS d"))
        only_full = conn.execute(text(f"SELECT count(*) FROM ({full} EXCEPT ALL {inc}) AS d"))
        return rows, only_inc.scalar_one(), only_full.scalar_one()


def test_incremental_marts_equal_a_full_refresh_after_changes(
    engine: Engine, settings: Settings
) -> None:
    dataset = generate(seed=11, tickets=300, now=NOW)
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    with engine.begin() as conn:
        conn.execute(text(SCORE_NEW))

    first = build_marts(settings, quiet=True)
    assert first.success and not first.failed
    # The pipeline's build runs the data tests, not the unit tests (they test the SQL).
    assert not [n for n in first.passed if n.startswith("unit_test.")]
    assert any(n.startswith("test.") for n in first.passed)
    marts = _incremental_marts(first)
    assert {"fct_feedback", "fct_ticket_metrics"} <= set(marts)

    tickets = sorted(t.source_id for t in dataset.tickets)
    answered, deleted = tickets[0:5], tickets[5]
    with engine.connect() as conn:
        # A ticket with comments already: one more agent comment is one more reply.
        late = conn.execute(
            text(
                "SELECT min(ticket_source_id) FROM raw.ticket_comments "
                "WHERE NOT ticket_source_id = ANY(:t)"
            ),
            {"t": tickets[0:6]},
        ).scalar_one()
    people = {
        c.source_id: c.email for c in dataset.contacts if c.email and check_email(c.email).valid
    }
    requesters = [t.requester_source_id for t in dataset.tickets if t.requester_source_id in people]
    erased, withdrawn = requesters[0], next(r for r in requesters if r != requesters[0])
    with engine.begin() as conn:
        # Answered and solved.
        conn.execute(
            text(
                "UPDATE raw.tickets SET status = 'solved', updated_at = now(), loaded_at = now() "
                "WHERE source_id = ANY(:t)"
            ),
            {"t": answered},
        )
        for n, ticket in enumerate(answered):
            conn.execute(
                text(
                    "INSERT INTO raw.ticket_comments (source, source_id, ticket_source_id, "
                    "author_role, is_public, body, created_at, updated_at) VALUES ('zendesk', "
                    ":c, :t, 'agent', true, 'masked', now(), now())"
                ),
                {"c": f"eq-comment-{n}", "t": ticket},
            )
            conn.execute(
                text(
                    "INSERT INTO raw.ticket_status_changes (source, source_id, ticket_source_id, "
                    "previous_status, status, created_at, updated_at) VALUES ('zendesk', :s, :t, "
                    "'open', 'solved', now(), now())"
                ),
                {"s": f"eq-status-{n}", "t": ticket},
            )
        # Deleted in Zendesk; a CSAT answer withdrawn.
        conn.execute(
            text(
                "UPDATE raw.tickets SET is_deleted = true, loaded_at = now() WHERE source_id = :t"
            ),
            {"t": deleted},
        )
        conn.execute(
            text(
                "UPDATE raw.satisfaction_ratings SET score = 'offered', loaded_at = now() "
                "WHERE source_id = (SELECT min(source_id) FROM raw.satisfaction_ratings "
                "WHERE score IN ('good', 'bad'))"
            )
        )
        # Consent withdrawn; a person erased.
        conn.execute(
            text(
                "INSERT INTO ops.consent (contact_source, contact_source_id, purpose, granted, "
                "recorded_by) SELECT source, source_id, 'improvement', false, 'test' "
                "FROM raw.contacts WHERE source_id = :c "
                "ON CONFLICT (contact_source, contact_source_id, purpose) "
                "DO UPDATE SET granted = false, recorded_at = now()"
            ),
            {"c": withdrawn},
        )
        assert forget(conn, people[erased], settings.hash_key(), actor="test").found
        # New reviews, scored.
        conn.execute(
            text(
                "INSERT INTO raw.reviews (source, source_id, rating, body, created_at, "
                "updated_at) SELECT 'app_store', 'eq-review-' || n, 1, 'charged twice', now(), "
                "now() FROM generate_series(1, 4) AS n"
            )
        )
        conn.execute(text(SCORE_NEW))

    # A comment written now that commits only after the next build has read the sources.
    late_conn = engine.connect()
    late_tx = late_conn.begin()
    late_conn.execute(
        text(
            "INSERT INTO raw.ticket_comments (source, source_id, ticket_source_id, author_role, "
            "is_public, body, created_at, updated_at) VALUES ('zendesk', 'eq-late', :t, "
            "'agent', true, 'masked', now(), now())"
        ),
        {"t": late},
    )
    second = build_marts(settings, quiet=True)
    assert second.success and not second.failed
    late_tx.commit()
    late_conn.close()
    replies_sql = text(
        "SELECT replies FROM analytics_marts.fct_ticket_metrics WHERE ticket_id = :t"
    )
    with engine.connect() as conn:
        replies_before = conn.execute(replies_sql, {"t": late}).scalar_one()

    third = build_marts(settings, quiet=True)
    assert third.success and not third.failed
    with engine.connect() as conn:
        replies = conn.execute(replies_sql, {"t": late}).scalar_one()
        gone = conn.execute(
            text(
                "SELECT count(*) FROM analytics_marts.fct_ticket_metrics WHERE ticket_id = :t "
                "UNION ALL SELECT count(*) FROM analytics_marts.fct_feedback "
                "WHERE item_source_id = :t AND item_type = 'ticket'"
            ),
            {"t": deleted},
        ).scalars()
        erased_text = conn.execute(
            text(
                "SELECT count(feedback_text) FROM analytics_marts.fct_feedback f "
                "WHERE f.contact_id = :c OR f.contact_id IN (SELECT canonical_contact_id "
                "FROM analytics_staging.stg_contract__contact_consent WHERE contact_id = :c)"
            ),
            {"c": erased},
        ).scalar_one()
        # BI reads the incremental marts as bi_reader: the grants survive incremental builds.
        conn.execute(text("SET ROLE bi_reader"))
        readable = [
            conn.execute(text(f"SELECT count(*) FROM analytics_marts.{m}")).scalar_one()
            for m in marts
        ]
        conn.execute(text("RESET ROLE"))
    assert replies == replies_before + 1  # the late comment, older than the second build
    assert list(gone) == [0, 0]
    assert erased_text == 0
    assert all(n > 0 for n in readable)

    _snapshot(engine, marts)
    full = build_marts(settings, quiet=True, full_refresh=True)
    assert full.success and not full.failed
    for mart in marts:
        rows, only_incremental, only_full = _differences(engine, mart)
        assert rows > 0, mart
        assert (mart, only_incremental, only_full) == (mart, 0, 0)
