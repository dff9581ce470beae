"""Routing rules: the shipped file loads, every invalid file fails naming the rule and the
field, and evaluation (first/all, conditions, unknown values) is what the file says."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedbackloop.config import ConfigError, Settings
from feedbackloop.routing.rules import (
    AutoReply,
    ItemFacts,
    RulesError,
    evaluate,
    excerpt,
    load_rules,
    parse_rules,
    render,
)
from nlp.pii import find_pii

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config" / "routing.yml"
HEAD = "disclosure: 'An automated system read your message. (ref {ref})'\n"


def _facts(**values: object) -> ItemFacts:
    base: dict[str, object] = {
        "item_type": "ticket",
        "item_source": "zendesk",
        "item_source_id": "101",
        "label": "very_negative",
        "score": -0.8,
        "frustrated": True,
        "tier": "enterprise",
        "arr": 120_000.0,
        "language": "de",
        "channel": "zendesk_email",
        "topic": "billing",
        "consent_contact": True,
        "email_valid": True,
        "contact_id": "crm-1",
        "customer_id": "crm-1",
        "repeat_contacts": {30: 3},
    }
    return ItemFacts(**(base | values))  # type: ignore[arg-type]


def test_the_shipped_rules_file_is_valid_and_is_the_default_path() -> None:
    assert Settings().routing_rules_path == SAMPLE
    rules = load_rules(SAMPLE)
    assert len(rules.rules) >= 5
    kinds = {a.type for r in rules.rules for a in r.actions}
    assert kinds == {"slack_alert", "auto_reply", "create_task", "tag", "set_priority"}
    assert {o.kind for o in rules.offers.values()} == {"upsell", "discount", "survey"}
    assert any(r.shadow for r in rules.rules) and any(r.match == "first" for r in rules.rules)
    for template in rules.templates.values():
        bodies = template.body.values() if isinstance(template.body, dict) else [template.body]
        assert all("{disclosure}" in b for b in bodies)
    assert len(rules.rules_version) == 12


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "rules:\n  - name: angry\n    when: {sentiment_lable: [negative]}\n"
            "    actions: [{type: slack_alert, channel: x}]\n",
            'rule "angry", field when.sentiment_lable: unknown field',
        ),
        (
            "rules:\n  - name: angry\n    when: {sentiment_label: [furious]}\n"
            "    actions: [{type: slack_alert, channel: x}]\n",
            'rule "angry", field when.sentiment_label[0]: Input should be',
        ),
        (
            "rules:\n  - name: angry\n    when: {sentiment_score: {}}\n"
            "    actions: [{type: slack_alert, channel: x}]\n",
            'rule "angry", field when.sentiment_score: give at least one of lt, lte, gt, gte',
        ),
        (
            "rules:\n  - name: angry\n    when: {repeat_contacts: {days: 0, gte: 2}}\n"
            "    actions: [{type: slack_alert, channel: x}]\n",
            'rule "angry", field when.repeat_contacts.days',
        ),
        (
            "rules:\n  - name: urgent\n    actions: [{type: set_priority, priority: asap}]\n",
            'rule "urgent", field actions[0].priority',
        ),
        (
            "rules:\n  - name: odd\n    actions: [{type: send_fax}]\n",
            'rule "odd", field actions[0]',
        ),
        (
            "rules:\n  - name: two\n    actions: [{type: slack_alert, channel: a}, "
            "{type: slack_alert, channel: b}]\n",
            "rule \"two\", field actions: two actions named 'slack_alert'",
        ),
        (
            "rules:\n  - name: r\n    actions: [{type: auto_reply}]\n",
            'rule "r", field actions[0]: give exactly one of template or offer',
        ),
        (
            "rules:\n  - name: r\n    actions: [{type: auto_reply, template: nope}]\n",
            'rule "r", field actions[0].template: unknown template',
        ),
        (
            "rules:\n  - name: r\n    actions: [{type: auto_reply, offer: nope}]\n",
            'rule "r", field actions[0].offer: unknown offer',
        ),
        (
            "rules:\n  - name: r\n    actions: [{type: tag, tags: [Has Space]}]\n",
            'rule "r", field actions[0].tags[0]',
        ),
        (
            "rules:\n  - name: r\n    actions: [{type: create_task, subject: 'Hi {name}'}]\n",
            'rule "r", field actions[0].subject: unknown placeholder {name}',
        ),
        (
            "rules:\n  - name: r\n    actions: [{type: slack_alert, channel: c, "
            "text: '{disclosure}'}]\n",
            'rule "r", field actions[0].text: unknown placeholder {disclosure}',
        ),
        (
            "rules:\n  - {name: r, actions: [{type: slack_alert, channel: c}]}\n"
            "  - {name: r, actions: [{type: slack_alert, channel: c}]}\n",
            'rule "r", field name: used by two rules',
        ),
        (
            "rules:\n  - {name: Bad Name, actions: [{type: slack_alert, channel: c}]}\n",
            'rule "Bad Name", field name',
        ),
        (
            "rules:\n  - {name: r, match: some, actions: [{type: slack_alert, channel: c}]}\n",
            'rule "r", field match',
        ),
        (
            "rules:\n  - name: r\n    actions: []\n",
            'rule "r", field actions: List should have at least 1 item',
        ),
        (
            "templates:\n  sorry: {body: 'Sorry about {ticket_id}.'}\n"
            "rules:\n  - {name: r, actions: [{type: auto_reply, template: sorry}]}\n",
            'template "sorry", field body must contain {disclosure}',
        ),
        (
            "templates:\n  sorry:\n    body: {en: 'Sorry. {disclosure}', de: 'Entschuldigung.'}\n"
            "rules:\n  - {name: r, actions: [{type: auto_reply, template: sorry}]}\n",
            'template "sorry", field body (de) must contain {disclosure}',
        ),
        (
            "templates:\n  sorry:\n    body: {de: 'Entschuldigung. {disclosure}'}\n"
            "rules:\n  - {name: r, actions: [{type: auto_reply, template: sorry}]}\n",
            "no text in the default language 'en'",
        ),
        (
            "offers:\n  survey:\n    kind: survey\n    variants: [{id: a, template: missing}]\n"
            "rules:\n  - {name: r, actions: [{type: auto_reply, offer: survey}]}\n",
            'offer "survey", field variants[0].template: unknown template',
        ),
        (
            "offers:\n  survey: {kind: raffle, variants: []}\n"
            "rules:\n  - {name: r, actions: [{type: slack_alert, channel: c}]}\n",
            'offer "survey", field kind',
        ),
        ("rules: [\n", "not valid YAML at line"),
        ("- just\n- a list\n", "expected a mapping"),
        (
            "version: 2\nrules:\n  - {name: r, actions: [{type: slack_alert, channel: c}]}\n",
            "version",
        ),
    ],
)
def test_an_invalid_rules_file_names_the_rule_and_the_field(body: str, message: str) -> None:
    text = body if body.startswith(("rules: [", "- just")) else HEAD + body
    with pytest.raises(RulesError) as err:
        parse_rules(text, source="routing.yml")
    assert message in str(err.value)
    assert str(err.value).startswith("routing.yml")
    assert "\n" not in str(err.value)  # one line: the CLI prints it as is


@pytest.mark.parametrize(
    ("disclosure", "message"),
    [
        ("'An automated system read your message.'", "disclosure must contain {ref}"),
        ("'   '", "disclosure is empty"),
        ("{de: 'Automatisch gelesen. {ref}'}", "no text in the default language 'en'"),
        ("'Automated. {ref} {ticket_id}'", "disclosure: unknown placeholder {ticket_id}"),
    ],
)
def test_the_disclosure_cannot_be_dropped_or_emptied(disclosure: str, message: str) -> None:
    text = f"disclosure: {disclosure}\nrules:\n  - {{name: r, actions: [{{type: tag}}]}}\n"
    with pytest.raises(RulesError, match="disclosure") as err:
        parse_rules(text)
    assert message in str(err.value)


def test_a_missing_rules_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="FEEDBACKLOOP_ROUTING_RULES_PATH"):
        load_rules(tmp_path / "nope.yml")
    # A rules error is a configuration error: the CLI prints one line and exits 2.
    assert issubclass(RulesError, ConfigError)


RULES = (
    HEAD
    + """
