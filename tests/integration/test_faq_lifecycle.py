"""FAQ candidates' lifecycle through real dbt builds: candidate -> accepted -> published, and a
rejected candidate that returns only after growing by half again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from support.cli import run_cli
from test_marts_faq import _assign, _load, _review
from typer.testing import CliRunner

from feedbackloop.config import Settings, settings_overridden
from feedbackloop.faq import FaqError, decide, list_candidates
from feedbackloop.marts import build_marts


def _candidates(engine: Engine) -> list[int]:
    return [c.cluster_id for c in list_candidates(engine)]


def test_accept_publish_and_a_rejection_that_needs_growth(
    engine: Engine, settings: Settings
) -> None:
    now = datetime.now(UTC)
    _load(engine, now)
    with pytest.raises(FaqError, match="build the marts"):
        list_candidates(engine)
    build_marts(settings, quiet=True)
    assert _candidates(engine) == [1]

    # Only a candidate can be accepted; publishing needs an accepted cluster and an article.
    with pytest.raises(FaqError, match="not an FAQ candidate"):
        decide(engine, 2, "accepted", by="ana")
    with pytest.raises(FaqError, match="cannot be published"):
        decide(engine, 1, "published", by="ana", article="zendesk_guide:1")
    decide(engine, 1, "accepted", by="ana", note="write it, ping ana@example.com")
    assert list_candidates(engine)[0].decision == "accepted"  # before the next build
    with pytest.raises(FaqError, match="SOURCE:ID"):
        decide(engine, 1, "published", by="ana", article="360001")
    build_marts(settings, quiet=True)
    assert _candidates(engine) == []  # accepted: being written

    # Through the CLI, as a person would: publish the article.
    from feedbackloop.cli import app

    with settings_overridden(settings):
        published = CliRunner().invoke(
            app, ["faq", "publish", "1", "--article", "zendesk_guide:360001", "--by", "ana"]
        )
        again = CliRunner().invoke(app, ["faq", "reject", "1", "--by", "bo"])
    assert published.exit_code == 0, published.output
    assert again.exit_code == 2 and "published" in again.output

    # Cluster 2 becomes a candidate with its 30th item; rejected at size 40, it stays away
    # at 59 and returns at 60 (1.5 x 40).
    with engine.begin() as conn:
        _assign(
            conn,
            [_review(conn, "b-new", "login fails again", now - timedelta(hours=2))],
            2,
            "login",
        )
    build_marts(settings, quiet=True)
    assert _candidates(engine) == [2]
    decide(engine, 2, "rejected", by="bo", note="a known outage")
    for size, expected in ((59, []), (60, [2])):
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE nlp.clusters SET size = :s WHERE cluster_id = 2"), {"s": size}
            )
        build_marts(settings, quiet=True, select="mart_faq_candidates")
        assert _candidates(engine) == expected, size

    with engine.connect() as conn:
        decisions = conn.execute(
            text(
                "SELECT cluster_id, decision, cluster_size, article_source, article_source_id, "
                "note FROM ops.faq_decisions ORDER BY id"
            )
        ).all()
        audited = (
            conn.execute(
                text("SELECT action FROM ops.audit_log WHERE action LIKE 'faq_%' ORDER BY id")
            )
            .scalars()
            .all()
        )
    assert [(d.cluster_id, d.decision, d.cluster_size) for d in decisions] == [
        (1, "accepted", 40),
        (1, "published", 40),
        (2, "rejected", 40),
    ]
    assert (decisions[1].article_source, decisions[1].article_source_id) == (
        "zendesk_guide",
        "360001",
    )
    assert "ana@example.com" not in decisions[0].note
    assert audited == ["faq_accepted", "faq_published", "faq_rejected"]


def test_faq_list_shows_the_central_question_and_key_phrases_of_a_real_cluster(
    engine: Engine, settings: Settings
) -> None:
    """Real clustering (light encoder) of real-looking public reviews, a real dbt build, the
    CLI: the label a person reads is one of the cluster's own (masked) texts, not keywords."""
    from test_topics_assign import topic_texts

    from feedbackloop.topics import assign_topics

    now = datetime.now(UTC)
    texts = topic_texts("password", 36, 7) + topic_texts("delivery", 36, 8)
    with engine.begin() as conn:
        for n, body in enumerate(texts):
            _review(conn, f"r-{n}", body, now - timedelta(hours=n + 1))
    report = assign_topics(engine, settings, public_reviews=True)
    assert report.candidates >= 1
    build_marts(settings, quiet=True)
    candidates = list_candidates(engine)
    assert candidates
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.cluster_id, r.body FROM nlp.topic_assignments a JOIN raw.reviews r "
                "ON r.source_id = a.item_source_id"
            )
        ).all()
    for c in candidates:
        members = [" ".join(body.split()) for cid, body in rows if cid == c.cluster_id]
        assert c.label and any(c.label.rstrip("…") in m for m in members), c.label
        assert " / " not in c.label
        assert c.key_phrases and 1 <= len(c.key_phrases.split(", ")) <= 3

    shown = run_cli(
        "faq",
        "list",
        "--no-examples",
        env={
            "FEEDBACKLOOP_STATE_DIR": str(settings.state_dir),
            "FEEDBACKLOOP_EMBEDDED_DATABASE": settings.embedded_database,
            "COLUMNS": "250",
        },
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "label (key phrases)" in shown.stdout
    for c in candidates:
        assert c.label in shown.stdout and f"({c.key_phrases})" in shown.stdout
