"""Decide: rules -> rows in the `ops.actions` outbox, never a message.

Each (item, rule, action) is decided once: its idempotency key is unique in `ops.actions`, so a
rerun, a rescore after a duplicate webhook or a rule edit never adds a second row for it. A row
holds everything the dispatcher sends (rendered from masked text, no addresses) and the
explanation: the rule, the conditions with the values that matched, the model version and the
sentiment explanation.

Guards that no rule can switch off, checked before anything reaches a customer: a known,
non-erased contact who consented to be contacted (the most restrictive decision across merged
duplicates) with a valid email address. A guarded action is recorded as `skipped` with the
reason, so `feedbackloop explain` can say why nobody was contacted.

Two ways in: `scored_hook` decides inside the transaction that writes the scores
(`score_pending(on_scored=...)`), and `decide_pending` decides for items scored since the last
run (or every recent item when the rules changed).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from feedbackloop.db.bulk import insert_unnest
from feedbackloop.governance import audit
from feedbackloop.routing.facts import ItemKey, load_facts
from feedbackloop.routing.offers import OfferChoice, OfferLedger
from feedbackloop.routing.rules import (
    AutoReply,
    CreateTask,
    ItemFacts,
    Match,
    RulesFile,
    SetPriority,
    SlackAlert,
    Tag,
    evaluate,
    render,
    template_values,
    uses_placeholder,
)
from feedbackloop.scoring import ScoredHook
from feedbackloop.surveys import NewLink, SurveyLinks, record_link

__all__ = [
    "CRM_TAG",
    "DecideReport",
    "decide",
    "decide_items",
    "decide_pending",
    "idempotency_key",
    "reference",
    "scored_hook",
]

log = logging.getLogger(__name__)

CRM_TAG = "feedback-loop"
# HubSpot's default association types from tasks (CRM v3 tasks guide).
TASK_TO_CONTACT, TASK_TO_COMPANY = 204, 192
_SIGNALS_KEPT = 12
_STATE = ("routing", "decide")  # ops.sync_state row: scored_at high-water mark, rules version
# Scores written by a transaction that began before the last run's mark but committed after it
# have an older scored_at: every run looks this far behind its mark again (decisions are
# idempotent, so looking twice costs a query, never a second action).
_OVERLAP = timedelta(minutes=15)


@dataclass
class DecideReport:
    items: int = 0  # items evaluated
    matched: int = 0  # items at least one rule matched
    too_old: int = 0  # scored items older than max_item_age_days, not routed
    actions: Counter[str] = field(default_factory=Counter)  # new rows by status
    by_rule: Counter[str] = field(default_factory=Counter)  # new rows by rule

    def add(self, other: DecideReport) -> None:
        self.items += other.items
        self.matched += other.matched
        self.too_old += other.too_old
        self.actions.update(other.actions)
        self.by_rule.update(other.by_rule)

    @property
    def decided(self) -> int:
        return sum(self.actions.values())


def idempotency_key(item_key: str, rule: str, action: str) -> str:
    key = f"{item_key}|{rule}|{action}"
    if len(key) <= 256:
        return key
    return f"{key[:180]}|sha256:{hashlib.sha256(key.encode()).hexdigest()[:64]}"


def reference(key: str) -> str:
    """A short, stable handle of an action: in customer replies (so a reply already posted can
    be found again), task subjects and `feedbackloop explain`."""
    return "fl-" + hashlib.sha256(key.encode()).hexdigest()[:10]


# ------------------------------------------------------------------------------ guards


def ticket_block(facts: ItemFacts, what: str) -> str | None:
    """Why the item's Zendesk ticket cannot be updated, or None."""
    if not facts.ticket_id:
        return f"no Zendesk ticket for the {what}"
    if facts.ticket_status == "closed":
        return (
            f"the Zendesk ticket is closed (Zendesk refuses updates to closed tickets): no {what}"
        )
    return None


