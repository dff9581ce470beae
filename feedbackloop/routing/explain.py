"""`feedbackloop explain ITEM_OR_ACTION_ID`: why an action was decided, in plain words.

Everything comes from the action's stored explanation (written with the decision) and its
delivery attempts, so the answer is what the system knew when it decided, even after the rules
or the model changed.

Accepted targets: an action id (`42`, `#42`), an action reference (`fl-3a9c1d2e4b`, printed in
replies, task subjects and alerts), an item as `ticket:zendesk:12345`, or `zendesk:12345`
(every item type with that source and id), or `ticket:12345`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, text

from feedbackloop.routing.rules import ITEM_TYPES

__all__ = ["ExplainError", "explain_action", "explain_text", "find_actions"]

_FIELDS = {
    "sentiment_label": "the sentiment",
    "sentiment_score": "the sentiment score",
    "frustrated": "frustration detected",
    "topic": "the topic",
    "channel": "the channel",
    "source": "the source",
    "item_type": "the kind of item",
    "customer_tier": "the customer's tier",
    "arr": "the account's ARR",
    "language": "the language",
    "consent_contact": "consent to be contacted",
    "consent_improvement": "consent to use the feedback for improvement",
    "email_valid": "a valid email address",
    "repeat_contacts": "contacts from this customer",
    "ticket_status": "the ticket's status",
    "milestone": "the usage milestone",
}
_RULE_WORDS = {
    "exclamation": "exclamation marks",
    "question_marks": "several question marks",
    "all_caps": "shouting (all caps)",
    "contrast": "a 'but' that shifts the weight to what follows",
    "question": "a question (damped)",
    "howto_question": "a how-to question (damped)",
    "frustration": "frustration",
    "truncated": "a very long text (only the start was read)",
    "non_english": "a language other than English",
}


class ExplainError(ValueError):
    """The target names no action or item."""


_COLUMNS = """
    a.id, a.idempotency_key, a.item_type, a.item_source, a.item_source_id, a.rule,
    a.action_type, a.target, a.payload, a.explanation, a.model_version, a.status, a.attempts,
    a.last_error, a.created_at, a.sent_at
"""


def find_actions(engine: Engine, target: str) -> list[Mapping[str, Any]]:
    target = target.strip()
    where: str
    params: dict[str, Any]
    if re.fullmatch(r"#?\d+", target):
        where, params = "a.id = :id", {"id": int(target.lstrip("#"))}
    elif re.fullmatch(r"fl-[0-9a-f]{10}", target):
        where, params = "a.payload->>'ref' = :ref", {"ref": target}
    else:
        parts = target.split(":")
        if len(parts) == 3 and parts[0] in ITEM_TYPES:
            where = "a.item_type = :t AND a.item_source = :s AND a.item_source_id = :i"
            params = {"t": parts[0], "s": parts[1], "i": parts[2]}
        elif len(parts) == 2 and parts[0] in ITEM_TYPES:
            where, params = (
                "a.item_type = :t AND a.item_source_id = :i",
                {
                    "t": parts[0],
                    "i": parts[1],
                },
            )
        elif len(parts) == 2 and all(parts):
            where, params = (
                "a.item_source = :s AND a.item_source_id = :i",
                {
                    "s": parts[0],
                    "i": parts[1],
                },
            )
        else:
            raise ExplainError(
                f"cannot read {target!r}: give an action id (42), a reference (fl-...), or an "
                "item (ticket:zendesk:12345, zendesk:12345)"
            )
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {_COLUMNS} FROM ops.actions a WHERE {where} ORDER BY a.id"), params
        ).all()
        out = []
        for row in rows:
            attempts = conn.execute(
                text(
                    "SELECT attempt_no, started_at, finished_at, outcome, http_status, error "
                    "FROM ops.action_attempts WHERE action_id = :id ORDER BY attempt_no"
                ),
                {"id": row.id},
            ).all()
            out.append({**row._asdict(), "attempt_rows": [a._asdict() for a in attempts]})
    return out


def _words(value: str) -> str:
    return str(value).replace("_", " ")


def _fmt_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "sentiment_label":
        return _words(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _what(action: Mapping[str, Any]) -> str:
    p = action["payload"] or {}
    kind = action["action_type"]
    if kind == "slack_alert":
        return f"post an alert to Slack #{p.get('channel')}"
    if kind == "auto_reply":
        where = f"Zendesk ticket {p['ticket_id']}" if p.get("ticket_id") else "the ticket"
        how = f" from template {p['template']!r}" if p.get("template") else ""
        lang = f" in {p['language']}" if p.get("language") else ""
        return f"post a public reply on {where}{how}{lang}"
    if kind == "create_task":
        props = p.get("properties") or {}
        return (
            f"create a HubSpot task {props.get('hs_task_subject', '')!r} "
            f"(priority {props.get('hs_task_priority')}, due {props.get('hs_timestamp')})"
        )
    if kind == "tag":
        parts = []
        if p.get("ticket_id"):
            parts.append(f"tag Zendesk ticket {p['ticket_id']} with {', '.join(p.get('tags', []))}")
        if p.get("crm_contact_id"):
            parts.append(
                f"set CRM contact {p['crm_contact_id']}'s {p.get('crm_property')} to "
                f"{p.get('crm_value')!r}"
            )
        return " and ".join(parts) or "tag the item"
    if kind == "set_priority":
        return f"set Zendesk ticket {p.get('ticket_id')}'s priority to {p.get('priority')}"
    return kind


def _status(action: Mapping[str, Any]) -> str:
    status = action["status"]
    n = action["attempts"]
    tries = f"{n} attempt{'s' if n != 1 else ''}"
    if status == "sent":
        when = f" at {action['sent_at']:%Y-%m-%d %H:%M UTC}" if action.get("sent_at") else ""
        return f"sent{when} after {tries}"
    if status == "pending":
        return "waiting to be sent" + (f" (retrying: {action['last_error']})" if n else "")
    if status == "sending":
        return "being sent (if its dispatcher stopped, the next run checks the target first)"
    if status == "failed":
        return f"FAILED after {tries}: {action['last_error']}"
    if status == "shadow":
        return "decided in shadow mode: recorded, not sent"
    if status == "skipped":
        return f"not sent: {action['last_error']}"
    return status


def token_notes(signal: Mapping[str, Any]) -> list[str]:
    """What changed a word signal's weight, in words (the explanation page and the dashboard)."""
    notes = []
    if signal.get("negated_by"):
        notes.append(f"negated by {signal['negated_by']!r}")
    if signal.get("sarcasm"):
        notes.append("read as sarcasm")
    if signal.get("caps"):
        notes.append("in capitals")
    return notes


