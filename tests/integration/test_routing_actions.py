"""Each action type end to end: decided into ops.actions, sent over real HTTP to the fake
targets in their documented shapes, delivery recorded before and after, calls in api_usage."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from support.routing import MODEL, NOW, World, routing_world, rules

from feedbackloop.config import Settings
from feedbackloop.routing import DispatchHooks

ALL = """
rules:
  - name: everything
    when: {sentiment_label: [very_negative]}
    actions:
      - {type: slack_alert, channel: escalations}
      - {type: set_priority, priority: urgent}
      - {type: tag, tags: [angry, billing]}
      - type: create_task
        subject: "Call back {contact_id}"
        priority: HIGH
        task_type: CALL
        due_in_hours: 4
        associate: [contact, company]
      - {type: auto_reply, template: sorry}
templates:
  sorry:
    body:
      en: "Sorry about ticket {ticket_id}.\\n\\n{disclosure}"
      de: "Entschuldigung wegen Ticket {ticket_id}.\\n\\n{disclosure}"
disclosure:
  en: "An automated system read your message. (ref {ref})"
  de: "Ein automatisches System hat Ihre Nachricht gelesen. (Ref. {ref})"
"""


def _decide_one(w: World, **contact: Any) -> Any:
    ticket = w.ticket(0)
    w.set_contact(ticket.requester_source_id, consent_contact=True, email_valid=True, **contact)
    w.score("ticket", ticket.source_id, label="very_negative", score=-0.9, frustrated=True)
    report = w.decide(rules(ALL))
    assert report.actions == {"pending": 5}
    return ticket


def _action(w: World, kind: str) -> Any:
    return next(a for a in w.actions() if a.action_type == kind)


def test_slack_alert_posts_text_and_blocks_to_the_channel_webhook(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        ticket = _decide_one(w)
        w.dispatch()
        (message,) = w.slack.posted("escalations")
        action = _action(w, "slack_alert")
        assert action.status == "sent" and action.sent_at is not None
        assert message["text"].startswith(":warning: very negative ticket " + ticket.source_id)
        assert "`everything`" in message["text"]
        section, context = message["blocks"]
        assert section == {"type": "section", "text": {"type": "mrkdwn", "text": message["text"]}}
        assert action.payload["ref"] in context["elements"][0]["text"]
        assert all(not w.slack.posted(ch) for ch in ("billing", "product-feedback", "ops-alerts"))


def test_auto_reply_is_a_public_comment_with_the_disclosure_in_the_customers_language(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        ticket = _decide_one(w)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"UPDATE raw.tickets SET language = 'de' WHERE source_id = '{ticket.source_id}'"
            )
            conn.exec_driver_sql("DELETE FROM ops.actions")
        w.decide(rules(ALL))
        w.dispatch()
        action = _action(w, "auto_reply")
        (comment,) = w.zendesk.added_comments[int(ticket.source_id)]
        assert comment["public"] is True
        assert comment["body"] == (
            f"Entschuldigung wegen Ticket {ticket.source_id}.\n\n"
            f"Ein automatisches System hat Ihre Nachricht gelesen. (Ref. {action.payload['ref']})"
        )
        put = next(r for r in w.zendesk.writes if "comment" in json.dumps(r.body))
        assert put.path == f"/api/v2/tickets/{ticket.source_id}.json"
        assert put.body == {"ticket": {"comment": {"body": comment["body"], "public": True}}}
        assert put.headers["authorization"].startswith("Basic ")
        assert action.status == "sent" and action.target == f"zendesk:ticket/{ticket.source_id}"


def test_create_task_uses_the_hubspot_tasks_shape(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        ticket = _decide_one(w)
        w.dispatch()
        (task,) = w.hubspot.tasks
        (request,) = [r for r in w.hubspot.requests if r.path == "/crm/v3/objects/tasks"]
        assert request.method == "POST"
        assert request.headers["authorization"] == f"Bearer {w.hubspot.token}"
        props = request.body["properties"]
        ref = _action(w, "create_task").payload["ref"]
        assert props["hs_task_subject"] == f"Call back {ticket.requester_source_id} [{ref}]"
        assert props["hs_timestamp"] == "2026-11-20T16:00:00.000Z"  # decided at NOW, due in 4 h
        assert (props["hs_task_status"], props["hs_task_priority"], props["hs_task_type"]) == (
            "NOT_STARTED",
            "HIGH",
            "CALL",
        )
        assert f"feedbackloop explain {ref}" in props["hs_task_body"]
        assert request.body["associations"] == [
            {
                "to": {"id": ticket.requester_source_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}],
            },
            {
                "to": {"id": ticket.account_source_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
            },
        ]
        attempt = w.rows(
            "SELECT * FROM ops.action_attempts WHERE action_id = :id",
            id=_action(w, "create_task").id,
        )[0]
        assert (attempt.outcome, attempt.http_status, attempt.response) == (
            "sent",
            201,
            {"id": task["id"]},
        )


def test_tag_adds_to_the_tickets_tags_and_sets_the_crm_tag(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        ticket = _decide_one(w)
        before = list(w.zendesk.ticket(ticket.source_id)["tags"])
        w.dispatch()
        (put,) = [r for r in w.zendesk.writes if r.path.endswith("/tags.json")]
        assert put.path == f"/api/v2/tickets/{ticket.source_id}/tags.json"
        assert put.body == {"tags": ["angry", "billing", "feedback-loop"]}
        after = w.zendesk.ticket(ticket.source_id)["tags"]
        assert after == [*before, "angry", "billing", "feedback-loop"]  # added, none replaced
        assert w.hubspot.contacts == {
            ticket.requester_source_id: {"feedback_loop": "feedback-loop"}
        }
        (patch,) = [r for r in w.hubspot.requests if r.method == "PATCH"]
        assert patch.path == f"/crm/v3/objects/contacts/{ticket.requester_source_id}"
        assert patch.body == {"properties": {"feedback_loop": "feedback-loop"}}


def test_set_priority_updates_the_ticket(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        ticket = _decide_one(w)
        w.dispatch()
        assert w.zendesk.ticket(ticket.source_id)["priority"] == "urgent"
        (put,) = [r for r in w.zendesk.writes if r.body == {"ticket": {"priority": "urgent"}}]
        assert put.path == f"/api/v2/tickets/{ticket.source_id}.json"
        assert _action(w, "set_priority").status == "sent"


def test_delivery_is_recorded_before_the_call_and_after_it(
    engine: Engine, settings: Settings
) -> None:
    seen: list[tuple[str, int, Any]] = []

    def during(action: dict[str, Any]) -> None:
        # The claim is committed before anything is sent: visible from another connection.
        (row,) = w.rows("SELECT status, attempts FROM ops.actions WHERE id = :id", id=action["id"])
        (attempt,) = w.rows(
            "SELECT attempt_no, finished_at FROM ops.action_attempts WHERE action_id = :id",
            id=action["id"],
        )
        seen.append((row.status, attempt.attempt_no, attempt.finished_at))

    with routing_world(engine, settings) as w:
        _decide_one(w)
        report = w.dispatch(DispatchHooks(after_claim=during))
        assert report.sent == 5
        assert seen == [("sending", 1, None)] * 5
        attempts = w.rows("SELECT outcome, finished_at, error FROM ops.action_attempts")
        assert len(attempts) == 5
        assert all(a.outcome == "sent" and a.finished_at and a.error is None for a in attempts)
        assert {a.status for a in w.actions()} == {"sent"}
        assert all(a.model_version == MODEL for a in w.actions())


def test_every_call_is_in_api_usage_and_no_secret_or_address_is_stored(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        _decide_one(w)
        w.dispatch()
        usage = w.rows("SELECT source, endpoint, method, status FROM ops.api_usage ORDER BY id")
        assert sorted((u.source, u.method, u.endpoint, u.status) for u in usage) == [
            ("hubspot", "PATCH", "/crm/v3/objects/contacts/{id}", 200),
            ("hubspot", "POST", "/crm/v3/objects/tasks", 201),
            ("slack", "POST", "incoming-webhook #escalations", 200),
            ("zendesk", "PUT", "/api/v2/tickets/{id}.json", 200),
            ("zendesk", "PUT", "/api/v2/tickets/{id}.json", 200),
            ("zendesk", "PUT", "/api/v2/tickets/{id}/tags.json", 200),
        ]
        stored = json.dumps([list(r) for r in w.rows("SELECT * FROM ops.actions")], default=str)
        stored += json.dumps(
            [list(r) for r in w.rows("SELECT * FROM ops.action_attempts")], default=str
        )
        stored += json.dumps([list(r) for r in usage], default=str)
        for hook in w.slack.hooks.values():
            assert hook.rsplit("/", 1)[1] not in stored  # the webhook secret
        assert w.hubspot.token not in stored and w.zendesk.api_token not in stored
        emails = [c.email for c in w.dataset.contacts]
        assert not [e for e in emails if e.strip().lower() in stored.lower()]


def test_the_decision_is_explained_with_rule_conditions_values_and_model(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        ticket = _decide_one(w)
        action = _action(w, "auto_reply")
        e = action.explanation
        assert e["rule"] == "everything" and e["rules_version"] == rules(ALL).rules_version
        assert e["conditions"] == [
            {
                "field": "sentiment_label",
                "expected": "one of very negative",
                "value": "very_negative",
            }
        ]
        assert e["sentiment"]["model_version"] == MODEL == action.model_version
        assert e["sentiment"]["score"] == -0.9 and e["sentiment"]["frustrated"] is True
        assert e["sentiment"]["explanation"]["signals"][0]["token"] == "cancel"
        assert e["item"]["ticket_id"] == ticket.source_id
        assert e["customer"]["consent_contact"] is True
        assert e["decided_at"] == NOW.isoformat()
