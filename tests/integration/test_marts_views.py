"""The pipeline's builds recreate the staging views only when they may have changed: the
project, the vars or the migration differ from the build that made them, or a view is gone.
Their data tests run on every build, and a failing one still holds back what depends on it
(real embedded PostgreSQL, real dbt)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from support.db import insert_orphan_comment

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.marts import VIEW_MARK, DbtResult, MartsBuildError, build_marts

VIEWS_SQL = text(
    "SELECT c.relname, c.oid::bigint, obj_description(c.oid, 'pg_class') FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'analytics_staging' AND c.relkind = 'v'"
)


def _views(engine: Engine) -> dict[str, tuple[int, str | None]]:
    with engine.connect() as conn:
        return {name: (oid, comment) for name, oid, comment in conn.execute(VIEWS_SQL)}


def _view_tests(result: DbtResult) -> list[str]:
    return [n for n in result.passed if n.startswith("test.") and "_stg_" in n]


def test_unchanged_views_are_kept_and_still_tested(engine: Engine, settings: Settings) -> None:
    load_dataset(
        engine,
        generate(seed=5, tickets=100, now=datetime(2026, 11, 1, tzinfo=UTC)),
        hash_key=settings.hash_key(),
    )
    first = build_marts(settings, quiet=True)
    built = _views(engine)
    assert len(first.views) == len(built) >= 20
    assert all((comment or "").startswith(VIEW_MARK) for _, comment in built.values())

    second = build_marts(settings, quiet=True)
    assert second.success and second.views == []
    assert _views(engine) == built  # the same relations, not recreated
    assert sorted(_view_tests(second)) == sorted(_view_tests(first))
    # dbt wrote no manifest this time; the run results are this build's.
    run = json.loads((settings.state_path / "dbt" / "target" / "run_results.json").read_text())
    assert {r["unique_id"] for r in run["results"]} == {*second.passed, *second.skipped}

    # A view that is gone is made again.
    with engine.begin() as conn:
        conn.execute(text("DROP VIEW analytics_staging.stg_reviews__reviews"))
    third = build_marts(settings, quiet=True)
    assert third.success and len(third.views) == len(built)
    assert set(_views(engine)) == set(built)

    # Other vars (another project state): every view is rebuilt, then kept again.
    varied = build_marts(settings, quiet=True, dbt_vars={"faq_min_similar": 5})
    assert len(varied.views) == len(built)
    again = build_marts(settings, quiet=True, dbt_vars={"faq_min_similar": 5})
    assert again.views == []


def test_a_failing_view_test_still_holds_back_its_marts(engine: Engine, settings: Settings) -> None:
    load_dataset(
        engine,
        generate(seed=6, tickets=100, now=datetime(2026, 11, 1, tzinfo=UTC)),
        hash_key=settings.hash_key(),
    )
    build_marts(settings, quiet=True)
    insert_orphan_comment(engine)
    with pytest.raises(MartsBuildError, match="column_checks_stg_zendesk__ticket_comments"):
        build_marts(settings, quiet=True)
    run = json.loads((settings.state_path / "dbt" / "target" / "run_results.json").read_text())
    status = {r["unique_id"]: r["status"] for r in run["results"]}
    assert not [n for n in status if n.startswith("model.feedbackloop.stg_")]  # views kept
    assert status["model.feedbackloop.fct_ticket_metrics"] == "skipped"
