"""dbt builds from the same settings as the app, and a failing dbt test fails the build by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.demo.generator import generate
from feedbackloop.demo.load import load_dataset
from feedbackloop.marts import MartsBuildError, build_marts


def test_dbt_build_passes_on_demo_data_then_fails_on_an_orphan(
    engine: Engine, settings: Settings
) -> None:
    dataset = generate(seed=3, tickets=200, now=datetime(2026, 11, 1, tzinfo=UTC))
    load_dataset(engine, dataset, hash_key=settings.hash_key())

    result = build_marts(settings)
    assert result.success and not result.failed
    assert any(name.startswith("model.feedbackloop.stg_zendesk__tickets") for name in result.passed)
    assert (result.target_path / "manifest.json").exists()
    with engine.connect() as conn:
        staged = conn.execute(
            text("SELECT count(*) FROM analytics_staging.stg_zendesk__tickets")
        ).scalar_one()
    assert staged == len(dataset.tickets)

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO raw.ticket_comments (source, source_id, ticket_source_id, "
                "author_role, body, updated_at) VALUES ('zendesk', 'orphan-1', 'no-such-ticket', "
                "'agent', 'hello', now())"
            )
        )
    with pytest.raises(MartsBuildError, match="relationships_stg_zendesk__ticket_comments"):
        build_marts(settings)
