"""The pull-tickets Prefect flow against the fake Zendesk over real HTTP, twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.clock import NOW
from support.db import count, rows

from demo.fake_app_store import generate_key_pair, serve_fake_app_store
from demo.fake_zendesk import serve_fake_zendesk
from demo.generator import DemoDataset, generate
from feedbackloop.config import Settings, settings_overridden

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_pull_tickets_flow_loads_zendesk_once(engine: Engine, settings: Settings) -> None:
    from flows.ingest import pull_tickets

    dataset = generate(seed=51, tickets=80, now=NOW)
    with (
        serve_fake_zendesk(dataset, page_size=20) as fake,
        settings_overridden(settings.updated(fake.settings)),
    ):
        first = pull_tickets()
        second = pull_tickets()

    assert first["tickets"].rows_written == len(dataset.tickets)
    assert all(r.rows_written == 0 for r in second.values())
    with engine.connect() as conn:
        tickets = conn.execute(text("SELECT count(*) FROM raw.tickets")).scalar_one()
        usage = conn.execute(
            text("SELECT count(*) FROM ops.api_usage WHERE source = 'zendesk'")
        ).scalar_one()
        cursors = (
            conn.execute(
                text("SELECT stream FROM ops.sync_state WHERE source = 'zendesk' ORDER BY 1")
            )
            .scalars()
            .all()
        )
    assert tickets == len(dataset.tickets)
    assert usage == sum(r.api_calls for r in (*first.values(), *second.values()))
    assert set(cursors) >= {"tickets", "ticket_events", "satisfaction_ratings"}


def test_import_drop_and_webhook_drain_flows(engine: Engine, settings: Settings, tmp_path) -> None:
    import json

    from flows.ingest import import_drop_file, process_webhooks

    drop = tmp_path / "calls.jsonl"
    drop.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"call-{i}",
                    "source": "gong",
                    "department": "sales",
                    "created_at": "2026-10-01T10:00:00Z",
                    "text": f"Prospect {i} asks about SSO; card 4111 1111 1111 1111",
                    "contact_email": f"buyer{i}@example.com",
                    "account_id": None,
                    "rating": None,
                }
            )
            for i in range(5)
        )
        + "\n"
    )
    with settings_overridden(settings):
        first = import_drop_file(str(drop))
        second = import_drop_file(str(drop))
        drained = process_webhooks()
    assert (first.written, second.written, second.unchanged) == (5, 0, 5)
    with engine.connect() as conn:
        texts = conn.execute(text("SELECT text FROM raw.notes")).scalars().all()
    assert len(texts) == 5 and all("<CREDIT_CARD>" in t for t in texts)
    assert drained == 0


@contextmanager
def _fake_app_store(
    dataset: DemoDataset, key_dir: Path, **options: Any
) -> Iterator[dict[str, str]]:
    """The fake App Store serving `dataset` with a new key pair, its private key written where
    the connector reads it: the settings that point the connector at it."""
    keys = generate_key_pair()
    key_file = key_dir / "AuthKey.p8"
    keys.write_p8(key_file)
    with serve_fake_app_store(dataset, key_pair=keys, **options) as fake:
        yield fake.settings(key_file)


def test_pull_reviews_flow_loads_the_app_store_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from flows.ingest import pull_reviews

    dataset = generate(seed=52, tickets=100, now=NOW)
    with (
        _fake_app_store(dataset, tmp_path, page_size=10) as app_store,
        settings_overridden(settings.updated(app_store)),
    ):
        first = pull_reviews()
        second = pull_reviews()
    assert first.rows_written == len(dataset.reviews) > 0
    assert second.rows_written == 0
    assert count(engine, "SELECT count(*) FROM raw.reviews") == len(dataset.reviews)


def test_feedback_loop_collects_scores_and_builds_marts(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from flows.feedback_loop import feedback_loop

    dataset = generate(seed=53, tickets=60, now=NOW)
    log = settings.state_path / "dbt" / "logs" / "dbt.log"
    logged = log.stat().st_size if log.exists() else 0
    with (
        serve_fake_zendesk(dataset, page_size=25) as zd,
        _fake_app_store(dataset, tmp_path) as app_store,
        settings_overridden(settings.updated(zd.settings | app_store)),
    ):
        result = feedback_loop()

    assert result["marts"].success
    # dbt parsed this new database's project during the Zendesk pull; the build read that parse
    with log.open() as fh:
        fh.seek(logged)
        assert "Partial parsing enabled, no changes found, skipping parsing" in fh.read()
    by_type = dict(
        rows(engine, "SELECT item_type, count(*) FROM analytics_marts.fct_feedback GROUP BY 1")
    )
    scored = count(engine, "SELECT count(*) FROM nlp.feedback_scores")
    assert by_type["ticket"] == len(dataset.tickets)
    assert by_type["review"] == len(dataset.reviews)
    assert scored == result["scores"].scored > 0
    # Topics clustered beside scoring (a forked child, the default two workers) and wrote.
    topics = result["topics"]
    assert topics.considered == count(engine, "SELECT count(*) FROM nlp.topic_assignments") > 0
