"""Scale-out: scoring partitioned by key range on a Dask LocalCluster (prefect-dask) stores
exactly what the in-process run stores, routing decisions included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings, settings_overridden
from feedbackloop.scoring import model_version_of, pending_ranges, score_pending
from nlp import load_pipeline

NOW = datetime(2026, 11, 20, tzinfo=UTC)

SCORES = """
    SELECT item_type, item_source, item_source_id, model_version, text_hash, sentiment, label,
           frustrated, language, explanation
    FROM nlp.feedback_scores ORDER BY 1, 2, 3
"""
ACTIONS = "SELECT idempotency_key, status, rule, action_type FROM ops.actions ORDER BY 1"


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_key_ranges_cover_every_pending_item_once(engine: Engine, settings: Settings) -> None:
    load_dataset(engine, generate(seed=17, tickets=120, now=NOW), hash_key=settings.hash_key())
    nlp = load_pipeline(sentiment_model="rules")
    version = model_version_of(nlp)
    ranges = pending_ranges(engine, version, 5)
    assert len(ranges) == 5 and ranges[-1][1] is None
    assert all(hi is not None and lo < hi for lo, hi in ranges[:-1])
    reports = [score_pending(engine, nlp, key_range=r, with_totals=False) for r in ranges]
    sizes = [r.scored for r in reports]
    stored = _rows(engine, "SELECT item_type, item_source, item_source_id FROM nlp.feedback_scores")
    assert sum(sizes) == len(stored) == len(set(stored)) > 100
    assert max(sizes) - min(sizes) <= max(sizes) // 2  # about equal parts
    assert pending_ranges(engine, version, 5) == []  # nothing left to score


def test_scoring_on_a_dask_cluster_stores_what_the_in_process_run_stores(
    engine: Engine, settings: Settings, prefect_harness: None
) -> None:
    pytest.importorskip("prefect_dask")
    from flows.score import score_feedback

    load_dataset(engine, generate(seed=19, tickets=200, now=NOW), hash_key=settings.hash_key())
    base = {
        "state_dir": str(settings.state_dir),
        "embedded_database": settings.embedded_database,
        # Old generated items are routable too, so decisions are compared as well.
        "routing_rules_path": str(_rules_without_age_limit(settings)),
    }
    with settings_overridden(base):
        local = score_feedback()
    local_scores, local_actions = _rows(engine, SCORES), _rows(engine, ACTIONS)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM nlp.feedback_scores"))
        conn.execute(text("DELETE FROM ops.actions"))
    with settings_overridden(base | {"task_runner": "dask", "dask_workers": "2"}):
        distributed = score_feedback()

    assert distributed.scored == local.scored == len(local_scores) > 150
    assert distributed.labels == local.labels
    assert distributed.totals == local.totals
    assert _rows(engine, SCORES) == local_scores
    assert local_actions and _rows(engine, ACTIONS) == local_actions
    # Four key ranges (two per worker), each a task run of its own on the cluster.
    assert _partition_runs() == 4


def _partition_runs() -> int:
    from prefect import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="score_partition"))
        )
    # The subflow has a task run of its own ("score-partitions-0"): not counted.
    return sum(
        1
        for r in runs
        if r.name.startswith("score_partition-") and r.state is not None and r.state.is_completed()
    )


def _rules_without_age_limit(settings: Settings):
    from pathlib import Path

    shipped = Path(Settings().routing_rules_path).read_text()
    assert "max_item_age_days: 14" in shipped
    path = settings.state_path / "routing-no-age-limit.yml"
    path.write_text(shipped.replace("max_item_age_days: 14", "max_item_age_days: 100000"))
    return path