rules:
  - name: escalate
    match: first
    when:
      sentiment_label: [very_negative, negative]
      frustrated: true
      customer_tier: enterprise
    actions: [{type: slack_alert, channel: escalations}]
  - name: apology
    when: {sentiment_score: {lte: -0.5}}
    actions: [{type: set_priority, priority: high}]
  - name: german
    when: {language: [de], arr: {gte: 100000, lt: 200000}, topic: [billing]}
    actions: [{type: tag, tags: [de]}]
  - name: repeat
    when: {repeat_contacts: {days: 30, gte: 3}, consent_contact: true, email_valid: true}
    actions: [{type: tag, id: repeat-tag}]
"""
)


def test_a_first_rule_that_matches_stops_the_evaluation() -> None:
    rules = parse_rules(RULES)
    matches = evaluate(rules, _facts())
    assert [m.rule.name for m in matches] == ["escalate"]
    # Not frustrated: "escalate" does not match, and every later rule is evaluated ("all").
    matches = evaluate(rules, _facts(frustrated=False))
    assert [m.rule.name for m in matches] == ["apology", "german", "repeat"]


def test_matched_conditions_carry_the_values_that_matched() -> None:
    rules = parse_rules(RULES)
    (escalate,) = evaluate(rules, _facts())
    assert [c.as_dict() for c in escalate.conditions] == [
        {
            "field": "sentiment_label",
            "expected": "one of very negative, negative",
            "value": "very_negative",
        },
        {"field": "frustrated", "expected": "yes", "value": True},
        {"field": "customer_tier", "expected": "one of enterprise", "value": "enterprise"},
    ]
    german = evaluate(rules, _facts(frustrated=False))[1]
    assert {c.field: c.expected for c in german.conditions} == {
        "topic": "one of billing",
        "arr": "at least 100000 and below 200000",
        "language": "one of de",
    }


@pytest.mark.parametrize(
    ("change", "unmatched"),
    [
        ({"score": -0.49}, "apology"),
        ({"arr": 200_000.0}, "german"),
        ({"language": "de-AT"}, None),  # a regional variant is still German
        ({"language": "en"}, "german"),
        ({"language": None}, "german"),  # unknown never matches
        ({"topic": None}, "german"),
        ({"repeat_contacts": {30: 2}}, "repeat"),
        ({"repeat_contacts": {}}, "repeat"),
        ({"consent_contact": False}, "repeat"),
        ({"email_valid": None}, "repeat"),  # no contact record: not "valid"
    ],
)
def test_each_condition_and_unknown_values(
    change: dict[str, object], unmatched: str | None
) -> None:
    rules = parse_rules(RULES)
    names = {m.rule.name for m in evaluate(rules, _facts(frustrated=False, **change))}
    expected = {"apology", "german", "repeat"} - {unmatched}
    assert names == expected


def test_an_unknown_tier_never_matches_a_tier_condition() -> None:
    rules = parse_rules(RULES)
    names = [m.rule.name for m in evaluate(rules, _facts(tier=None))]
    assert names == ["apology", "german", "repeat"]


def test_localized_templates_fall_back_to_the_default_language() -> None:
    rules = parse_rules(
        "disclosure: {en: 'Automated (ref {ref})', de: 'Automatisch (Ref. {ref})'}\n"
        "templates:\n  t:\n"
        "    body: {en: 'Sorry. {disclosure}', de: 'Entschuldigung. {disclosure}'}\n"
        "rules:\n  - {name: r, actions: [{type: auto_reply, template: t}]}\n"
    )
    action = rules.rules[0].actions[0]
    assert isinstance(action, AutoReply)
    body = rules.templates["t"].body
    for language, expected in (
        ("de", "Entschuldigung. Automatisch (Ref. fl-1)"),
        ("de-CH", "Entschuldigung. Automatisch (Ref. fl-1)"),
        ("fr", "Sorry. Automated (ref fl-1)"),
        (None, "Sorry. Automated (ref fl-1)"),
    ):
        disclosure = render(rules.localized(rules.disclosure, language), {"ref": "fl-1"})
        assert render(rules.localized(body, language), {"disclosure": disclosure}) == expected


def test_the_excerpt_never_carries_personal_data() -> None:
    raw = "Call me on +1 415 555 0100 or mail jane.doe@example.com, card 4111 1111 1111 1111"
    out = excerpt(raw)
    assert find_pii(out) == []
    assert "jane.doe@example.com" not in out and "4111" not in out
    assert len(excerpt("word " * 200)) <= 280