def contact_block(facts: ItemFacts) -> str | None:
    """Why this customer must not be contacted, or None."""
    if facts.contact_id is None:
        return "no known customer to contact"
    if facts.erased:
        return "the customer's data was erased"
    if not facts.consent_contact:
        return "the customer has not consented to be contacted"
    if facts.email_valid is None:
        return "no email address on record for the customer"
    if not facts.email_valid:
        reason = f" ({facts.email_invalid_reason})" if facts.email_invalid_reason else ""
        return f"the customer's email address is not valid{reason}"
    return None


def survey_links_unconfigured() -> str:
    return "no survey link can be made: FEEDBACKLOOP_PUBLIC_BASE_URL is not set"


# ----------------------------------------------------------------------------- building


def _sentiment(facts: ItemFacts) -> dict[str, Any] | None:
    if not facts.scored:
        return None  # an item without text (a milestone) was never read for sentiment
    expl = dict(facts.sentiment_explanation or {})
    signals = expl.get("signals") or []
    if isinstance(signals, list) and len(signals) > _SIGNALS_KEPT:
        signals = sorted(signals, key=lambda s: -abs(float(s.get("weight") or 0)))[:_SIGNALS_KEPT]
        expl["signals"] = signals
        expl["signals_truncated"] = True
    return {
        "label": facts.label,
        "score": round(facts.score, 4),
        "frustrated": facts.frustrated,
        "language": facts.score_language,
        "model_version": facts.model_version,
        "explanation": expl,
    }


def _customer(facts: ItemFacts) -> dict[str, Any]:
    return {
        "contact_id": facts.contact_id,
        "customer_id": facts.customer_id,
        "account_id": facts.account_id,
        "tier": facts.tier,
        "consent_contact": facts.consent_contact,
        "email_valid": facts.email_valid,
        "erased": facts.erased,
    }


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class _Decision:
    key: str
    action_type: str
    target: str | None
    payload: dict[str, Any]
    skip: str | None = None
    offer: OfferChoice | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    survey_link: NewLink | None = None


def _build(
    rules: RulesFile,
    match: Match,
    action: Any,
    facts: ItemFacts,
    ledger: OfferLedger,
    now: datetime,
    links: SurveyLinks | None = None,
) -> _Decision:
    rule = match.rule
    key = idempotency_key(facts.key, rule.name, action.key)
    ref = reference(key)
    days = rule.when.repeat_contacts.days if rule.when.repeat_contacts else None
    values = template_values(facts, rule=rule.name, ref=ref, days=days)
    d = _Decision(key, action.type, None, {"ref": ref})

    if isinstance(action, SlackAlert):
        d.target = f"slack:#{action.channel}"
        d.payload |= {"channel": action.channel, "text": render(action.text, values)}
    elif isinstance(action, AutoReply):
        d.target = f"zendesk:ticket/{facts.ticket_id}" if facts.ticket_id else None
        d.skip = contact_block(facts) or ticket_block(facts, "reply")
        template_name = action.template
        if d.skip is None and action.offer is not None:
            d.offer = ledger.choose(action.offer, facts, shadow=rule.shadow)
            d.skip = d.offer.capped_reason
            template_name = d.offer.variant.template if d.offer.variant else None
        if d.skip is None and template_name is not None:
            template = rules.templates[template_name]
            localized = rules.localized(template.body, facts.language)
            if uses_placeholder(localized, "survey_link"):
                # A link of its own per reply (issue 18): the token is random, the row that
                # ties it to the ticket, customer and action is written with the action.
                if links is None:
                    d.skip = survey_links_unconfigured()
                else:
                    d.survey_link = links.new(now)
                    d.extra["survey_scale"] = template.survey_scale
                    values = values | {"survey_link": d.survey_link.url}
        if d.skip is None and template_name is not None:
            disclosure = render(rules.localized(rules.disclosure, facts.language), {"ref": ref})
            body = render(localized, values | {"disclosure": disclosure})
            # Validated on load; checked again on the text that is actually sent.
            assert disclosure in body, "an auto-reply without its disclosure"
            d.payload |= {
                "ticket_id": facts.ticket_id,
                "body": body,
                "public": True,
                "template": template_name,
                "language": facts.language or rules.default_language,
            }
    elif isinstance(action, CreateTask):
        d.target = "hubspot:tasks"
        if action.contacts_customer:
            d.skip = contact_block(facts)
        associations = []
        for kind in action.associate:
            to = facts.customer_id if kind == "contact" else facts.account_id
            if to:
                type_id = TASK_TO_CONTACT if kind == "contact" else TASK_TO_COMPANY
                associations.append(
                    {
                        "to": {"id": to},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                        ],
                    }
                )
        d.payload |= {
            "properties": {
                # The reference makes the subject unique: a task already created is found by it.
                "hs_task_subject": f"{render(action.subject, values)} [{ref}]",
                "hs_task_body": render(action.body, values),
                "hs_timestamp": _timestamp(now + timedelta(hours=action.due_in_hours)),
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": action.priority,
                "hs_task_type": action.task_type,
            },
            "associations": associations,
        }
    elif isinstance(action, Tag):
        crm_contact = facts.customer_id if action.crm else None
        # A closed ticket keeps its tags; the CRM tag still applies.
        ticket = facts.ticket_id if ticket_block(facts, "tags") is None else None
        parts = []
        if ticket:
            parts.append(f"zendesk:ticket/{ticket}")
        if crm_contact:
            parts.append(f"hubspot:contact/{crm_contact}")
        d.target = " + ".join(parts) or None
        d.skip = None if parts else "nothing to tag: no open Zendesk ticket and no CRM contact"
        d.payload |= {
            "ticket_id": ticket,
            "tags": sorted({*action.tags, CRM_TAG}),
            "crm_contact_id": crm_contact,
            "crm_property": rules.crm_tag_property,
            "crm_value": CRM_TAG,
        }
    elif isinstance(action, SetPriority):
        d.target = f"zendesk:ticket/{facts.ticket_id}" if facts.ticket_id else None
        d.skip = ticket_block(facts, "priority")
        d.payload |= {"ticket_id": facts.ticket_id, "priority": action.priority}
    else:  # pragma: no cover - the schema admits no other type
        raise TypeError(f"unknown action {action!r}")
    return d


