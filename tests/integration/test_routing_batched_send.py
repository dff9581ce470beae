"""Batched sending (issue #20): a batch is claimed in one statement and survives a kill -9,
concurrent dispatchers never send an action twice, a 429 holds back only its own target, the
rate limiter spaces each Slack webhook's posts, and the API-usage rows reconcile with the
calls the targets received."""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from support.processes import kill_9_once
from support.routing import World, decided_tickets, one_of_each, start_dispatcher

from feedbackloop.notify import RateLimiter, Targets
from feedbackloop.routing import DispatchHooks, DispatchReport, dispatch
from feedbackloop.routing.dispatch import _CLAIM

NO_LIMITS = {
    "slack_posts_per_second": 0.0,
    "zendesk_writes_per_minute": 0.0,
    "hubspot_requests_per_second": 0.0,
}


def _dispatch_really_waiting(w: World, **overrides: Any) -> DispatchReport:
    """One dispatch with settings and clients that really wait (the world's clients only note
    their waits), under no rate limit but those `overrides` set."""
    settings = w.settings.model_copy(update=NO_LIMITS | overrides)
    with Targets.from_settings(settings, engine=w.engine) as targets:
        return dispatch(w.engine, settings, targets=targets)


def _each_delivered_once(w: World, tickets: list[Any]) -> None:
    for t in tickets:
        tid = int(t.source_id)
        assert len(w.zendesk.added_comments.get(tid, [])) == 1
        puts = [r for r in w.zendesk.writes if f"/tickets/{tid}" in r.path]
        assert sum(1 for r in puts if r.path.endswith("/tags.json")) == 1
        assert sum(1 for r in puts if "priority" in json.dumps(r.body)) == 1
    sent_to = {"slack_alert": w.slack.posted("escalations"), "create_task": w.hubspot.tasks}
    for a in w.actions():
        if a.action_type in sent_to:
            ref = a.payload["ref"]
            assert sum(ref in json.dumps(m) for m in sent_to[a.action_type]) == 1, ref
    assert sum(1 for r in w.hubspot.requests if r.method == "PATCH") == len(tickets)


def test_a_batch_claimed_in_one_statement_survives_kill_9_and_is_delivered_once(
    w: World, tmp_path: Any
) -> None:
    tickets = decided_tickets(w, 6, "auto_reply")
    # Zendesk applies each comment, then takes 30 s to answer: the kill lands in between,
    # with some comments applied and the rest of the batch not yet sent.
    w.zendesk.update_faults.delay_after_processing = 30
    child = start_dispatcher(
        w.settings.model_copy(update={"routing_dispatch_workers": 2}), tmp_path
    )
    kill_9_once(child, lambda: len(w.zendesk.writes) >= 2, never="the child never sent", poll=0.02)

    # The whole batch was claimed at once, before anything was sent: one run's key, one
    # transaction's timestamp on every attempt, every one of them open.
    actions = w.actions()
    assert [a.status for a in actions] == ["sending"] * 6
    assert len({a.claimed_by for a in actions}) == 1
    attempts = w.rows("SELECT started_at, finished_at FROM ops.action_attempts")
    assert len(attempts) == 6 and len({a.started_at for a in attempts}) == 1
    assert all(a.finished_at is None for a in attempts)
    applied = sum(len(v) for v in w.zendesk.added_comments.values())
    assert 2 <= applied < 6

    # The next run takes the batch over (the dead run's lock is gone), checks each comment
    # at Zendesk, and sends only the ones that were never applied.
    w.zendesk.update_faults.delay_after_processing = 0
    report = w.dispatch()
    assert report.already_applied == applied and report.sent == 6 - applied
    assert {a.status for a in w.actions()} == {"sent"}
    for t in tickets:
        assert len(w.zendesk.added_comments[int(t.source_id)]) == 1
    outcomes = Counter(r.outcome for r in w.rows("SELECT outcome FROM ops.action_attempts"))
    assert outcomes == {"crashed": 6, "verified": applied, "sent": 6 - applied}


