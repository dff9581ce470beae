"""What no rule can override and what the rules promise: consent, valid email, shadow mode,
the disclosure, fair offers with caps; explanations in plain words; the CLI and the flow."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Engine, text
from support.routing import World, one_of_each, routing_world, rules
from typer.testing import CliRunner

from demo.report import demo_summary, summary_table
from feedbackloop.config import Settings, settings_overridden
from feedbackloop.routing import (
    ExplainError,
    explain_text,
    fairness_report,
    load_rules,
)

CONTACT = """
rules:
  - name: reach-out
    when: {sentiment_label: [very_negative, negative]}
    actions:
      - {type: auto_reply, template: sorry}
      - {type: create_task, subject: "Call the customer", contacts_customer: true}
      - {type: slack_alert, channel: escalations}
templates:
  sorry: {body: "Sorry about ticket {ticket_id}.\\n\\n{disclosure}"}
"""


def _negative(w: World, n: int = 0, **contact: Any) -> Any:
    ticket = w.ticket(n)
    w.set_contact(ticket.requester_source_id, **contact)
    w.score("ticket", ticket.source_id, label="negative", score=-0.6)
    return ticket


def _by_type(w: World) -> dict[str, Any]:
    return {a.action_type: a for a in w.actions()}


def test_an_invalid_email_means_no_auto_reply(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        ticket = _negative(w, consent_contact=True, email_valid=False)
        report = w.decide(rules(CONTACT))
        assert report.actions == {"skipped": 2, "pending": 1}
        actions = _by_type(w)
        for kind in ("auto_reply", "create_task"):
            assert actions[kind].status == "skipped"
            assert actions[kind].last_error == (
                "the customer's email address is not valid (invalid domain)"
            )
        w.dispatch()
        assert int(ticket.source_id) not in w.zendesk.added_comments
        assert w.hubspot.tasks == [] and not w.zendesk.writes
        assert len(w.slack.posted("escalations")) == 1  # internal alerts still go out


def test_no_consent_means_no_contact(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        ticket = _negative(w, consent_contact=False, email_valid=True)
        w.decide(rules(CONTACT))
        actions = _by_type(w)
        assert actions["auto_reply"].status == "skipped"
        assert actions["auto_reply"].last_error == "the customer has not consented to be contacted"
        assert actions["create_task"].status == "skipped"
        w.dispatch()
        assert int(ticket.source_id) not in w.zendesk.added_comments and not w.hubspot.tasks
        # With consent, the same rules contact the customer.
        other = _negative(w, 1, consent_contact=True, email_valid=True)
        w.decide(rules(CONTACT))
        w.dispatch()
        assert len(w.zendesk.added_comments[int(other.source_id)]) == 1
        assert len(w.hubspot.tasks) == 1


def test_a_no_from_any_merged_duplicate_wins(engine: Engine, settings: Settings) -> None:
    """The most restrictive consent across merged contacts, as in int_contacts_resolved."""
    with routing_world(engine, settings) as w:
        ticket = _negative(w, consent_contact=True, email_valid=True)
        params = {"acc": ticket.account_source_id, "canonical": ticket.requester_source_id}
        with engine.begin() as conn:
            for sql in (
                "INSERT INTO raw.contacts (source, source_id, updated_at, email_valid, "
                "account_source_id) VALUES ('crm', 'crm-dup-1', now(), true, :acc)",
                "INSERT INTO ops.contact_merges (contact_source, contact_source_id, "
                "merged_into_source_id, rule, merged_by) "
                "VALUES ('crm', 'crm-dup-1', :canonical, 'same_email_hash', 'test')",
                "INSERT INTO ops.consent (contact_source, contact_source_id, purpose, granted, "
                "recorded_by) VALUES ('crm', 'crm-dup-1', 'contact', false, 'test')",
            ):
                conn.execute(text(sql), params)
        w.decide(rules(CONTACT))
        reply = _by_type(w)["auto_reply"]
        assert reply.status == "skipped"
        assert reply.explanation["customer"]["consent_contact"] is False
        w.dispatch()
        assert int(ticket.source_id) not in w.zendesk.added_comments


def test_an_erased_customer_is_never_contacted(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        ticket = _negative(w, consent_contact=True, email_valid=True)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE raw.contacts SET erased_at = now() WHERE source_id = :id"),
                {"id": ticket.requester_source_id},
            )
        w.decide(rules(CONTACT))
        assert _by_type(w)["auto_reply"].last_error == "the customer's data was erased"


def test_a_closed_ticket_is_not_updated(engine: Engine, settings: Settings) -> None:
    zendesk_rules = one_of_each("auto_reply", "set_priority", "tag", label="negative")
    with routing_world(engine, settings) as w:
        closed = _negative(w, 0, consent_contact=True, email_valid=True)
        w.set_ticket_status(closed.source_id, "closed")
        w.decide(zendesk_rules)
        actions = _by_type(w)
        assert actions["auto_reply"].status == "skipped"
        assert actions["auto_reply"].last_error == (
            "the Zendesk ticket is closed (Zendesk refuses updates to closed tickets): no reply"
        )
        assert actions["set_priority"].status == "skipped"
        # The CRM tag still applies; the closed ticket keeps its tags.
        assert actions["tag"].status == "pending" and actions["tag"].payload["ticket_id"] is None
        w.dispatch()
        assert not w.zendesk.writes and len(w.hubspot.contacts) == 1

        # Closed after it was collected: Zendesk refuses, the action fails and the owners hear.
        stale = _negative(w, 1, consent_contact=True, email_valid=True)
        w.decide(zendesk_rules)
        w.zendesk.update_ticket(stale.source_id, status="closed")
        report = w.dispatch()
        assert report.failed == 3 and report.alerts == 3  # the reply, the priority, the tags
        failed = [a for a in w.actions() if a.status == "failed"]
        assert {a.last_error for a in failed} == {
            "HTTP 422: RecordInvalid: Record validation errors"
        }
        assert stale.source_id not in {str(k) for k in w.zendesk.added_comments}


def test_shadow_mode_decides_and_records_but_sends_nothing(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        _negative(w, consent_contact=True, email_valid=True)
        report = w.decide(
            rules(CONTACT.replace("name: reach-out", "name: reach-out\n    shadow: true"))
        )
        assert report.actions == {"shadow": 3}
        dispatched = w.dispatch()
        assert dispatched.processed == 0
        assert not w.zendesk.writes and not w.hubspot.requests and not w.slack.requests
        reply = _by_type(w)["auto_reply"]
        assert reply.explanation["shadow"] is True
        assert reply.payload["body"].endswith(f"(ref {reply.payload['ref']})")  # what it would say
        assert "Shadow mode" in explain_text(engine, str(reply.id))


def test_every_auto_reply_carries_the_disclosure(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        tickets = [_negative(w, n, consent_contact=True, email_valid=True) for n in range(4)]
        w.decide(rules(CONTACT))
        w.dispatch()
        comments = [c for t in tickets for c in w.zendesk.added_comments[int(t.source_id)]]
        assert len(comments) == 4
        refs = {a.payload["ref"] for a in w.actions() if a.action_type == "auto_reply"}
        for comment in comments:
            assert (
                "This reply was written by an automated system that read your message."
                in (comment["body"])
            )
            assert comment["body"].rsplit("(ref ", 1)[1].rstrip(")") in refs


OFFERS = """
offers:
  survey:
    kind: survey
    segment_by: [customer_tier]
    cap: {per_customer: 1, window_days: 30}
    variants:
      - {id: short, template: short}
      - {id: call, template: call}
      - {id: email, template: email}