def _row(
    rules: RulesFile, match: Match, d: _Decision, facts: ItemFacts, now: datetime, by: str
) -> dict[str, Any]:
    rule = match.rule
    status = "skipped" if d.skip else ("shadow" if rule.shadow else "pending")
    explanation: dict[str, Any] = {
        "rule": rule.name,
        "rule_description": rule.description,
        "match": rule.match,
        "shadow": rule.shadow,
        "rules_version": rules.rules_version,
        "rules_source": rules.source,
        "conditions": [c.as_dict() for c in match.conditions],
        "sentiment": _sentiment(facts),
        "item": {
            "type": facts.item_type,
            "source": facts.item_source,
            "id": facts.item_source_id,
            "created_at": facts.created_at.isoformat() if facts.created_at else None,
            "channel": facts.channel,
            "topic": facts.topic,
            "language": facts.language,
            "ticket_id": facts.ticket_id,
            "ticket_status": facts.ticket_status,
        },
        "customer": _customer(facts),
        "skipped": d.skip,
        "decided_at": now.isoformat(),
        "decided_by": by,
    }
    if d.offer is not None:
        explanation["offer"] = d.offer.explanation()
    if facts.milestone is not None:
        explanation["milestone"] = dict(facts.milestone)
    return {
        "idempotency_key": d.key,
        "item_type": facts.item_type,
        "item_source": facts.item_source,
        "item_source_id": facts.item_source_id,
        "rule": rule.name,
        "action_type": d.action_type,
        "target": d.target,
        "payload": d.payload,
        "explanation": explanation,
        "model_version": facts.model_version,
        "status": status,
        "last_error": d.skip,
    }


# ------------------------------------------------------------------------------ decide


_EXISTING = text(
    "SELECT idempotency_key FROM ops.actions WHERE idempotency_key = ANY(:keys)"
).bindparams(bindparam("keys", type_=ARRAY(String)))


_ACTION_COLUMNS = {
    "idempotency_key": "text",
    "item_type": "text",
    "item_source": "text",
    "item_source_id": "text",
    "rule": "text",
    "action_type": "text",
    "target": "text",
    "payload": "jsonb",
    "explanation": "jsonb",
    "model_version": "text",
    "status": "text",
    "last_error": "text",
}