def test_concurrent_dispatchers_never_send_an_action_twice(w: World) -> None:
    tickets = decided_tickets(w, 8)  # 40 actions, every type
    w.zendesk.update_faults.delay_after_processing = 0.02
    reports: list[Any] = []
    threads = [
        threading.Thread(target=lambda: reports.append(w.dispatch(routing_dispatch_workers=2)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(r.sent for r in reports) == 40
    assert sum(r.already_applied + r.failed + r.retrying for r in reports) == 0
    attempts = w.rows("SELECT action_id, outcome FROM ops.action_attempts")
    assert len(attempts) == 40 and len({a.action_id for a in attempts}) == 40
    assert {a.outcome for a in attempts} == {"sent"}
    _each_delivered_once(w, tickets)


def test_a_429_with_retry_after_holds_back_only_its_target(w: World) -> None:
    decided_tickets(w, 4, "auto_reply", "create_task")
    w.zendesk.update_faults.rate_limited = 1
    w.zendesk.update_faults.retry_after = 2
    # One sender per target: which write meets the 429 is then known (the first).
    report = _dispatch_really_waiting(w, routing_dispatch_workers=1)
    assert report.sent == 8
    writes = sorted(r.at for r in w.zendesk.writes)
    limited_at = writes[0]  # answered 429, Retry-After 2
    # Every later Zendesk write waited for the Retry-After...
    assert len(writes) == 5 and all(at >= limited_at + 1.9 for at in writes[1:])
    # ...while HubSpot went on: all its tasks arrived before Zendesk was written again.
    tasks = [r.at for r in w.hubspot.requests if r.method == "POST"]
    assert len(tasks) == 4 and max(tasks) < limited_at + 1.9


def test_the_rate_limiter_spaces_posts_per_slack_webhook(w: World) -> None:
    tickets = [w.ticket(i) for i in range(8)]
    for t in tickets:
        w.score("ticket", t.source_id, label="very_negative", score=-0.9)
    # Eight alerts to #escalations, eight to #billing.
    w.decide(one_of_each("slack_alert"))
    w.decide(one_of_each("slack_alert", channel="billing"))
    report = _dispatch_really_waiting(w, routing_dispatch_workers=4, slack_posts_per_second=5.0)
    assert report.sent == 16
    for channel in ("escalations", "billing"):
        hook = w.slack.hooks[channel]
        at = sorted(r.at for r in w.slack.requests if r.path == hook)
        assert len(at) == 8
        # 5 posts/s: 0.2 s apart at the sender; loopback jitter is far below 50 ms.
        assert all(b - a >= 0.15 for a, b in itertools.pairwise(at)), at
    # The limit is per webhook: #billing was not queued behind #escalations.
    first = {
        ch: min(r.at for r in w.slack.requests if r.path == w.slack.hooks[ch])
        for ch in ("escalations", "billing")
    }
    assert abs(first["escalations"] - first["billing"]) < 0.15


def test_api_usage_rows_reconcile_with_the_calls_the_targets_received(w: World) -> None:
    decided_tickets(w, 5)
    w.hubspot.faults.rate_limited = 2
    w.hubspot.faults.retry_after = 1
    w.zendesk.update_faults.server_errors = 1  # one retried action: its check is a read
    report = w.dispatch()
    assert report.sent == 24 and report.retrying == 1
    w.dispatch()  # the retry: a check (GET), then the write
    usage = w.rows("SELECT source, method, status FROM ops.api_usage")
    received = {
        "slack": len(w.slack.requests),
        "hubspot": len(w.hubspot.requests),
        "zendesk": len(w.zendesk.requests),
    }
    assert Counter(u.source for u in usage) == received
    assert Counter((u.source, u.status) for u in usage)[("hubspot", 429)] == 2
    assert Counter((u.source, u.status) for u in usage)[("zendesk", 500)] == 1
    assert Counter((u.source, u.method) for u in usage)[("zendesk", "GET")] >= 1


def test_the_rate_limiter_reserves_slots_in_order_and_pauses_one_key() -> None:
    now = [100.0]
    waits: list[float] = []
    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=waits.append)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.5, 1.0]
    assert limiter.acquire("b") == 0.0  # another webhook: its own slots
    limiter.pause("b", 30.0)
    assert limiter.acquire("b") == 30.0 and limiter.acquire("a") == 1.5
    unlimited = RateLimiter(0)
    assert unlimited.acquire("x") == 0.0 and unlimited.acquire("x") == 0.0
    assert waits == [0.5, 1.0, 30.0, 1.5]


def test_actions_not_started_when_a_run_fails_go_back_to_pending(engine: Engine, w: World) -> None:
    decided_tickets(w, 8, "slack_alert")
    first = w.actions()[0]
    # The database refuses to record the first alert as sent: the run fails part way,
    # with alerts posted, alerts queued behind them, and alerts not yet claimed.
    with engine.begin() as conn:
        conn.execute(
            text(
                f"""
                CREATE FUNCTION public.test_refuse_sent() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.status = 'sent' AND NEW.id = {first.id} THEN
                        RAISE EXCEPTION 'refused by a test trigger';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER test_refuse_sent BEFORE UPDATE ON ops.actions
                FOR EACH ROW EXECUTE FUNCTION public.test_refuse_sent();
                """
            )
        )
    w.slack.faults.delay_after_processing = 0.1  # one sender: the others wait in line
    try:
        with pytest.raises(DBAPIError, match="refused by a test trigger"):
            w.dispatch(routing_dispatch_workers=1)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP FUNCTION public.test_refuse_sent() CASCADE"))
    w.slack.faults.delay_after_processing = 0
    posted = json.dumps(w.slack.posted("escalations"))
    # Left `sending` only what was posted and not recorded; what never went out is pending.
    sending = [a for a in w.actions() if a.status == "sending"]
    assert sending and all(a.payload["ref"] in posted for a in sending)
    pending = [a for a in w.actions() if a.status == "pending"]
    assert not any(a.payload["ref"] in posted for a in pending)
    # The next run posts the rest; the posted, unrecorded ones fail unknown (not resent).
    rerun = w.dispatch()
    assert (rerun.sent, rerun.failed) == (len(pending), len(sending))
    messages = w.slack.posted("escalations")
    for a in w.actions():
        assert sum(a.payload["ref"] in json.dumps(m) for m in messages) == 1


def test_failure_alerts_wait_for_slack_without_holding_back_other_sends(w: World) -> None:
    decided_tickets(w, 12, "auto_reply", "create_task")
    # Four tasks are refused: four owner alerts, which Slack's 1 post/s spreads over 3 s.
    w.hubspot.faults.server_errors = 4
    w.hubspot.faults.error_status = 400
    w.hubspot.faults.only_paths = ("/crm/v3/objects/tasks",)
    report = _dispatch_really_waiting(w, routing_dispatch_workers=1, slack_posts_per_second=1.0)
    assert (report.sent, report.failed, report.alerts) == (20, 4, 4)
    alerts = sorted(r.at for r in w.slack.requests if r.path == w.slack.hooks["ops-alerts"])
    assert len(alerts) == 4 and alerts[3] - alerts[0] >= 2.9
    # The twelve replies (claimed four at a time) did not wait for the alerts.
    replies = [r.at for r in w.zendesk.writes]
    assert len(replies) == 12 and max(replies) < alerts[2]


def test_the_takeover_check_reads_pg_locks_once_per_claim(engine: Engine, w: World) -> None:
    decided_tickets(w, 5, "auto_reply")
    # Five actions of a run that is gone (no lock holds its key): each is a candidate.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ops.actions SET status = 'sending', claimed_by = 4242, attempts = 1")
        )
        plan = conn.execute(
            text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(_CLAIM.text)),
            {
                "types": ["auto_reply"],
                "afters": [0],
                "ns": [10],
                "total": None,
                "base": 0.0,
                "cap": 3600.0,
                "key": 99,
            },
        ).scalar_one()
        conn.rollback()

    def scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if node.get("Function Name") == "pg_lock_status":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    found = list(scans(plan[0]["Plan"]))
    assert found and sum(n["Actual Loops"] for n in found) == 1
    assert plan[0]["Plan"]["Actual Rows"] == 5  # and all five were taken over


