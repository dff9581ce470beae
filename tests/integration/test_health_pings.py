"""Health pings against the real database: rows stored, the alert-twice / recover cycle read
from `ops.health_pings`, outbox backlog and flow freshness judged from real rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, create_engine, text

from feedbackloop.config import Settings
from feedbackloop.monitoring import health

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_failing_twice_alerts_once_and_recovery_is_reported(engine: Engine) -> None:
    down = health.Check("database", False, None, {"error": "OperationalError"})
    up = health.Check("database", True, 1.0)
    outcomes = [health.record_pings(engine, [c]).alerts for c in (up, down, down, down, up)]
    assert [[change for change, _ in alerts] for alerts in outcomes] == [
        [],
        [],
        ["alert"],
        [],
        ["recovered"],
    ]
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ok FROM ops.health_pings WHERE check_name = 'database' ORDER BY id")
        ).scalars()
        assert list(rows) == [True, False, False, False, True]


def test_unreachable_database_is_a_failed_check_not_an_exception(engine: Engine) -> None:
    nowhere = create_engine("postgresql+psycopg://nobody@/none?host=/nonexistent-socket-dir")
    check = health.check_database(nowhere)
    assert not check.ok and check.detail["error"] == "OperationalError"
    assert health.check_database(engine).ok


def test_outbox_fails_when_the_oldest_pending_action_is_too_old(engine: Engine) -> None:
    assert health.check_outbox(engine, NOW).ok
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.actions (idempotency_key, item_type, item_source, "
                "item_source_id, rule, action_type, status, created_at) VALUES "
                "('k1', 'ticket', 'zendesk', '1', 'r', 'slack_alert', 'pending', :at)"
            ),
            {"at": NOW - timedelta(minutes=16)},
        )
    check = health.check_outbox(engine, NOW)
    assert not check.ok
    assert check.detail["pending"] == 1 and check.detail["oldest_pending_age_s"] == 960.0


def test_flow_freshness_judges_the_last_completed_run(engine: Engine) -> None:
    periods = {"pull-tickets": timedelta(minutes=5), "score-feedback": timedelta(minutes=15)}
    with engine.begin() as conn:
        for run_id, flow, state, ended in (
            ("a", "pull-tickets", "Completed", NOW - timedelta(minutes=19)),
            ("b", "score-feedback", "Completed", NOW - timedelta(minutes=41)),
            ("c", "score-feedback", "Failed", NOW - timedelta(minutes=1)),
        ):
            conn.execute(
                text(
                    "INSERT INTO ops.flow_runs (flow_run_id, flow_name, state, ended_at) "
                    "VALUES (:id, :flow, :state, :ended)"
                ),
                {"id": run_id, "flow": flow, "state": state, "ended": ended},
            )
    checks = {c.name: c for c in health.check_flow_freshness(engine, periods, NOW)}
    # pull-tickets: 19 min <= 2 x 5 + 10; score-feedback: 41 min > 2 x 15 + 10 (a later
    # failed run does not count as fresh).
    assert checks["flow:pull-tickets"].ok
    assert not checks["flow:score-feedback"].ok
    assert checks["flow:score-feedback"].detail["age_s"] == 41 * 60


def test_a_flow_that_never_ran_is_not_judged_before_its_allowance(engine: Engine) -> None:
    periods = {"pull-reviews": timedelta(hours=1)}
    first = health.check_flow_freshness(engine, periods, NOW)
    health.record_pings(engine, first)
    assert first[0].ok
    with engine.begin() as conn:
        conn.execute(text("UPDATE ops.health_pings SET checked_at = :at"), {"at": NOW})
    later = health.check_flow_freshness(engine, periods, NOW + timedelta(hours=2, minutes=11))
    assert not later[0].ok


def test_expected_periods_come_from_prefect_yaml() -> None:
    from pathlib import Path

    periods = health.expected_flow_periods(Path(__file__).resolve().parents[2] / "prefect.yaml")
    assert periods["pull-tickets"] == timedelta(minutes=5)
    assert periods["process-webhook-events"] == timedelta(minutes=1)
    assert "demo-loop" not in periods  # its nightly schedule is inactive
    assert "import-drop" not in periods  # on demand


def test_each_configured_source_answers_its_credential_check(tmp_path) -> None:
    from demo.generator import generate
    from demo.sources import serve_demo_sources
    from feedbackloop.config import Settings

    dataset = generate(seed=3, tickets=20, now=NOW)
    with serve_demo_sources(dataset) as sources:
        good = Settings(state_dir=tmp_path, **sources.settings)
        checks = {c.name: c for c in health.check_sources(good)}
        wrong = Settings(state_dir=tmp_path, **(sources.settings | {"zendesk_api_token": "nope"}))
        refused = {c.name: c for c in health.check_sources(wrong)}
    assert set(checks) == {"source:zendesk", "source:app_store"}
    assert all(c.ok for c in checks.values()), checks
    assert not refused["source:zendesk"].ok and refused["source:app_store"].ok
    assert "nope" not in str(refused["source:zendesk"].detail)


def test_source_freshness_check_fails_on_a_stale_source_and_passes_when_fresh(
    engine: Engine, settings: Settings
) -> None:
    from demo.generator import generate
    from demo.load import load_dataset

    load_dataset(engine, generate(seed=3, tickets=50), hash_key=settings.hash_key())
    with engine.begin() as conn:  # the two sources with an error_after the loader does not fill
        conn.execute(
            text(
                "INSERT INTO ops.flow_runs (flow_run_id, flow_name, state) "
                "VALUES ('r1', 'pull-tickets', 'Completed')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO nlp.feedback_scores (item_type, item_source, item_source_id, "
                "model_version, text_hash, sentiment, label, frustrated) "
                "VALUES ('ticket', 'zendesk', '1', 'v1', 'h', 0.1, 'neutral', false)"
            )
        )
    fresh = health.check_source_freshness(settings)
    # ops.health_pings is still empty: the ping does not judge its own table.
    assert fresh.name == "source-freshness"
    assert fresh.ok, fresh.detail
    assert fresh.detail["stale"] == [] and fresh.detail["sources"] >= 15

    with engine.begin() as conn:  # its error_after is 72 hours
        conn.execute(text("UPDATE nlp.feedback_scores SET scored_at = now() - interval '4 days'"))
    stale = health.check_source_freshness(settings)
    assert not stale.ok
    assert stale.detail["stale"] == ["nlp.feedback_scores"]


def test_a_source_freshness_check_that_hangs_is_a_failed_check(settings: Settings) -> None:
    check = health.check_source_freshness(settings, timeout=0.01)
    assert not check.ok and check.detail == {"error": "TimeoutExpired"}
