"""`{survey_link}` in a reply template, through the real decide and dispatch: one signed link
per reply, sent to the fake Zendesk, its row tying the ticket, the customer and the action;
without a public base URL, or without consent, no link and the reason recorded."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine
from support.routing import NOW, World, routing_world, rules

from feedbackloop.config import Settings
from feedbackloop.routing import RulesError, decide_pending
from feedbackloop.routing.rules import parse_rules
from feedbackloop.surveys import SurveyLinks, read_token

SURVEY = """
rules:
  - name: survey-after-solved-ticket
    when: {item_type: [ticket], ticket_status: [solved]}
    actions:
      - {type: auto_reply, template: survey}
templates:
  survey:
    survey_scale: "0-10"
    body: "Ticket {ticket_id} is solved. Would you recommend us? {survey_link}\\n\\n{disclosure}"
disclosure: "An automated system read your message. (ref {ref})"
"""
BASE = "https://feedback.example.com"


def _solved(w: World, *, consent: bool = True) -> str:
    ticket = w.ticket(0)
    w.set_contact(ticket.requester_source_id, consent_contact=consent, email_valid=True)
    w.score("ticket", ticket.source_id, label="positive", score=0.6)
    w.set_ticket_status(ticket.source_id, "solved")
    return ticket.source_id


def test_each_reply_gets_its_own_signed_link_tied_to_ticket_customer_and_action(
    engine: Engine, settings: Settings
) -> None:
    with routing_world(engine, settings) as w:
        ticket_id = _solved(w)
        linked = w.settings.model_copy(update={"public_base_url": BASE})
        links = SurveyLinks.from_settings(linked)
        assert links is not None
        report = decide_pending(engine, rules(SURVEY), now=NOW, full=True, links=links)
        assert report.actions == {"pending": 1}
        w.dispatch()
        (action,) = w.actions()
        assert action.status == "sent"
        (comment,) = w.zendesk.added_comments[int(ticket_id)]
        url = re.search(r"https://\S+", comment["body"])
        assert url is not None and url.group(0).startswith(f"{BASE}/feedback?t=")
        token = url.group(0).split("?t=", 1)[1]
        # Nothing in the URL names the ticket, the customer, the action or an address.
        (link,) = w.rows("SELECT * FROM ops.survey_links")
        query = parse_qs(urlsplit(url.group(0)).query)
        assert list(query) == ["t"] and len(token.split(".")) == 3
        for value in (ticket_id, link.contact_source_id, action.idempotency_key, "@"):
            assert value not in url.group(0)
        check = read_token(linked.survey_secret(), token, NOW)
        assert check.rid == link.token
        assert (link.action_id, link.ticket_source_id) == (action.id, ticket_id)
        assert link.contact_source_id is not None and link.rule == "survey-after-solved-ticket"
        assert (link.template, link.rating_scale) == ("survey", "0-10")
        assert link.segment == (w.rows(
            "SELECT coalesce(a.tier, 'unknown') AS tier FROM raw.contacts c "
            "LEFT JOIN raw.accounts a ON a.source_id = c.account_source_id "
            "WHERE c.source_id = :c",
            c=link.contact_source_id,
        )[0].tier)  # fmt: skip
        assert link.opened_at is None and link.answers == 0
        # A rerun decides nothing twice: still one action, one link.
        decide_pending(engine, rules(SURVEY), now=NOW, full=True, links=links)
        assert len(w.rows("SELECT id FROM ops.survey_links")) == 1


@pytest.mark.parametrize(
    ("consent", "links", "reason"),
    [
        (True, False, "FEEDBACKLOOP_PUBLIC_BASE_URL is not set"),
        (False, True, "has not consented to be contacted"),
    ],
)
def test_no_link_without_a_base_url_or_without_consent(
    engine: Engine, settings: Settings, consent: bool, links: bool, reason: str
) -> None:
    with routing_world(engine, settings) as w:
        _solved(w, consent=consent)
        maker = SurveyLinks(BASE, b"k" * 32) if links else None
        report = decide_pending(engine, rules(SURVEY), now=NOW, full=True, links=maker)
        assert report.actions == {"skipped": 1}
        (action,) = w.actions()
        assert reason in action.last_error and "body" not in action.payload
        assert w.rows("SELECT id FROM ops.survey_links") == []


def test_a_survey_link_is_for_customer_replies_only() -> None:
    with pytest.raises(RulesError, match=r"unknown placeholder \{survey_link\}"):
        parse_rules(
            "disclosure: 'Automated (ref {ref})'\nrules:\n  - {name: alert, actions: "
            "[{type: slack_alert, channel: x, text: 'see {survey_link}'}]}\n"
        )