def _signals(sentiment: Mapping[str, Any]) -> list[str]:
    expl = sentiment.get("explanation") or {}
    signals = expl.get("signals") or []
    down, up, other = [], [], []
    for s in signals:
        if not isinstance(s, Mapping):
            continue
        weight = float(s.get("weight") or 0.0)
        if "token" in s:
            extra = token_notes(s)
            note = f", {', '.join(extra)}" if extra else ""
            (down if weight < 0 else up).append(f"{s['token']!r} ({weight:+.2f}{note})")
        elif "rule" in s:
            name = _RULE_WORDS.get(str(s["rule"]), _words(s["rule"]))
            if s.get("evidence"):
                name += f" (evidence: {', '.join(_words(e) for e in s['evidence'])})"
            if s.get("note"):
                name += f" ({s['note']})"
            if weight:
                name += f" {weight:+.2f}"
            other.append(name)
    lines = []
    if down:
        lines.append("words that pulled it down: " + ", ".join(down))
    if up:
        lines.append("words that lifted it: " + ", ".join(up))
    if other:
        lines.append("other signals: " + "; ".join(other))
    if not lines:
        reason = expl.get("reason")
        lines.append(
            "no word carried sentiment" if reason in (None, "no_sentiment_evidence") else reason
        )
    return lines


def milestone_words(milestone: Mapping[str, Any]) -> str:
    """Why a milestone item exists, in words: what was counted for whom, and when."""
    d = milestone.get("definition") or {}
    evidence = milestone.get("evidence") or {}
    who = "user" if milestone.get("per") == "user" else "account"
    if d.get("trait"):
        what = f"{d.get('days_after')} days passed since the {who}'s `{d['trait']}` trait"
    else:
        where = ", ".join(f"{k} = {v}" for k, v in (d.get("where") or {}).items())
        what = (
            f"the {who}'s {evidence.get('events', d.get('count', 1))} "
            f"`{d.get('event')}` event(s)" + (f" with {where}" if where else "") + " were counted"
        )
    return (
        f'Usage milestone "{milestone.get("name")}": {what}; reached {milestone.get("reached_at")} '
        f"by {who} {milestone.get('subject_id')} (counted once per {who}, ever)."
    )