def test_a_run_whose_actions_were_taken_over_does_not_count_them(engine: Engine, w: World) -> None:
    (ticket,) = decided_tickets(w, 1, "auto_reply")
    others: list[Any] = []

    def take_over(action: dict[str, Any], reply: Any) -> None:
        # After the write, this run's session ends (a database restart, a terminated
        # backend): its lock is gone, and another run takes the action over.
        with engine.begin() as conn:
            conn.execute(
                text(
                    """
                    SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                    JOIN ops.actions a ON l.objid = CAST(a.claimed_by AS oid)
                    WHERE a.id = :id AND l.locktype = 'advisory' AND l.objsubid = 2
                    """
                ),
                {"id": action["id"]},
            )
        others.append(w.dispatch())

    first = w.dispatch(DispatchHooks(after_send=take_over))
    (other,) = others
    assert other.already_applied == 1  # found at Zendesk, recorded by the run that took it
    assert first.processed == 0  # its outcome was not written: not counted
    (action,) = w.actions()
    assert action.status == "sent"
    assert len(w.zendesk.added_comments[int(ticket.source_id)]) == 1


def test_a_resend_after_a_429_takes_its_own_slot() -> None:
    now = [100.0]
    waits: list[float] = []
    limiter = RateLimiter(1.0, clock=lambda: now[0], sleep=waits.append)
    assert limiter.acquire("a") == 0.0
    # The write was answered 429, Retry-After 5: it is resent at 105 by its sender, and the
    # next sender's slot is one interval later (not at 105 too: two writes at once).
    limiter.pause("a", 5.0, resend=True)
    assert limiter.acquire("a") == 6.0
    # Without a resend (the sender gave up), the next slot is the end of the pause.
    limiter.pause("b", 5.0)
    assert limiter.acquire("b") == 5.0
