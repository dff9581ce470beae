"""Routing rules: the YAML schema, its validation and the pure evaluation of one item.

A rules file (`config/routing.yml`, `FEEDBACKLOOP_ROUTING_RULES_PATH`) holds:

- `rules`: evaluated in file order. A rule's `when` conditions must all hold; its `match` says
  whether later rules are still evaluated after it matched (`all`, the default) or not
  (`first`). `shadow: true` decides and records but never sends.
- `templates`: customer replies (`auto_reply`), one body or one per language. Each must carry
  `{disclosure}`, the text saying an automated system read the message; loading fails
  otherwise, so no template can drop it.
- `disclosure`: that text, per language; it must carry `{ref}`, the reference the dispatcher
  looks for to tell whether a reply was already posted.
- `offers`: upsell, discount or survey replies with several variants, rotated per customer
  segment, and a cap per customer per window.

Every validation error names the rule (or template, offer) and the field, in one line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from feedbackloop.config import ConfigError
from feedbackloop.vocabulary import (
    ACTION_TYPES,
    ITEM_TYPES,
    RATING_SCALES,
    RULE_TICKET_STATUSES,
    SENTIMENT_LABELS,
)
from feedbackloop.yamlfile import describe, parse_mapping, read_file

__all__ = [
    "ACTION_TYPES",
    "PLACEHOLDERS",
    "Action",
    "ConditionMatch",
    "ItemFacts",
    "Match",
    "Offer",
    "Rule",
    "RulesError",
    "RulesFile",
    "evaluate",
    "load_rules",
    "parse_rules",
    "render",
]

TIERS = ("free", "pro", "enterprise")
ZENDESK_PRIORITIES = ("low", "normal", "high", "urgent")

# What a template may use. All of it is masked text, pseudonymous ids or scores.
PLACEHOLDERS: dict[str, str] = {
    "item_type": "ticket, satisfaction_rating, review, note, milestone or survey_response",
    "item_id": "the item's id in its source",
    "ticket_id": "the Zendesk ticket id (tickets and CSAT ratings)",
    "source": "where the item came from (zendesk, app_store, gong, ...)",
    "channel": "zendesk_email, zendesk_csat, app_store, cs_note, ...",
    "sentiment": "the sentiment label in words (very negative ... very positive)",
    "score": "the sentiment score, -1 to 1",
    "frustrated": "yes or no",
    "topic": "the topic key, else the product area",
    "tier": "the customer's tier (free, pro, enterprise)",
    "arr": "the account's ARR",
    "language": "the customer's language",
    "rule": "the rule's name",
    "excerpt": "the start of the (masked) text",
    "contact_id": "the CRM contact id",
    "account_id": "the CRM account id",
    "repeat_contacts": "contacts from this customer in the rule's window",
    "ticket_status": "the Zendesk ticket's status",
    "ref": "the action's reference (fl-...)",
    "disclosure": "the automated-system disclosure (customer replies only)",
    "survey_link": "a signed, expiring link to the feedback form (customer replies only)",
    "milestone": "the usage milestone reached (milestone items), e.g. tenth-report",
}
_SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# Zendesk tags: lower-case, no spaces (Zendesk turns spaces into separate tags).
_TAG = r"^[a-z0-9][a-z0-9_:/.-]{0,79}$"


class RulesError(ConfigError):
    """The rules file is invalid; the message names the file, the rule and the field."""


def _listify(value: Any) -> Any:
    return (
        [value] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else value
    )


def _lower_list(value: Any) -> Any:
    value = _listify(value)
    if isinstance(value, list):
        return [v.strip().lower() if isinstance(v, str) else v for v in value]
    return value


StrList = Annotated[list[str], BeforeValidator(_lower_list), Field(min_length=1)]
# Literal types for the rule schema, kept equal to the vocabulary (feedbackloop.vocabulary).
Label = Literal["very_negative", "negative", "neutral", "positive", "very_positive"]
ItemType = Literal[
    "ticket", "satisfaction_rating", "review", "note", "milestone", "survey_response"
]
TicketStatus = Literal["new", "open", "pending", "hold", "solved", "closed"]
Tier = Literal["free", "pro", "enterprise"]
RatingScale = Literal["1-5", "0-10"]
for _literal, _vocabulary in (
    (Label, SENTIMENT_LABELS),
    (ItemType, ITEM_TYPES),
    (TicketStatus, RULE_TICKET_STATUSES),
    (Tier, TIERS),
    (RatingScale, RATING_SCALES),
):
    assert _literal.__args__ == _vocabulary  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------- conditions


class Range(_Strict):
    """Numeric bounds; every bound given must hold."""

    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Range:
        if all(v is None for v in (self.lt, self.lte, self.gt, self.gte)):
            raise ValueError("give at least one of lt, lte, gt, gte")
        return self

    def holds(self, value: float) -> bool:
        return (
            (self.lt is None or value < self.lt)
            and (self.lte is None or value <= self.lte)
            and (self.gt is None or value > self.gt)
            and (self.gte is None or value >= self.gte)
        )

    def describe(self) -> str:
        parts = []
        for bound, words in (
            ("gte", "at least"),
            ("gt", "above"),
            ("lte", "at most"),
            ("lt", "below"),
        ):
            value = getattr(self, bound)
            if value is not None:
                parts.append(f"{words} {_num(value)}")
        return " and ".join(parts)


class Repeat(Range):
    """Contacts from the same customer in the `days` up to and including this item."""

    days: int = Field(ge=1, le=365)

    def describe(self) -> str:
        return f"{super().describe()} in {self.days} days"


class Conditions(_Strict):
    sentiment_label: Annotated[list[Label], BeforeValidator(_lower_list)] | None = None
    sentiment_score: Range | None = None
    frustrated: bool | None = None
    topic: StrList | None = None
    channel: StrList | None = None
    source: StrList | None = None
    item_type: Annotated[list[ItemType], BeforeValidator(_lower_list)] | None = None
    customer_tier: Annotated[list[Tier], BeforeValidator(_lower_list)] | None = None
    arr: Range | None = None
    language: StrList | None = None
    consent_contact: bool | None = None
    consent_improvement: bool | None = None
    email_valid: bool | None = None
    repeat_contacts: Repeat | None = None
    ticket_status: Annotated[list[TicketStatus], BeforeValidator(_lower_list)] | None = None
    # Usage milestones by name (config/milestones.yml); only milestone items have one.
    milestone: StrList | None = None


# ------------------------------------------------------------------------------- actions


class _Action(_Strict):
    # Names the action in its idempotency key; needed only when a rule has two of a type.
    id: Annotated[str, Field(pattern=_SLUG)] | None = None

    @property
    def key(self) -> str:
        return self.id or self.type  # type: ignore[attr-defined]


class SlackAlert(_Action):
    type: Literal["slack_alert"]
    channel: str = Field(min_length=1, max_length=80)
    text: str = Field(
        default=(
            ":warning: {sentiment} {item_type} {item_id} ({channel}, tier {tier}) matched "
            "`{rule}`: {excerpt}"
        ),
        min_length=1,
    )


class AutoReply(_Action):
    """A public comment on the item's Zendesk ticket: a template, or an offer's variant."""

    type: Literal["auto_reply"]
    template: str | None = None
    offer: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AutoReply:
        if (self.template is None) == (self.offer is None):
            raise ValueError("give exactly one of template or offer")
        return self


class CreateTask(_Action):
    """A CRM task (HubSpot CRM v3 tasks)."""

    type: Literal["create_task"]
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(
        default=(
            "{sentiment} {item_type} {item_id} from {source} ({channel}); score {score}, "
            "frustrated: {frustrated}; tier {tier}; contact {contact_id}, account {account_id}.\n"
            "{excerpt}\nWhy: feedbackloop explain {ref}"
        )
    )
    priority: Literal["LOW", "MEDIUM", "HIGH"] = "MEDIUM"
    task_type: Literal["TODO", "CALL", "EMAIL"] = "TODO"
    due_in_hours: float = Field(default=24.0, ge=0, le=24 * 90)
    # Associate the task with the item's CRM contact and/or company (their CRM ids).
    associate: list[Literal["contact", "company"]] = Field(default_factory=list)
    # True when the task asks someone to contact the customer: consent is checked first.
    contacts_customer: bool = False


class Tag(_Action):
    """Zendesk ticket tags (added, never replacing) and the CRM tag on the contact."""

    type: Literal["tag"]
    tags: list[Annotated[str, Field(pattern=_TAG)]] = Field(default_factory=list)
    crm: bool = True


class SetPriority(_Action):
    type: Literal["set_priority"]
    priority: Literal["low", "normal", "high", "urgent"]


Action = Annotated[
    SlackAlert | AutoReply | CreateTask | Tag | SetPriority, Field(discriminator="type")
]


# -------------------------------------------------------------------- rules and offers


class Rule(_Strict):
    name: str = Field(pattern=_SLUG)
    description: str = ""
    match: Literal["first", "all"] = "all"
    shadow: bool = False
    when: Conditions = Field(default_factory=Conditions)
    actions: list[Action] = Field(min_length=1)

    @field_validator("actions")
    @classmethod
    def _unique_action_keys(cls, actions: list[Any]) -> list[Any]:
        keys = [a.key for a in actions]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(
                f"two actions named {dupes[0]!r}: give each an `id` (it names the action in "
                "its idempotency key)"
            )
        return actions


LocalizedText = str | dict[str, str]


class Template(_Strict):
    body: LocalizedText
    # The rating scale of the form its `{survey_link}` opens: 1-5, or 0-10 for NPS.
    survey_scale: RatingScale = "1-5"


class Variant(_Strict):
    id: str = Field(pattern=_SLUG)
    template: str


class Cap(_Strict):
    per_customer: int = Field(default=1, ge=1)
    window_days: int = Field(default=30, ge=1, le=3650)


class Offer(_Strict):
    kind: Literal["upsell", "discount", "survey"]
    # Rotation is balanced within each segment, so no segment always gets the same variant.
    segment_by: list[Literal["customer_tier", "language", "channel"]] = Field(
        default_factory=lambda: ["customer_tier"], min_length=1
    )
    cap: Cap = Field(default_factory=Cap)
    variants: list[Variant] = Field(min_length=1)

    @field_validator("variants")
    @classmethod
    def _unique_variants(cls, variants: list[Variant]) -> list[Variant]:
        ids = [v.id for v in variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variant ids must be unique")
        return variants


class RulesFile(_Strict):
    version: Literal[1] = 1
    # Items older than this are never routed: a new rule or model must not answer old tickets.
    max_item_age_days: float = Field(default=14, gt=0)
    default_language: str = "en"
    disclosure: LocalizedText
    # The HubSpot contact property `tag` actions set to "feedback-loop".
    crm_tag_property: str = Field(default="feedback_loop", pattern=r"^[a-z][a-z0-9_]{0,99}$")
    templates: dict[str, Template] = Field(default_factory=dict)
    offers: dict[str, Offer] = Field(default_factory=dict)
    rules: list[Rule] = Field(min_length=1)
    # Filled by `parse_rules`: where the rules came from and a hash of their text.
    source: str = ""
    rules_version: str = ""

    def rule(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)

    @property
    def windows(self) -> set[int]:
        """The `repeat_contacts` windows (days) the rules use."""
        return {r.when.repeat_contacts.days for r in self.rules if r.when.repeat_contacts}

    def localized(self, value: LocalizedText, language: str | None) -> str:
        if isinstance(value, str):
            return value
        lang = (language or "").split("-")[0].lower()
        return value.get(lang) or value[self.default_language]


# ----------------------------------------------------------------------------- loading


def load_rules(path: Path | str) -> RulesFile:
    """Read and validate a rules file; `RulesError` names the rule and field on failure."""
    path = Path(path)
    raw_text = read_file(
        path, error=RulesError, what="routing rules", setting="FEEDBACKLOOP_ROUTING_RULES_PATH"
    )
    return parse_rules(raw_text, source=str(path))


def parse_rules(raw_text: str, *, source: str = "<rules>") -> RulesFile:
    raw, version = parse_mapping(
        raw_text, source=source, error=RulesError, expected="`rules`, `templates`, ..."
    )
    try:
        rules = RulesFile.model_validate({**raw, "source": source, "rules_version": version})
    except ValidationError as exc:
        raise RulesError(f"{source}: {describe(exc, raw, _ITEMS, _UNION_TAGS)}") from None
    _check_references(rules, source)
    return rules


_ITEMS = {"rules": "rule", "templates": "template", "offers": "offer"}
# The tags pydantic puts in the location of a union member (action kinds, localized text).
_UNION_TAGS = {"slack_alert", "auto_reply", "create_task", "tag", "set_priority", "str"}


def _placeholders(text: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad braces ({exc}); write {{{{ and }}}} for literal braces") from None


def uses_placeholder(text: str, name: str) -> bool:
    """Whether a validated template text places `{name}`."""
    return name in _placeholders(text)


def _check_text(text: str, allowed: Sequence[str], where: str, source: str) -> list[str]:
    try:
        names = _placeholders(text)
    except ValueError as exc:
        raise RulesError(f"{source}: {where}: {exc}") from None
    for name in names:
        if name not in allowed:
            raise RulesError(
                f"{source}: {where}: unknown placeholder {{{name}}} "
                f"(allowed: {', '.join('{' + a + '}' for a in allowed)})"
            )
    return names


def _variants(value: LocalizedText) -> list[tuple[str, str]]:
    return [("", value)] if isinstance(value, str) else list(value.items())


def _check_references(rules: RulesFile, source: str) -> None:
    # Customer-reply placeholders have no meaning in an alert or a task.
    internal = [p for p in PLACEHOLDERS if p not in ("disclosure", "survey_link")]
    default = rules.default_language
    if isinstance(rules.disclosure, dict) and default not in rules.disclosure:
        raise RulesError(f"{source}: disclosure has no text in the default language {default!r}")
    for lang, text in _variants(rules.disclosure):
        where = f"disclosure{f' ({lang})' if lang else ''}"
        if not text.strip():
            raise RulesError(f"{source}: {where} is empty: every auto-reply must carry it")
        if "ref" not in _check_text(text, ["ref"], where, source):
            raise RulesError(
                f"{source}: {where} must contain {{ref}}: the dispatcher finds a reply it "
                "already posted by it"
            )
    for name, template in rules.templates.items():
        if isinstance(template.body, dict) and default not in template.body:
            raise RulesError(
                f'{source}: template "{name}", field body: no text in the default language '
                f"{default!r}"
            )
        for lang, text in _variants(template.body):
            where = f'template "{name}", field body{f" ({lang})" if lang else ""}'
            names = _check_text(text, list(PLACEHOLDERS), where, source)
            if "disclosure" not in names:
                raise RulesError(
                    f"{source}: {where} must contain {{disclosure}}: every auto-reply says "
                    "that an automated system read the message"
                )
    for name, offer in rules.offers.items():
        for n, variant in enumerate(offer.variants):
            if variant.template not in rules.templates:
                raise RulesError(
                    f'{source}: offer "{name}", field variants[{n}].template: unknown template '
                    f"{variant.template!r}"
                )
    names = [r.name for r in rules.rules]
    for rule in rules.rules:
        if names.count(rule.name) > 1:
            raise RulesError(f'{source}: rule "{rule.name}", field name: used by two rules')
        for n, action in enumerate(rule.actions):
            where = f'rule "{rule.name}", field actions[{n}]'
            if isinstance(action, AutoReply):
                if action.template is not None and action.template not in rules.templates:
                    raise RulesError(
                        f"{source}: {where}.template: unknown template {action.template!r}"
                    )
                if action.offer is not None and action.offer not in rules.offers:
                    raise RulesError(f"{source}: {where}.offer: unknown offer {action.offer!r}")
            elif isinstance(action, SlackAlert):
                _check_text(action.text, internal, f"{where}.text", source)
            elif isinstance(action, CreateTask):
                _check_text(action.subject, internal, f"{where}.subject", source)
                _check_text(action.body, internal, f"{where}.body", source)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class ItemFacts:
    """Everything the rules, the guards and the templates know about one scored item."""

    item_type: str
    item_source: str
    item_source_id: str
    created_at: datetime | None = None
    model_version: str = ""
    score: float = 0.0
    label: str | None = "neutral"  # None: not scored (an item without text)
    frustrated: bool = False
    score_language: str | None = None
    sentiment_explanation: Mapping[str, Any] = field(default_factory=dict)
    topic: str | None = None
    channel: str | None = None
    language: str | None = None
    contact_id: str | None = None
    customer_id: str | None = None  # the canonical contact after merges
    account_id: str | None = None
    tier: str | None = None
    arr: float | None = None
    consent_contact: bool = False  # no consent record: no consent
    consent_improvement: bool = False
    email_valid: bool | None = None  # None: no contact record
    email_invalid_reason: str | None = None
    erased: bool = False
    ticket_id: str | None = None  # the Zendesk ticket to act on
    ticket_status: str | None = None  # as last collected: Zendesk refuses to update closed ones
    repeat_contacts: Mapping[int, int] = field(default_factory=dict)
    # The item's (masked) text: read with the facts, masked again only for an excerpt that is
    # used (masking every item's whole text cost more than the rest of deciding).
    body: str | None = field(default=None, repr=False, compare=False)
    # A milestone item's milestone (name, description, per, reached_at, ...); None otherwise.
    milestone: Mapping[str, Any] | None = None

    @cached_property
    def text_excerpt(self) -> str:
        """The excerpt of `body` (computed once per item, when a template asks for it)."""
        return excerpt(self.body)

    @property
    def scored(self) -> bool:
        """Items without text (milestones) have no score: no sentiment condition holds."""
        return self.label is not None

    @property
    def key(self) -> str:
        return f"{self.item_type}:{self.item_source}:{self.item_source_id}"

    def value_of(self, name: str) -> Any:
        return {
            "sentiment_label": self.label,
            "sentiment_score": self.score if self.scored else None,
            "frustrated": self.frustrated if self.scored else None,
            "customer_tier": self.tier,
            "source": self.item_source,
            "milestone": self.milestone.get("name") if self.milestone else None,
        }.get(name, getattr(self, name, None))


@dataclass(frozen=True)
class ConditionMatch:
    field: str
    expected: str  # in words: "one of very negative, negative", "at most -0.5"
    value: Any  # the item's value that matched

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "expected": self.expected, "value": self.value}


@dataclass(frozen=True)
class Match:
    rule: Rule
    conditions: tuple[ConditionMatch, ...]


def _num(value: float) -> str:
    return f"{value:g}"


def _words(value: str) -> str:
    return value.replace("_", " ")


def _language_matches(wanted: list[str], value: str | None) -> bool:
    if not value:
        return False
    lang = value.lower()
    return lang in wanted or lang.split("-")[0] in wanted


def check(conditions: Conditions, facts: ItemFacts) -> tuple[ConditionMatch, ...] | None:
    """The conditions that matched, with the item's values; None when one does not hold.
    An unknown value (no tier, no contact) never satisfies a condition."""
    out: list[ConditionMatch] = []
    for name in Conditions.model_fields:
        wanted = getattr(conditions, name)
        if wanted is None:
            continue
        if name == "repeat_contacts":
            value: Any = facts.repeat_contacts.get(wanted.days)
        else:
            value = facts.value_of(name)
        if value is None:
            return None
        if isinstance(wanted, Range):
            ok = wanted.holds(float(value))
            expected = wanted.describe()
        elif isinstance(wanted, bool):
            ok = bool(value) is wanted
            expected = "yes" if wanted else "no"
        elif name == "language":
            ok = _language_matches(wanted, value)
            expected = "one of " + ", ".join(wanted)
        else:
            ok = str(value).lower() in wanted
            expected = "one of " + ", ".join(_words(w) for w in wanted)
        if not ok:
            return None
        if isinstance(value, float):
            value = round(value, 4)
        out.append(ConditionMatch(name, expected, value))
    return tuple(out)


def evaluate(rules: RulesFile, facts: ItemFacts) -> list[Match]:
    """The rules that match, in file order; a matching `first` rule ends the evaluation."""
    matches: list[Match] = []
    for rule in rules.rules:
        matched = check(rule.when, facts)
        if matched is None:
            continue
        matches.append(Match(rule, matched))
        if rule.match == "first":
            break
    return matches


# ---------------------------------------------------------------------------- rendering

_EXCERPT_CHARS = 280
_SPACES = re.compile(r"\s+")


def excerpt(text: str | None) -> str:
    """The start of an item's text on one line. The text is stored masked; it is masked once
    more here, so a code path that forgot to mask can still not put PII in a message."""
    from nlp.pii import mask

    flat = _SPACES.sub(" ", mask(text or "")).strip()
    return flat if len(flat) <= _EXCERPT_CHARS else flat[: _EXCERPT_CHARS - 1].rstrip() + "…"


def template_values(facts: ItemFacts, *, rule: str, ref: str, days: int | None) -> dict[str, str]:
    def text(value: Any) -> str:
        return "" if value is None else str(value)

    return {
        "item_type": _words(facts.item_type),
        "item_id": facts.item_source_id,
        "ticket_id": text(facts.ticket_id),
        "ticket_status": text(facts.ticket_status),
        "source": facts.item_source,
        "channel": text(facts.channel),
        "sentiment": _words(facts.label) if facts.scored else "not scored",
        "score": f"{facts.score:+.2f}" if facts.scored else "",
        "frustrated": "yes" if facts.frustrated else "no",
        "topic": text(facts.topic),
        "tier": text(facts.tier) or "unknown",
        "arr": "" if facts.arr is None else f"{facts.arr:,.0f}",
        "language": text(facts.language),
        "rule": rule,
        "excerpt": facts.text_excerpt,
        "contact_id": text(facts.contact_id),
        "account_id": text(facts.account_id),
        "repeat_contacts": text(facts.repeat_contacts.get(days) if days else None),
        "ref": ref,
        "milestone": text(facts.milestone.get("name") if facts.milestone else None),
    }


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill a validated template; placeholders were checked on load."""
    return string.Formatter().vformat(text, (), dict(values))
