"""Usage milestones: product events (`raw.segment_events`) -> reached milestones -> items.

A milestones file (`config/milestones.yml`, `FEEDBACKLOOP_MILESTONES_PATH`) names them::

    milestones:
      - name: tenth-report          # a slug; names the milestone in rules and reports
        event: Report Created       # a `track` event ...
        count: 10                   # ... counted this many times (default 1: the first)
        per: user                   # user (default) or account
        where: {plan: pro}          # optional: properties the event must carry (equal values)
      - name: trial-day-7
        trait: trial_started_at     # an `identify` trait holding a timestamp ...
        days_after: 7               # ... reached this many days after it
        per: user

A user is Segment's `userId`, else its `anonymousId`; an account is the event's account
(`sources.segment`). Counting reads only the stored (masked or keyed) ids. The count is over
every stored event, in event-time order, so late or replayed events count once and in place.

Reaching a milestone writes one `ops.milestones` row, once ever per (milestone, per, user or
account): the unique constraint makes a concurrent evaluation's insert a no-op. Each row is a
`milestone` feedback item (`ops.feedback_items`); when `decide` is given, the routing rules
decide for the new items in the same transaction (`routing.decide.decide_items`), so a
milestone and the actions it causes commit together. The item's contact is the CRM contact
whose id is the user's id, else the contact with the email hash of the user's newest
`identify` (never an erased contact): consent to contact is theirs, and a user with no known
contact is counted but never contacted.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from feedbackloop.config import ConfigError, Settings
from feedbackloop.db.models import MilestoneReached
from feedbackloop.db.upsert import insert_new
from feedbackloop.governance.fields import mask_fields, mask_json
from feedbackloop.sources.base import Invalid, parse_timestamp
from feedbackloop.yamlfile import describe, parse_mapping, read_file

__all__ = [
    "ITEM_SOURCE",
    "ITEM_TYPE",
    "EvaluateReport",
    "Milestone",
    "MilestonesError",
    "MilestonesFile",
    "evaluate",
    "evaluate_from_settings",
    "has_events",
    "load_milestones",
    "parse_milestones",
    "reached",
]

log = logging.getLogger(__name__)

ITEM_TYPE = "milestone"
ITEM_SOURCE = "segment"
_SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"

ItemKey = tuple[str, str, str]
# decide(conn, new item keys) -> actions written; the routing rules, in the same transaction.
DecideHook = Callable[[Connection, list[ItemKey]], int]


class MilestonesError(ConfigError):
    """The milestones file is invalid; the message names the file, the milestone and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = str | int | float | bool


class Milestone(_Strict):
    name: Annotated[str, Field(pattern=_SLUG)]
    description: str = ""
    per: Literal["user", "account"] = "user"
    # Count-based: a `track` event, counted `count` times, optionally with property filters.
    event: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    count: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    where: dict[Annotated[str, Field(min_length=1)], Scalar] = Field(default_factory=dict)
    # Trait-based: `days_after` days after the timestamp an `identify` trait holds.
    trait: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    days_after: Annotated[int, Field(ge=0, le=3650)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Milestone:
        if (self.event is None) == (self.trait is None):
            raise ValueError("give exactly one of event (with count) or trait (with days_after)")
        if self.event is not None and self.days_after is not None:
            raise ValueError("days_after goes with trait, not with event")
        if self.trait is not None:
            if self.days_after is None:
                raise ValueError("a trait milestone needs days_after")
            if self.count is not None or self.where:
                raise ValueError("count and where go with event, not with trait")
        return self

    @property
    def threshold(self) -> int:
        return self.count or 1

    def describe(self) -> str:
        """In words, for reports and explanations."""
        who = "a user" if self.per == "user" else "an account"
        if self.trait is not None:
            return f"{self.days_after} days after {who}'s `{self.trait}` trait"
        nth = _ordinal(self.threshold)
        where = ", ".join(f"{k} = {v}" for k, v in self.where.items())
        return f"{who}'s {nth} `{self.event}` event" + (f" with {where}" if where else "")

    def definition(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=False)


class MilestonesFile(_Strict):
    version: Literal[1] = 1
    milestones: list[Milestone] = Field(default_factory=list)
    source: str = ""
    milestones_version: str = ""

    @model_validator(mode="after")
    def _unique_names(self) -> MilestonesFile:
        names = [m.name for m in self.milestones]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"milestone name {dupes[0]!r} is used twice")
        return self

    def get(self, name: str) -> Milestone | None:
        return next((m for m in self.milestones if m.name == name), None)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return "first" if n == 1 else f"{n}{suffix}"


# ----------------------------------------------------------------------------- loading