templates:
  short: {body: "Two minutes? {disclosure}"}
  call: {body: "A call? {disclosure}"}
  email: {body: "An email? {disclosure}"}
rules:
  - name: happy
    when: {sentiment_label: [very_positive]}
    actions: [{type: auto_reply, offer: survey}]
"""


def test_offers_rotate_within_each_segment_with_a_cap_per_customer(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings, tickets=160, seed=11) as w:
        customers: set[str] = set()
        repeated: list[Any] = []
        for t in w.dataset.tickets:
            if t.requester_source_id in customers:
                repeated.append(t)
                continue
            customers.add(t.requester_source_id)
            w.set_contact(t.requester_source_id, consent_contact=True, email_valid=True)
            w.score("ticket", t.source_id, label="very_positive", score=0.9)
        assert len(customers) >= 20 and repeated
        report = w.decide(rules(OFFERS))
        offered = [a for a in w.actions() if a.status == "pending"]
        by_segment: dict[str, Counter[str]] = {}
        for a in offered:
            offer = a.explanation["offer"]
            by_segment.setdefault(offer["segment"], Counter())[offer["variant"]] += 1
        assert len(by_segment) >= 2
        for segment, counts in by_segment.items():
            n = sum(counts.values())
            # Rotation: within each segment every variant is used in turn.
            assert (
                max(counts.values()) - min(counts.get(v, 0) for v in ("short", "call", "email"))
                <= 1
            ), (
                segment,
                counts,
            )
            assert n < 3 or len(counts) == 3

        # A second happy ticket from a customer already offered: capped, recorded as skipped.
        second = repeated[0]
        w.score("ticket", second.source_id, label="very_positive", score=0.95)
        capped = w.decide(rules(OFFERS))
        assert capped.actions == {"skipped": 1}
        (skip,) = [a for a in w.actions() if a.item_source_id == second.source_id]
        assert skip.last_error == (
            "offer cap reached: at most 1 survey offer(s) per customer in 30 days"
        )
        assert skip.explanation["offer"]["variant"] is None

        fairness = fairness_report(engine, rules(OFFERS))
        assert fairness.flags == []
        rows = {(r.segment, r.variant): r for r in fairness.rows}
        for segment, counts in by_segment.items():
            for variant, n in counts.items():
                assert rows[(segment, variant)].offered == n
        assert sum(r.capped for r in fairness.rows) == 1
        assert report.decided == len(offered)


def test_the_fairness_report_flags_a_segment_that_always_got_one_variant(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings, tickets=160, seed=11) as w:
        one_variant = OFFERS.replace("      - {id: call, template: call}\n", "").replace(
            "      - {id: email, template: email}\n", ""
        )
        seen: set[str] = set()
        for t in w.dataset.tickets:
            if t.requester_source_id not in seen:
                seen.add(t.requester_source_id)
                w.set_contact(t.requester_source_id, consent_contact=True, email_valid=True)
                w.score("ticket", t.source_id, label="very_positive", score=0.9)
        w.decide(rules(one_variant))
        assert (
            fairness_report(engine, rules(one_variant)).flags == []
        )  # one variant: nothing to rotate
        flags = fairness_report(engine, rules(OFFERS)).flags  # variants added since
        assert flags and all("all" in f and "variant short" in f for f in flags)


def test_explain_says_why_in_plain_words(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        ticket = _negative(w, consent_contact=True, email_valid=False)
        w.decide(rules(CONTACT))
        w.dispatch()
        actions = _by_type(w)
        reply = actions["auto_reply"]
        text_ = explain_text(engine, str(reply.id))
        assert f"Action #{reply.id} ({reply.payload['ref']})" in text_
        assert f"post a public reply on Zendesk ticket {ticket.source_id}" not in text_  # skipped
        assert "not sent: the customer's email address is not valid (invalid domain)" in text_
        assert 'rule "reach-out" matched ticket zendesk:' + ticket.source_id in text_
        assert "the sentiment was negative (the rule asks for one of very negative, negative)" in (
            text_
        )
        assert "model test-model-v1" in text_ and "score -0.60" in text_
        assert "words that pulled it down: 'cancel'" in text_
        assert "email address NOT valid" in text_
        # The same by reference, and the whole item.
        assert explain_text(engine, reply.payload["ref"]) == text_
        item = explain_text(engine, f"ticket:zendesk:{ticket.source_id}")
        assert item.startswith(f"ticket zendesk:{ticket.source_id}: 3 actions")
        alert = explain_text(engine, f"#{actions['slack_alert'].id}")
        assert "post an alert to Slack #escalations" in alert and "Status: sent" in alert
        assert explain_text(engine, f"zendesk:{ticket.source_id}") == item
        with pytest.raises(ExplainError, match="no routing action"):
            explain_text(engine, "999999")
        with pytest.raises(ExplainError, match="cannot read"):
            explain_text(engine, "what?")


def test_no_personal_data_reaches_the_outbox_or_the_targets(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings, tickets=200, seed=5) as w:
        with_pii = [t for t in w.dataset.tickets if t.pii_values][:8]
        assert with_pii
        for t in with_pii:
            w.set_contact(t.requester_source_id, consent_contact=True, email_valid=True)
            w.score("ticket", t.source_id, label="negative", score=-0.7)
        w.decide(
            rules(
                CONTACT.replace(
                    '"Sorry about ticket {ticket_id}.',
                    '"You wrote: {excerpt}.',
                ).replace('subject: "Call the customer"', 'subject: "Call: {excerpt}"')
            )
        )
        w.dispatch()
        stored = json.dumps([list(r) for r in w.rows("SELECT * FROM ops.actions")], default=str)
        sent = json.dumps(
            [r.body for f in (w.zendesk.writes, w.hubspot.requests, w.slack.requests) for r in f]
        )
        assert "You wrote:" in sent and "Call:" in sent
        for _kind, value in {v for t in with_pii for v in t.pii_values}:
            assert value not in stored and value not in sent, value


def test_demo_summary_counts_actions_by_type_and_rule(engine: Engine, settings: Settings) -> None:
    with routing_world(engine, settings) as w:
        _negative(w, 0, consent_contact=True, email_valid=True)
        _negative(w, 1, consent_contact=False, email_valid=True)
        w.decide(rules(CONTACT))
        w.dispatch()
        summary = demo_summary(engine)
        assert summary.total == 6
        assert summary.by_type["auto_reply"] == {"sent": 1, "skipped": 1}
        assert summary.by_type["slack_alert"] == {"sent": 2}
        assert summary.by_rule[("reach-out", "create_task")] == {"sent": 1, "skipped": 1}
        example = summary.example_action_id
        assert example is not None
        console = Console(record=True, width=200)
        console.print(summary_table(summary))
        table = console.export_text()
        assert "Route: 6 actions decided" in table
        assert re.search(
            r"reach-out\s+│\s+auto_reply\s+│\s+1\s+│\s+0\s+│\s+0\s+│\s+0\s+│\s+1", table
        )
        assert next(a for a in w.actions() if a.id == example).action_type == "auto_reply"


# ------------------------------------------------------------------------- CLI and flow


def test_routing_check_names_the_rule_and_field_and_exits_2(tmp_path: Path) -> None:
    from feedbackloop.cli.routing import app

    bad = tmp_path / "routing.yml"
    bad.write_text(
        "disclosure: 'Automated (ref {ref})'\nrules:\n"
        "  - {name: angry, when: {tier: [enterprise]}, actions: [{type: tag}]}\n"
    )
    result = CliRunner().invoke(app, ["check", str(bad)])
    assert result.exit_code == 2
    assert 'rule "angry", field when.tier: unknown field' in result.output
    good = CliRunner().invoke(app, ["check"])  # the shipped file
    assert good.exit_code == 0, good.output
    shipped = load_rules(Settings().routing_rules_path)
    # the table's title wraps where the checkout's path is long: compare words, not lines
    assert f"{len(shipped.rules)} rules (version {shipped.rules_version})" in " ".join(
        good.output.split()
    )
    missing_targets = CliRunner().invoke(app, ["check", "--targets"])
    assert missing_targets.exit_code == 2
    assert "FEEDBACKLOOP_SLACK_WEBHOOK_URLS" in missing_targets.output


def test_the_route_actions_flow_decides_and_dispatches(
    engine: Engine,
    settings: Settings,
    prefect_harness: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from feedbackloop.cli.routing import app, explain

    with routing_world(engine, settings) as w:
        ticket = _negative(w, consent_contact=True, email_valid=True)
        path = tmp_path / "routing.yml"
        path.write_text(
            "max_item_age_days: 100000\n"  # the flow decides at the real now
            + "disclosure: 'An automated system read your message. (ref {ref})'\n"
            + CONTACT
        )
        overrides = {
            "state_dir": str(w.settings.state_dir),
            "embedded_database": w.settings.embedded_database,
            "zendesk_base_url": w.zendesk.base_url,
            "zendesk_email": w.zendesk.email,
            "zendesk_api_token": w.zendesk.api_token,
            "slack_webhook_urls": json.dumps(w.slack.urls),
            "hubspot_base_url": w.hubspot.base_url,
            "hubspot_token": w.hubspot.token,
            "routing_rules_path": str(path),
        }
        from flows.route import route_actions

        with settings_overridden(overrides):
            report = route_actions()
            again = route_actions()
            reply = next(a for a in w.actions() if a.action_type == "auto_reply")
            explain(str(reply.id))
            dispatched = CliRunner().invoke(app, ["dispatch"])
            fairness = CliRunner().invoke(app, ["fairness"])
        assert report.decided.actions == {"pending": 3}
        assert report.dispatched is not None and report.dispatched.sent == 3
        assert again.decided.decided == 0 and again.dispatched.processed == 0
        assert len(w.zendesk.added_comments[int(ticket.source_id)]) == 1
        assert reply.explanation["decided_by"] == "routing (decide pending)"
        assert f"Action #{reply.id}" in capsys.readouterr().out
        assert dispatched.exit_code == 0 and "owner alerts" in dispatched.output
        assert fairness.exit_code == 0 and "no offers decided yet" in fairness.output
