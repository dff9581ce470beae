"""fct_feedback is incremental: a second build after 1% new items writes only those, and a
consent change rewrites the contact's items (real embedded PostgreSQL, real `dbt build`)."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text
from support.db import fixed_scores_sql

from feedbackloop.config import Settings
from feedbackloop.marts import DbtResult, build_marts

FCT = "model.feedbackloop.fct_feedback"

# 297 public reviews and 3 notes of a consenting contact, loaded and scored a day ago.
FIRST_LOAD = [
    """
    INSERT INTO raw.contacts (source, source_id, email_valid, updated_at, loaded_at)
    VALUES ('crm', 'c-1', true, now() - interval '1 day', now() - interval '1 day')
    """,
    """
    INSERT INTO ops.consent (contact_source, contact_source_id, purpose, granted, recorded_by,
                             recorded_at)
    VALUES ('crm', 'c-1', 'improvement', true, 'test', now() - interval '1 day')
    """,
    """
    INSERT INTO raw.reviews (source, source_id, rating, body, created_at, updated_at, loaded_at)
    SELECT 'app_store', 'rv-' || n, 1 + n % 5, 'review text ' || n,
           now() - n * interval '1 hour', now() - interval '1 day', now() - interval '1 day'
    FROM generate_series(1, 297) AS n
    """,
    """
    INSERT INTO raw.notes (source, source_id, department, kind, text, contact_source_id,
                           created_at, updated_at, loaded_at)
    SELECT 'drop', 'note-' || n, 'cs', 'cs_note', 'note text ' || n, 'c-1',
           now() - n * interval '1 hour', now() - interval '1 day', now() - interval '1 day'
    FROM generate_series(1, 3) AS n
    """,
]
NEW_ITEMS = """
    INSERT INTO raw.reviews (source, source_id, rating, body, created_at, updated_at)
    SELECT 'app_store', 'new-' || n, 5, 'new review ' || n, now(), now()
    FROM generate_series(1, 3) AS n
"""


def _score_all(scored_at: str) -> str:
    return fixed_scores_sql(
        {"review": "raw.reviews", "note": "raw.notes"},
        sentiment=0.1,
        label="neutral",
        frustrated=False,
        scored_at=scored_at,
    )


def _rows_affected(result: DbtResult) -> int:
    assert result.target_path is not None
    run = json.loads((result.target_path / "run_results.json").read_text())
    (node,) = [r for r in run["results"] if r["unique_id"] == FCT]
    return int(node["adapter_response"]["rows_affected"])


def _written_by_last_build(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT feedback_key FROM analytics_marts.fct_feedback "
                    "WHERE processed_at = (SELECT max(processed_at) "
                    "FROM analytics_marts.fct_feedback)"
                )
            ).scalars()
        )


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM analytics_marts.fct_feedback")).scalar_one()


def test_second_build_processes_only_new_items_and_consent_changes(
    engine: Engine, settings: Settings
) -> None:
    with engine.begin() as conn:
        for statement in FIRST_LOAD:
            conn.execute(text(statement))
        conn.execute(text(_score_all("now() - interval '1 day'")))

    # The whole project once; the later builds only the model and its tests.
    first = build_marts(settings, quiet=True)
    assert first.success and not first.failed
    assert _rows_affected(first) == 300
    assert _count(engine) == 300

    # 1% new items, scored now.
    with engine.begin() as conn:
        conn.execute(text(NEW_ITEMS))
        conn.execute(text(_score_all("now()")))

    second = build_marts(settings, "fct_feedback", quiet=True)
    assert second.success and not second.failed
    new_keys = {f"review:app_store:new-{n}" for n in (1, 2, 3)}
    assert _rows_affected(second) == 3
    assert _written_by_last_build(engine) == new_keys
    assert _count(engine) == 303

    # The contact withdraws consent: their notes, and only they, are rewritten without text
    # (nothing else was written since the previous build began: no lookback to reread).
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE ops.consent SET granted = false, recorded_at = now() "
                "WHERE contact_source_id = 'c-1'"
            )
        )

    third = build_marts(settings, "fct_feedback", quiet=True)
    assert third.success and not third.failed
    note_keys = {f"note:drop:note-{n}" for n in (1, 2, 3)}
    assert _rows_affected(third) == 3
    assert _written_by_last_build(engine) == note_keys
    with engine.connect() as conn:
        notes = conn.execute(
            text(
                "SELECT has_improvement_consent, feedback_text FROM analytics_marts.fct_feedback "
                "WHERE item_type = 'note'"
            )
        ).all()
    assert [tuple(n) for n in notes] == [(False, None)] * 3
    assert _count(engine) == 303
