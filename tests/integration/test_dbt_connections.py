"""dbt keeps each thread's database connection for the whole build instead of opening (and
authenticating) a new one per node, and a node that fails leaves nothing behind for the next
node on that connection (real embedded PostgreSQL, real dbt)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.marts import build_marts, run_dbt

# Sessions ever opened on this database; a fresh connection reads it, so no cached snapshot.
SESSIONS = text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")


def _load(engine: Engine, settings: Settings, *, seed: int) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    load_dataset(engine, generate(seed=seed, tickets=100, now=now), hash_key=settings.hash_key())


def _sessions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(SESSIONS).scalar_one())


def test_a_build_opens_a_few_connections_not_one_per_node(
    engine: Engine, settings: Settings
) -> None:
    _load(engine, settings, seed=8)
    build_marts(settings, quiet=True)  # the full build: views made and marked
    before = _sessions(engine)
    result = build_marts(settings, quiet=True)  # the pipeline's usual build
    nodes = len(result.passed) + len(result.skipped)
    assert result.success and nodes > 50
    time.sleep(0.5)  # a closed backend reports its session as it exits
    # Two threads, the main thread's own (cache, hooks) and this test's reads: a handful,
    # where one per node made more than fifty.
    assert _sessions(engine) - before < 20


def test_a_failing_node_leaves_its_connection_clean_for_the_next(
    engine: Engine, settings: Settings
) -> None:
    _load(engine, settings, seed=9)
    # A var that renders as an unknown column: mart_faq_candidates fails in PostgreSQL, inside
    # its transaction. One thread, so every node after it runs on the same kept connection.
    bad = json.dumps({"faq_min_similar": "no_such_column"})
    result = run_dbt(
        ["build", "--threads", "1", "--exclude-resource-type", "unit_test", "--vars", bad],
        settings,
        raise_on_failure=False,
        quiet=True,
    )
    assert result.failed == ["model.feedbackloop.mart_faq_candidates"]
    run = json.loads((settings.state_path / "dbt" / "target" / "run_results.json").read_text())
    order = [(r["unique_id"], r["status"]) for r in run["results"]]
    failed_at = order.index(("model.feedbackloop.mart_faq_candidates", "error"))
    after = [status for _, status in order[failed_at + 1 :]]
    # A connection left in the aborted transaction would fail every one of these.
    assert after.count("success") + after.count("pass") > 10
    assert "error" not in after and "fail" not in after