def load_milestones(path: Path | str) -> MilestonesFile:
    """Read and validate a milestones file; `MilestonesError` is one line on failure."""
    path = Path(path)
    raw_text = read_file(
        path, error=MilestonesError, what="milestones", setting="FEEDBACKLOOP_MILESTONES_PATH"
    )
    return parse_milestones(raw_text, source=str(path))


def parse_milestones(raw_text: str, *, source: str = "<milestones>") -> MilestonesFile:
    raw, version = parse_mapping(
        raw_text,
        source=source,
        error=MilestonesError,
        expected="`milestones: [...]`",
        empty_ok=True,
    )
    try:
        return MilestonesFile.model_validate(
            {**raw, "source": source, "milestones_version": version}
        )
    except ValidationError as exc:
        where = describe(exc, raw, {"milestones": "milestone"})
        raise MilestonesError(f"{source}: {where}") from None


# -------------------------------------------------------------------------- evaluation


@dataclass
class EvaluateReport:
    reached: Counter[str] = field(default_factory=Counter)  # new rows per milestone
    actions: int = 0  # actions the routing rules decided for them
    unreadable_traits: int = 0  # trait values that are not timestamps (never reached)

    @property
    def total(self) -> int:
        return sum(self.reached.values())


_SUBJECT = {"user": "coalesce(e.user_id, e.anonymous_id)", "account": "e.account_id"}

_COUNTED = """
    WITH matching AS (
        SELECT e.message_id, e.user_id, e.account_id, e.occurred_at,
               {subject} AS subject_id,
               row_number() OVER (PARTITION BY {subject} ORDER BY e.occurred_at, e.id) AS n
        FROM raw.segment_events e
        WHERE e.call_type = 'track' AND e.event = :event
          AND e.properties @> CAST(:where AS jsonb) AND {subject} IS NOT NULL
    )
    SELECT x.subject_id, x.user_id, x.account_id, x.occurred_at AS reached_at, x.message_id
    FROM matching x
    WHERE x.n = :count
      AND NOT EXISTS (
          SELECT 1 FROM ops.milestones r
          WHERE r.name = :name AND r.per = :per AND r.subject_id = x.subject_id
      )
"""

_TRAITS = """
    SELECT DISTINCT ON ({subject}) {subject} AS subject_id, e.user_id, e.account_id,
           e.traits ->> :trait AS value, e.message_id
    FROM raw.segment_events e
    WHERE e.call_type = 'identify' AND (e.traits -> :trait) IS NOT NULL AND {subject} IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM ops.milestones r
          WHERE r.name = :name AND r.per = :per AND r.subject_id = {subject}
      )
    ORDER BY {subject}, e.occurred_at DESC, e.id DESC
"""

# The contact a user resolves to: the contact whose id is the user id (the product sends CRM
# ids), else the one with the email hash of the user's newest identify; never an erased one.
_CONTACTS = text(
    """
    WITH wanted AS (SELECT DISTINCT unnest(:ids) AS user_id),
    hashes AS (
        SELECT DISTINCT ON (e.user_id) e.user_id, e.email_hash
        FROM raw.segment_events e JOIN wanted w ON w.user_id = e.user_id
        WHERE e.email_hash IS NOT NULL
        ORDER BY e.user_id, e.occurred_at DESC, e.id DESC
    )
    SELECT w.user_id, (
        SELECT c.source_id FROM raw.contacts c
        WHERE c.erased_at IS NULL
          AND (c.source_id = w.user_id OR c.email_hash = h.email_hash)
        ORDER BY (c.source_id = w.user_id) DESC, (c.source = 'crm') DESC,
                 c.created_at NULLS LAST, c.source_id
        LIMIT 1
    ) AS contact_id
    FROM wanted w LEFT JOIN hashes h ON h.user_id = w.user_id
    """
).bindparams(bindparam("ids", type_=ARRAY(String)))