def explain_action(action: Mapping[str, Any]) -> str:
    e = action["explanation"] or {}
    item = e.get("item") or {}
    sentiment = e.get("sentiment") or {}
    customer = e.get("customer") or {}
    ref = (action["payload"] or {}).get("ref", "")
    lines = [
        f"Action #{action['id']} ({ref}): {_what(action)}.",
        f"Status: {_status(action)}.",
        f'Why: rule "{action["rule"]}"'
        + (f" ({e['rule_description']})" if e.get("rule_description") else "")
        + f" matched {item.get('type', action['item_type'])} "
        f"{action['item_source']}:{action['item_source_id']}"
        + (" and stopped the evaluation of later rules" if e.get("match") == "first" else "")
        + ":",
    ]
    conditions = e.get("conditions") or []
    if not conditions:
        lines.append("  - the rule has no conditions: it matches every recent scored item")
    for c in conditions:
        name = c.get("field", "")
        lines.append(
            f"  - {_FIELDS.get(name, _words(name))} was {_fmt_value(name, c.get('value'))} "
            f"(the rule asks for {c.get('expected')})"
        )
    milestone = e.get("milestone")
    if milestone:
        lines.append(milestone_words(milestone))
    score = sentiment.get("score")
    if sentiment:
        lines.append(
            f"How the text was read (model "
            f"{sentiment.get('model_version') or action['model_version']}"
            f"): {_words(sentiment.get('label', '?'))}"
            + (f", score {score:+.2f}" if isinstance(score, (int, float)) else "")
            + (", frustrated" if sentiment.get("frustrated") else ", not frustrated")
            + "."
        )
        lines += [f"  - {line}" for line in _signals(sentiment)]
    elif milestone:
        lines.append("No text was read: a usage milestone carries no sentiment.")
    if action["action_type"] == "auto_reply" or e.get("skipped"):
        consent = customer.get("consent_contact")
        valid = customer.get("email_valid")
        lines.append(
            "Safeguards: customer "
            + (str(customer.get("contact_id")) if customer.get("contact_id") else "unknown")
            + ("; consented to be contacted" if consent else "; no consent to be contacted")
            + (
                "; email address valid"
                if valid
                else ("; email address NOT valid" if valid is False else "; no email on record")
            )
            + (
                "; the reply says that an automated system read the message"
                if action["action_type"] == "auto_reply"
                else ""
            )
            + "."
        )
    offer = e.get("offer")
    if offer:
        counts = offer.get("offered_in_segment_before") or {}
        spread = ", ".join(f"{k} {v}" for k, v in counts.items())
        if offer.get("variant"):
            lines.append(
                f"Offer: {offer.get('kind')} offer {offer.get('name')!r}, variant "
                f"{offer.get('variant')!r}: the least offered so far in segment "
                f"{offer.get('segment')} ({spread}); this customer had "
                f"{offer.get('customer_offers_in_window')} in the cap window."
            )
        else:
            lines.append(
                f"Offer: {offer.get('kind')} offer {offer.get('name')!r} withheld: the customer "
                f"already had {offer.get('customer_offers_in_window')} in the cap window."
            )
    if e.get("shadow"):
        lines.append("Shadow mode: the rule is being rolled out; this decision was not sent.")
    attempts: Sequence[Mapping[str, Any]] = action.get("attempt_rows") or []
    for a in attempts:
        lines.append(
            f"  attempt {a['attempt_no']} at {a['started_at']:%Y-%m-%d %H:%M:%S}: "
            f"{a['outcome'] or 'no outcome recorded'}"
            + (f" (HTTP {a['http_status']})" if a.get("http_status") else "")
            + (f" - {a['error']}" if a.get("error") else "")
        )
    lines.append(
        f"Decided {e.get('decided_at', '?')} by {e.get('decided_by', '?')} with rules "
        f"{e.get('rules_version', '?')} ({e.get('rules_source', '')})."
    )
    return "\n".join(lines)


def explain_text(engine: Engine, target: str) -> str:
    actions = find_actions(engine, target)
    if not actions:
        raise ExplainError(f"no routing action for {target!r}")
    if len(actions) == 1:
        return explain_action(actions[0])
    first = actions[0]
    sentiment = (first["explanation"] or {}).get("sentiment") or {}
    head = (
        f"{first['item_type']} {first['item_source']}:{first['item_source_id']}: "
        f"{len(actions)} actions; read as {_words(sentiment.get('label', '?'))}"
        + (
            f" ({sentiment['score']:+.2f})"
            if isinstance(sentiment.get("score"), (int, float))
            else ""
        )
        + f" by {first['model_version']}."
    )
    if len({(a["item_type"], a["item_source"], a["item_source_id"]) for a in actions}) > 1:
        head = f"{len(actions)} actions for {target}."
    return "\n\n".join([head, *(explain_action(a) for a in actions)])