def _insert_actions(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Write a batch's new actions in one statement; the id of each row written, by
    idempotency key (a key another transaction wrote first is absent)."""
    # One statement per batch, in decision order, so ids follow the decision order.
    written = insert_unnest(
        conn,
        "ops.actions",
        _ACTION_COLUMNS,
        rows,
        ordered=True,
        on_conflict="ON CONSTRAINT uq_actions_idempotency_key DO NOTHING",
        returning="idempotency_key, id",
    )
    return {key: action_id for key, action_id in written}


def decide(
    conn: Connection,
    rules: RulesFile,
    facts: Sequence[ItemFacts],
    *,
    now: datetime | None = None,
    actor: str = "routing",
    links: SurveyLinks | None = None,
) -> DecideReport:
    """Evaluate the rules for each item and write the new decisions, in `conn`'s transaction.
    `links` makes the `{survey_link}` of replies; without it such replies are skipped."""
    now = now or datetime.now(UTC)
    report = DecideReport()
    oldest = now - timedelta(days=rules.max_item_age_days)
    planned: list[tuple[ItemFacts, Match, Any, str]] = []
    for item in facts:
        if item.created_at is not None and item.created_at < oldest:
            report.too_old += 1
            continue
        report.items += 1
        matches = evaluate(rules, item)
        report.matched += bool(matches)
        for match in matches:
            for action in match.rule.actions:
                key = idempotency_key(item.key, match.rule.name, action.key)
                planned.append((item, match, action, key))
    if not planned:
        return report
    existing = set(conn.execute(_EXISTING, {"keys": [p[3] for p in planned]}).scalars())
    ledger = OfferLedger(conn, rules, now)
    built: list[tuple[ItemFacts, Match, _Decision, dict[str, Any]]] = []
    for item, match, action, key in planned:
        if key in existing:
            continue
        existing.add(key)
        d = _build(rules, match, action, item, ledger, now, links)
        row = _row(rules, match, d, item, now, actor)
        # Counted before the write (which is one statement for the batch below), so the next
        # choices in this batch rotate as if decided one by one. A row another transaction
        # wrote first (a concurrent decide) then counts once more in this batch's rotation.
        if d.offer is not None and row["status"] != "skipped":
            ledger.record(d.offer, shadow=match.rule.shadow)
        built.append((item, match, d, row))
    if not built:
        return report
    written = _insert_actions(conn, [row for _, _, _, row in built])
    for item, match, d, row in built:
        action_id = written.get(row["idempotency_key"])
        if action_id is None:  # decided concurrently by another transaction
            continue
        if d.survey_link is not None and row["status"] != "skipped":
            record_link(
                conn,
                d.survey_link,
                action_id=action_id,
                item=(item.item_type, item.item_source, item.item_source_id),
                rule=match.rule.name,
                template=str(d.payload.get("template")),
                segment=d.offer.segment if d.offer is not None else (item.tier or "unknown"),
                ticket_id=item.ticket_id,
                contact_id=item.customer_id or item.contact_id,
                account_id=item.account_id,
                language=item.language,
                rating_scale=d.extra["survey_scale"],
            )
        report.actions[row["status"]] += 1
        report.by_rule[match.rule.name] += 1
    if report.decided:
        audit.record(
            conn,
            actor=actor,
            action="route",
            entity_type="routing",
            entity_id=rules.rules_version,
            details={"actions": dict(report.actions), "by_rule": dict(report.by_rule)},
            reason="routing rules decided actions for scored feedback",
        )
    return report


def scored_hook(
    rules: RulesFile,
    *,
    now: datetime | None = None,
    report: DecideReport | None = None,
    links: SurveyLinks | None = None,
) -> ScoredHook:
    """For `score_pending(on_scored=...)`: decide for each batch of scores in the transaction
    that writes them, so a score and the actions it causes commit together."""

    def on_scored(conn: Connection, rows: list[dict[str, Any]]) -> None:
        versions = {
            (r["item_type"], r["item_source"], r["item_source_id"]): r["model_version"]
            for r in rows
        }
        facts = load_facts(conn, versions, windows=rules.windows, model_versions=versions)
        result = decide(conn, rules, facts, now=now, actor="routing (score hook)", links=links)
        if report is not None:
            report.add(result)

    return on_scored


def decide_items(conn: Connection, rules: RulesFile, keys: Sequence[ItemKey]) -> DecideReport:
    """Decide for items that are not scored (milestones), in the transaction that made them."""
    facts = load_facts(conn, keys, windows=rules.windows)
    return decide(conn, rules, facts, actor="routing (milestones)")


def _scored_since(
    conn: Connection, since: datetime | None, oldest: datetime
) -> Iterable[tuple[ItemKey, datetime]]:
    # The newest score of each item, for items scored since the mark; and milestone items
    # (never scored) recorded since the mark, so a rules change or a missed decision reaches
    # them too.
    return conn.execute(
        text(
            """
            SELECT * FROM (
                SELECT item_type, item_source, item_source_id, max(scored_at) AS scored_at
                FROM nlp.feedback_scores
                WHERE (CAST(:since AS timestamptz) IS NULL OR scored_at > :since)
                  AND scored_at > :oldest
                GROUP BY 1, 2, 3
                UNION ALL
                SELECT 'milestone', 'segment', CAST(m.id AS text), m.recorded_at
                FROM ops.milestones m
                WHERE (CAST(:since AS timestamptz) IS NULL OR m.recorded_at > :since)
                  AND m.recorded_at > :oldest
            ) candidates
            ORDER BY 4, 1, 2, 3
            """
        ),
        {"since": since, "oldest": oldest},
    )


def decide_pending(
    engine: Engine,
    rules: RulesFile,
    *,
    now: datetime | None = None,
    full: bool = False,
    batch_size: int = 500,
    links: SurveyLinks | None = None,
) -> DecideReport:
    """Decide for items scored since the last run (a rerun, a crash before the score hook, a
    flow that scored without it), or for every scored item younger than `max_item_age_days`
    when the rules changed since the last run or `full` is set. One transaction per batch."""
    now = now or datetime.now(UTC)
    report = DecideReport()
    oldest = now - timedelta(days=rules.max_item_age_days)
    with engine.connect() as conn:
        mark = conn.execute(
            text("SELECT cursor, state FROM ops.sync_state WHERE source = :s AND stream = :t"),
            {"s": _STATE[0], "t": _STATE[1]},
        ).one_or_none()
        since = None
        same_rules = mark is not None and mark.state.get("rules_version") == rules.rules_version
        if same_rules and not full and mark.cursor:
            since = datetime.fromisoformat(mark.cursor) - _OVERLAP
        # Items are not filtered by age in SQL (rescored old items are "too old" in decide);
        # scores older than the age limit cannot belong to a routable item.
        candidates = list(_scored_since(conn, since, oldest))
    high_water = max((c.scored_at for c in candidates), default=None)
    for start in range(0, len(candidates), batch_size):
        batch = candidates[start : start + batch_size]
        keys = [(c.item_type, c.item_source, c.item_source_id) for c in batch]
        with engine.begin() as conn:
            facts = load_facts(conn, keys, windows=rules.windows)
            report.add(
                decide(conn, rules, facts, now=now, actor="routing (decide pending)", links=links)
            )
    previous = None
    if mark is not None and mark.cursor and mark.state.get("rules_version") == rules.rules_version:
        previous = datetime.fromisoformat(mark.cursor)
    cursor = max(filter(None, (high_water, previous)), default=None)
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO ops.sync_state (source, stream, cursor, state, updated_at)
                VALUES (:s, :t, :cursor, CAST(:state AS jsonb), now())
                ON CONFLICT (source, stream) DO UPDATE
                SET cursor = EXCLUDED.cursor, state = EXCLUDED.state, updated_at = now()
                """
            ),
            {
                "s": _STATE[0],
                "t": _STATE[1],
                "cursor": cursor.isoformat() if cursor else None,
                "state": json.dumps({"rules_version": rules.rules_version}),
            },
        )
    log.info(
        "routing: %s items evaluated, %s new actions %s",
        report.items,
        report.decided,
        dict(report.actions),
    )
    return report
