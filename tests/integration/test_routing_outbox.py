"""The outbox: decisions commit with their scores, and a rerun, a crash between decide and send,
a crash after send, a dropped answer, a duplicate webhook or two dispatchers at once never
deliver a message twice. Failures retry with backoff, then fail and alert the owners."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text
from support.processes import kill_9_once
from support.routing import (
    NOW,
    Crash,
    World,
    decided_tickets,
    one_of_each,
    routing_world,
    rules,
    start_dispatcher,
)

from feedbackloop.config import Settings
from feedbackloop.monitoring.health import check_outbox
from feedbackloop.routing import DispatchHooks, scored_hook
from feedbackloop.scoring import score_pending
from nlp import load_pipeline

TYPES = ("slack_alert", "set_priority", "tag", "create_task", "auto_reply")
# What one delivery of an action of each checkable type leaves at the targets (_deliveries).
DELIVERED_ONCE = {
    "auto_reply": {"auto_reply": 1},
    "create_task": {"create_task": 1},
    "tag": {"tag_puts": 1, "crm_patches": 1},
    "set_priority": {"priority_puts": 1},
}


@pytest.fixture
def slack_alert(engine: Engine, settings: Settings) -> Iterator[World]:
    """A routing world with one Slack alert decided and not yet sent."""
    with routing_world(engine, settings) as w:
        decided_tickets(w, 1, "slack_alert")
        yield w


def _deliveries(w: World, ticket_id: str) -> dict[str, int]:
    """What each target actually holds for the ticket, however many requests arrived."""
    tid = int(ticket_id)
    return {
        "slack_alert": len(w.slack.posted("escalations")),
        "auto_reply": len(w.zendesk.added_comments.get(tid, [])),
        "create_task": len(w.hubspot.tasks),
        "tag_puts": sum(1 for r in w.zendesk.writes if r.path.endswith("/tags.json")),
        "priority_puts": sum(1 for r in w.zendesk.writes if "priority" in json.dumps(r.body)),
        "crm_patches": sum(1 for r in w.hubspot.requests if r.method == "PATCH"),
    }


EXACTLY_ONCE = {
    "slack_alert": 1,
    "auto_reply": 1,
    "create_task": 1,
    "tag_puts": 1,
    "priority_puts": 1,
    "crm_patches": 1,
}


@pytest.mark.parametrize("kind", TYPES)
def test_a_crash_between_claim_and_send_then_a_rerun_delivers_at_most_once(
    engine: Engine, settings: Settings, kind: str
) -> None:
    with routing_world(engine, settings) as w:
        (ticket,) = decided_tickets(w, 1, kind)

        # The process dies right after the claim is committed, before anything is sent.
        def die(action: dict[str, Any]) -> None:
            raise Crash

        with pytest.raises(Crash):
            w.dispatch(DispatchHooks(after_claim=die))
        (action,) = w.actions()
        assert action.status == "sending"
        assert sum(_deliveries(w, ticket.source_id).values()) == 0

        # Deciding again adds nothing; the rerun takes the orphan over and checks first.
        assert w.decide(one_of_each(kind)).decided == 0
        report = w.dispatch()
        (action,) = w.actions()
        delivered = _deliveries(w, ticket.source_id)
        outcomes = [r.outcome for r in w.rows("SELECT outcome FROM ops.action_attempts")]
        if kind == "slack_alert":
            # Slack cannot be checked and has no idempotency: never resent (at most once).
            assert action.status == "failed" and "delivery unknown" in action.last_error
            assert report.alerts == 1 and delivered["slack_alert"] == 0
            assert outcomes == ["crashed", "unknown"]
        else:
            assert action.status == "sent" and report.sent == 1
            expected = DELIVERED_ONCE[kind]
            assert {k: delivered[k] for k in expected} == expected
            assert sum(delivered.values()) == sum(expected.values())
            assert outcomes == ["crashed", "sent"]


def test_pending_actions_of_a_crashed_run_are_sent_once_by_the_rerun(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        (ticket,) = decided_tickets(w, 1)  # decided, then the process died before dispatching
        assert w.dispatch().sent == 5
        assert w.dispatch().processed == 0
        assert w.decide(one_of_each()).decided == 0
        assert w.dispatch().processed == 0
        assert _deliveries(w, ticket.source_id) == EXACTLY_ONCE


@pytest.mark.parametrize("kind", ["auto_reply", "create_task", "tag", "set_priority"])
def test_a_crash_after_sending_then_a_rerun_delivers_exactly_once(
    engine: Engine, settings: Settings, kind: str
) -> None:
    with routing_world(engine, settings) as w:
        (ticket,) = decided_tickets(w, 1, kind)

        def die(action: dict[str, Any], reply: Any) -> None:
            assert reply.ok  # the target applied it; the process dies before recording it
            raise Crash

        with pytest.raises(Crash):
            w.dispatch(DispatchHooks(after_send=die))
        (action,) = w.actions()
        assert action.status == "sending"

        report = w.dispatch()
        (action,) = w.actions()
        assert action.status == "sent" and report.already_applied == 1 and report.sent == 0
        delivered = _deliveries(w, ticket.source_id)
        expected = DELIVERED_ONCE[kind]
        assert {k: delivered[k] for k in expected} == expected
        outcomes = [r.outcome for r in w.rows("SELECT outcome FROM ops.action_attempts")]
        assert outcomes == ["crashed", "verified"]


def test_a_slack_alert_whose_delivery_is_unknown_is_not_resent_and_the_owners_hear(
    slack_alert: World,
) -> None:
    w = slack_alert

    def die(action: dict[str, Any], reply: Any) -> None:
        raise Crash

    with pytest.raises(Crash):
        w.dispatch(DispatchHooks(after_send=die))
    report = w.dispatch()
    (action,) = w.actions()
    assert action.status == "failed" and "delivery unknown" in action.last_error
    assert len(w.slack.posted("escalations")) == 1  # delivered once, never twice
    assert report.alerts == 1
    (alert,) = w.slack.posted("ops-alerts")
    assert f"action #{action.id}" in alert["text"] and "slack_alert" in alert["text"]


@pytest.mark.parametrize("kind", ["auto_reply", "create_task"])
def test_an_answer_lost_after_the_target_applied_the_write_is_not_resent(
    engine: Engine, settings: Settings, kind: str
) -> None:
    with routing_world(engine, settings) as w:
        (ticket,) = decided_tickets(w, 1, kind)
        fake = w.zendesk.update_faults if kind == "auto_reply" else w.hubspot.faults
        fake.drop_after_processing = 1
        report = w.dispatch()
        (action,) = w.actions()
        assert action.status == "sent" and report.already_applied == 1
        assert _deliveries(w, ticket.source_id)[kind] == 1
        (attempt,) = w.rows("SELECT outcome, error FROM ops.action_attempts")
        assert attempt.outcome == "verified"


def test_a_dropped_slack_answer_fails_without_a_second_post(slack_alert: World) -> None:
    w = slack_alert
    w.slack.faults.drop_after_processing = 1
    w.slack.faults.only_paths = (w.slack.hooks["escalations"],)
    report = w.dispatch()
    assert report.failed == 1 and report.alerts == 1
    assert len(w.slack.posted("escalations")) == 1
    assert w.dispatch().processed == 0  # failed stays failed


def test_a_429_waits_retry_after_then_sends(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        (ticket,) = decided_tickets(w, 1, "auto_reply")
        w.zendesk.update_faults.rate_limited = 2
        w.zendesk.update_faults.retry_after = 7
        report = w.dispatch()
        assert report.sent == 1 and w.waits == [7.0, 7.0]
        assert _deliveries(w, ticket.source_id)["auto_reply"] == 1
        statuses = [r.status for r in w.rows("SELECT status FROM ops.api_usage ORDER BY id")]
        assert statuses == [429, 429, 200]


def test_server_errors_retry_with_backoff_then_fail_and_alert_the_owners(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        decided_tickets(w, 1, "create_task")
        w.hubspot.faults.server_errors = 100
        w.hubspot.faults.only_paths = ("/crm/v3/objects/tasks",)
        # A retry waits for the backoff: with a long delay nothing is due after a failure.
        first = w.dispatch(routing_retry_delay=3600)
        assert (first.retrying, first.failed) == (1, 0)
        assert w.dispatch(routing_retry_delay=3600).processed == 0
        (action,) = w.actions()
        assert action.status == "pending" and "HTTP 500" in action.last_error
        # Due again (no delay): attempts 2 and 3 of 3, then it fails and the owners hear.
        assert w.dispatch().retrying == 1
        last = w.dispatch()
        assert (last.failed, last.alerts) == (1, 1)
        (action,) = w.actions()
        assert action.status == "failed" and action.attempts == 3
        # HubSpot's tasks API is down: creation and the search that checks it both fail.
        assert action.last_error.startswith("gave up after 3 attempts: ")
        errors = [r.error for r in w.rows("SELECT error FROM ops.action_attempts ORDER BY id")]
        assert errors[0] == "HTTP 500: INTERNAL_ERROR: internal error"
        check = "could not check whether an earlier attempt was applied"
        assert errors[1:] == [check, f"gave up after 3 attempts: {check}"]
        (alert,) = w.slack.posted("ops-alerts")
        assert f"feedbackloop explain {action.id}" in alert["text"]
        assert w.dispatch().processed == 0
        assert len(w.hubspot.tasks) == 0
        # ...and it shows in ops: the health check counts it.
        assert check_outbox(engine).detail["failed"] == 1


def test_a_refused_request_fails_at_once_and_alerts(slack_alert: World) -> None:
    w = slack_alert
    w.slack.archived.add("escalations")
    report = w.dispatch()
    (action,) = w.actions()
    assert (report.failed, report.alerts, action.attempts) == (1, 1, 1)
    assert action.last_error == "HTTP 410: channel_is_archived"


def test_without_an_alert_channel_failures_go_to_the_owners_webhook(slack_alert: World) -> None:
    w = slack_alert
    w.slack.archived.add("escalations")
    owners = SecretStr(w.slack.urls["ops-alerts"])
    report = w.dispatch(routing_alert_channel=None, owner_alert_webhook_url=owners)
    assert report.alerts == 1
    (alert,) = w.slack.posted("ops-alerts")
    assert alert == {"text": alert["text"]}  # monitoring's plain owner alert
    assert "channel_is_archived" in alert["text"]


def test_two_dispatchers_at_once_send_every_action_once(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        tickets = decided_tickets(w, 6, "auto_reply")
        w.zendesk.update_faults.delay_after_processing = 0.2
        reports: list[Any] = []
        # One sender each, so the second dispatcher finds work left when it starts.
        threads = [
            threading.Thread(target=lambda: reports.append(w.dispatch(routing_dispatch_workers=1)))
            for _ in (1, 2)
        ]
        threads[0].start()
        # The second starts while the first is in the middle of sending its first reply.
        deadline = time.monotonic() + 30
        while not w.zendesk.writes:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        threads[1].start()
        for t in threads:
            t.join(timeout=60)
        assert sum(r.sent for r in reports) == 6
        assert all(r.sent for r in reports), "both dispatchers took part"
        # Neither took over an action the other was still sending (its advisory lock is held).
        assert sum(r.already_applied for r in reports) == 0
        attempts = w.rows("SELECT action_id, outcome FROM ops.action_attempts")
        assert sorted(a.outcome for a in attempts) == ["sent"] * 6
        for t in tickets:
            assert len(w.zendesk.added_comments[int(t.source_id)]) == 1
        assert len(w.zendesk.writes) == 6


def test_one_dispatcher_with_several_senders_sends_every_action_once(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        tickets = decided_tickets(w, 12, "auto_reply")
        w.zendesk.update_faults.delay_after_processing = 0.05
        report = w.dispatch(routing_dispatch_workers=4)
        again = w.dispatch(routing_dispatch_workers=4)
        assert report.sent == 12 and again.processed == 0
        attempts = w.rows("SELECT action_id, outcome FROM ops.action_attempts")
        assert sorted(a.outcome for a in attempts) == ["sent"] * 12
        assert len({a.action_id for a in attempts}) == 12
        for t in tickets:
            assert len(w.zendesk.added_comments[int(t.source_id)]) == 1


def test_kill_9_while_a_reply_is_in_flight_then_a_rerun_posts_it_once(
    engine: Engine, settings: Settings, tmp_path: Any
) -> None:
    with routing_world(engine, settings) as w:
        (ticket,) = decided_tickets(w, 1, "auto_reply")
        # Zendesk applies the comment, then takes 30 s to answer: the kill lands in between.
        w.zendesk.update_faults.delay_after_processing = 30
        child = start_dispatcher(w.settings, tmp_path)
        kill_9_once(
            child,
            lambda: bool(w.zendesk.added_comments.get(int(ticket.source_id))),
            never="the child never sent",
            poll=0.02,
        )
        (action,) = w.actions()
        assert action.status == "sending"

        w.zendesk.update_faults.delay_after_processing = 0
        report = w.dispatch()
        (action,) = w.actions()
        assert action.status == "sent" and report.already_applied == 1
        assert len(w.zendesk.added_comments[int(ticket.source_id)]) == 1


def test_the_same_item_decided_twice_or_rescored_gets_no_second_action(
    engine: Engine, settings: Settings
) -> None:
    """A duplicate webhook (or any update) that changes the ticket rescores it; its
    (item, rule, action) keys already exist, so nothing new is decided or sent."""
    with routing_world(engine, settings) as w:
        (ticket,) = decided_tickets(w, 1)
        w.dispatch()
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE raw.tickets SET description = description || ' (again)' "
                     "WHERE source_id = :id"),
                {"id": ticket.source_id},
            )  # fmt: skip
        w.score("ticket", ticket.source_id, label="very_negative", score=-0.95, frustrated=True)
        assert w.decide(one_of_each(), full=False).decided == 0
        assert w.decide(one_of_each(), full=True).decided == 0
        assert w.dispatch().processed == 0
        assert _deliveries(w, ticket.source_id) == EXACTLY_ONCE
        assert len(w.actions()) == 5


def test_decide_pending_picks_up_new_scores_and_old_items_are_not_routed(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        first, second, old = w.ticket(0), w.ticket(1), w.ticket(2)
        r = one_of_each()
        w.score("ticket", first.source_id, label="very_negative", score=-0.9)
        assert w.decide(r, full=False).decided == 5
        assert w.decide(r, full=False).decided == 0  # the mark moved on
        w.score("ticket", second.source_id, label="very_negative", score=-0.9)
        assert w.decide(r, full=False).decided == 5
        w.score("ticket", old.source_id, label="very_negative", score=-0.9, recent=False)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE raw.tickets SET created_at = :at WHERE source_id = :id"),
                {"at": NOW.replace(month=10), "id": old.source_id},
            )
        report = w.decide(r, full=True)
        assert report.decided == 0 and report.too_old == 1
        keys = {a.item_source_id for a in w.actions()}
        assert keys == {first.source_id, second.source_id}


def test_decisions_commit_in_the_same_transaction_as_the_scores(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings, tickets=30) as w:
        # The real scorer; rules that route every negative ticket of the dataset.
        r = rules(
            "max_item_age_days: 400\nrules:\n  - name: neg\n"
            "    when: {item_type: [ticket], sentiment_label: [very_negative, negative]}\n"
            "    actions: [{type: set_priority, priority: high}]\n"
        )
        nlp = load_pipeline(sentiment_model="rules")
        hook = scored_hook(r, now=NOW)

        def crash_after_deciding(conn: Any, rows: list[dict[str, Any]]) -> None:
            hook(conn, rows)
            raise RuntimeError("the process died before the batch committed")

        with pytest.raises(RuntimeError):
            score_pending(engine, nlp, batch_size=1000, on_scored=crash_after_deciding)
        assert w.rows("SELECT count(*) FROM nlp.feedback_scores")[0][0] == 0
        assert w.rows("SELECT count(*) FROM ops.actions")[0][0] == 0

        report = score_pending(engine, nlp, batch_size=10, on_scored=scored_hook(r, now=NOW))
        negative = report.labels["negative"] + report.labels["very_negative"]
        actions = w.actions()
        scored_tickets = w.rows(
            "SELECT count(*) FROM nlp.feedback_scores WHERE item_type = 'ticket' "
            "AND label IN ('negative', 'very_negative')"
        )[0][0]
        assert 0 < len(actions) == scored_tickets <= negative
        assert all(a.explanation["decided_by"] == "routing (score hook)" for a in actions)
        assert {a.model_version for a in actions} == {report.model_version}
        audit = w.rows("SELECT details FROM ops.audit_log WHERE action = 'route'")
        assert sum(sum(a.details["actions"].values()) for a in audit) == len(actions)
        # The score flow's rerun scores nothing and decides nothing.
        assert score_pending(engine, nlp, on_scored=scored_hook(r, now=NOW)).scored == 0
        assert len(w.actions()) == len(actions)