def has_events(engine: Engine) -> bool:
    """Whether any product event was ever stored (nothing to evaluate otherwise)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM raw.segment_events)")).scalar_one()


def _counted(conn: Connection, m: Milestone, key: bytes) -> list[dict[str, Any]]:
    # Compared with the stored form: event names and property values are stored masked.
    event = mask_fields({"event": m.event}, key=key)["event"]
    where = mask_json(dict(m.where), key)
    rows = conn.execute(
        text(_COUNTED.format(subject=_SUBJECT[m.per])),
        {
            "event": event,
            "where": json.dumps(where),
            "count": m.threshold,
            "name": m.name,
            "per": m.per,
        },
    ).all()
    return [
        {
            "subject_id": r.subject_id,
            "user_id": r.user_id,
            "account_id": r.account_id,
            "reached_at": r.reached_at,
            "evidence": {"events": m.threshold, "message_id": r.message_id},
        }
        for r in rows
    ]


def _by_trait(
    conn: Connection, m: Milestone, now: datetime, report: EvaluateReport
) -> list[dict[str, Any]]:
    assert m.trait is not None and m.days_after is not None
    rows = conn.execute(
        text(_TRAITS.format(subject=_SUBJECT[m.per])),
        {"trait": m.trait, "name": m.name, "per": m.per},
    ).all()
    out = []
    for r in rows:
        try:
            start = parse_timestamp(r.value, m.trait)
        except Invalid:
            report.unreadable_traits += 1
            continue
        due = start + timedelta(days=m.days_after)
        if due <= now:
            out.append(
                {
                    "subject_id": r.subject_id,
                    "user_id": r.user_id,
                    "account_id": r.account_id,
                    "reached_at": due,
                    "evidence": {"trait": m.trait, "message_id": r.message_id},
                }
            )
    return out


def _record(conn: Connection, m: Milestone, found: Sequence[dict[str, Any]]) -> list[ItemKey]:
    """Insert what is new (a concurrent evaluation's rows win, silently); the new item keys."""
    users = sorted({f["user_id"] for f in found if f["user_id"]})
    contacts = (
        {r.user_id: r.contact_id for r in conn.execute(_CONTACTS, {"ids": users})} if users else {}
    )
    rows = [
        {
            "name": m.name,
            "per": m.per,
            "subject_id": f["subject_id"],
            "user_id": f["user_id"],
            "account_id": f["account_id"],
            "contact_id": contacts.get(f["user_id"]),
            "reached_at": f["reached_at"],
            "definition": m.definition(),
            "evidence": f["evidence"],
        }
        for f in found
    ]
    inserted = insert_new(conn, MilestoneReached, rows, constraint="uq_milestones_name_per_subject")
    return [(ITEM_TYPE, ITEM_SOURCE, str(i)) for i in inserted]


def evaluate(
    engine: Engine,
    milestones: MilestonesFile,
    *,
    key: bytes,
    decide: DecideHook | None = None,
    now: datetime | None = None,
) -> EvaluateReport:
    """Record every milestone reached and not recorded yet; one transaction per milestone,
    with the routing decisions for its new items (`decide`) in it."""
    now = now or datetime.now(UTC)
    report = EvaluateReport()
    for m in milestones.milestones:
        with engine.begin() as conn:
            if m.event is not None:
                found = _counted(conn, m, key)
            else:
                found = _by_trait(conn, m, now, report)
            if not found:
                continue
            new = _record(conn, m, found)
            report.reached[m.name] += len(new)
            if new and decide is not None:
                report.actions += decide(conn, new)
    return report


# ------------------------------------------------------------------------------ listing


def reached(engine: Engine, name: str | None = None) -> list[dict[str, Any]]:
    """Reached milestones, oldest first: name, user_id, account_id, reached_at (ISO 8601),
    with per, subject_id, contact_id and the feedback item's key (`milestone:segment:<id>`)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, name, per, subject_id, user_id, account_id, contact_id, reached_at, "
                "recorded_at FROM ops.milestones "
                "WHERE CAST(:name AS text) IS NULL OR name = :name ORDER BY reached_at, id"
            ),
            {"name": name},
        ).all()
    return [
        {
            "name": r.name,
            "user_id": r.user_id,
            "account_id": r.account_id,
            "reached_at": r.reached_at.astimezone(UTC).isoformat(),
            "per": r.per,
            "subject_id": r.subject_id,
            "contact_id": r.contact_id,
            "item": f"{ITEM_TYPE}:{ITEM_SOURCE}:{r.id}",
            "recorded_at": r.recorded_at.astimezone(UTC).isoformat(),
        }
        for r in rows
    ]


# ------------------------------------------------------------------------------ running


def evaluate_from_settings(
    engine: Engine, settings: Settings, *, strict_rules: bool = True
) -> EvaluateReport:
    """What `feedbackloop milestones evaluate` and the webhook flow run: the milestones file
    of the settings, with the routing rules deciding for new milestones in the same
    transaction. Nothing to do (and no file read) before the first product event arrives.

    `strict_rules=False` (the flow): a routing rules file that does not load leaves the new
    milestones undecided, and route-actions decides them later (`decide_pending` reads new
    milestones too), instead of holding back the milestones themselves."""
    if not has_events(engine):
        return EvaluateReport()
    milestones = load_milestones(settings.milestones_path)
    from feedbackloop.routing import decide_items, rules_from_settings

    try:
        rules = rules_from_settings(settings)
    except ConfigError as exc:
        if strict_rules:
            raise
        log.warning("milestones recorded without routing decisions: %s", exc)
        return evaluate(engine, milestones, key=settings.hash_key())

    def decide(conn: Connection, keys: list[ItemKey]) -> int:
        return decide_items(conn, rules, keys).decided

    return evaluate(engine, milestones, key=settings.hash_key(), decide=decide)
