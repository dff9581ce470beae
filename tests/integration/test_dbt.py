"""dbt builds from the same settings as the app, and a failing dbt test fails the build by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from support.db import insert_orphan_comment

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.marts import MartsBuildError, build_marts, run_dbt


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

    insert_orphan_comment(engine)
    with pytest.raises(MartsBuildError, match="column_checks_stg_zendesk__ticket_comments"):
        build_marts(settings)


def test_marts_carry_their_descriptions_as_comments_bi_reader_can_read(
    engine: Engine, settings: Settings
) -> None:
    """persist_docs: Looker (as bi_reader) shows every mart's and every column's description."""
    import json

    load_dataset(engine, generate(seed=4, tickets=100), hash_key=settings.hash_key())
    result = build_marts(settings, quiet=True)
    manifest = json.loads((result.target_path / "manifest.json").read_text())
    marts = {
        node["alias"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }
    assert len(marts) >= 12
    with engine.connect() as conn:
        conn.execute(text("SET ROLE bi_reader"))
        assert conn.execute(text("SELECT current_user")).scalar_one() == "bi_reader"
        relations = conn.execute(
            text(
                "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'analytics_marts' AND c.relkind IN ('r', 'v', 'm', 'p')"
            )
        ).all()
        assert {name for name, _ in relations} == set(marts)
        for name, comment in relations:
            assert comment and comment == marts[name]["description"], name
        columns = conn.execute(
            text(
                "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                "AND NOT a.attisdropped "
                "WHERE n.nspname = 'analytics_marts' AND c.relkind IN ('r', 'v', 'm', 'p')"
            )
        ).all()
    comments = {(table, column): comment for table, column, comment in columns}
    documented = {
        (name, column): spec["description"]
        for name, node in marts.items()
        for column, spec in node["columns"].items()
        if spec["description"]
    }
    assert len(documented) >= 180
    for key, description in documented.items():
        assert comments.get(key) == description, key
    # and no mart column goes to Looker without a description
    assert [key for key, comment in comments.items() if not comment] == []


def test_column_checks_fail_on_a_null_in_any_listed_column(
    engine: Engine, settings: Settings
) -> None:
    """One test node checks every column of a model (tests/generic/column_checks)."""
    insert = (
        "INSERT INTO raw.tickets (source, source_id, status, created_at, updated_at) "
        "VALUES ('zendesk', :t, 'open', :c, now())"
    )
    # The model and the tests on it alone (not the relationships to models not built here).
    build = ["build", "--select", "stg_zendesk__tickets", "--indirect-selection", "cautious"]
    with engine.begin() as conn:
        conn.execute(text(insert), {"t": "t-1", "c": datetime(2026, 11, 1, tzinfo=UTC)})
    result = run_dbt(build, settings, quiet=True)
    checks = [n for n in result.passed if n.startswith("test.feedbackloop.column_checks_")]
    assert [n for n in checks if "stg_zendesk__tickets" in n]

    with engine.begin() as conn:
        conn.execute(text(insert), {"t": "t-2", "c": None})
    with pytest.raises(MartsBuildError, match="column_checks_stg_zendesk__tickets"):
        run_dbt(build, settings, quiet=True)
