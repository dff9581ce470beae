"""Fair offers: variants rotate within each customer segment, with a cap per customer.

The variant chosen is the one offered least so far in the customer's segment (ties: the one the
customer did not get last, then file order), so every segment sees every variant in turn and no
segment always gets the same offer. A customer who already had `cap.per_customer` offers of
that name in the last `cap.window_days` gets none: the decision is recorded as skipped.

Live decisions count live offers (pending, sending, sent); shadow decisions count shadow ones
too, so a shadow rule shows what the live rule would do.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from feedbackloop.routing.rules import ItemFacts, Offer, RulesFile, Variant

__all__ = ["FairnessReport", "FairnessRow", "OfferChoice", "OfferLedger", "fairness_report"]

LIVE = ("pending", "sending", "sent")
WITH_SHADOW = (*LIVE, "shadow")


def segment_of(offer: Offer, facts: ItemFacts) -> str:
    values = {
        "customer_tier": facts.tier,
        "language": (facts.language or "").split("-")[0] or None,
        "channel": facts.channel,
    }
    return "/".join(str(values[s] or "unknown") for s in offer.segment_by)


@dataclass(frozen=True)
class OfferChoice:
    name: str
    offer: Offer
    segment: str
    customer: str | None
    variant: Variant | None  # None: capped
    capped_reason: str | None
    counts_before: dict[str, int]
    customer_recent: int

    def explanation(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.offer.kind,
            "variant": self.variant.id if self.variant else None,
            "segment": self.segment,
            "segment_by": list(self.offer.segment_by),
            "customer": self.customer,
            "offered_in_segment_before": self.counts_before,
            "customer_offers_in_window": self.customer_recent,
            "cap": self.offer.cap.model_dump(),
        }


@dataclass
class _OfferState:
    # (segment, variant, shadow?) -> count, all time
    rotation: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    # customer -> [(created_at, variant, shadow?)] inside the window
    recent: dict[str, list[tuple[datetime, str, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )


class OfferLedger:
    """Offer history for one decide transaction, read once per offer and kept current as
    decisions are added, so a batch rotates and caps as if decided one by one."""

    def __init__(self, conn: Connection, rules: RulesFile, now: datetime) -> None:
        self.conn = conn
        self.rules = rules
        self.now = now
        self._state: dict[str, _OfferState] = {}

    def _load(self, name: str) -> _OfferState:
        if name in self._state:
            return self._state[name]
        offer = self.rules.offers[name]
        state = _OfferState()
        rows = self.conn.execute(
            text(
                """
                SELECT explanation->'offer'->>'segment' AS segment,
                       explanation->'offer'->>'variant' AS variant,
                       status = 'shadow' AS shadow, count(*) AS n
                FROM ops.actions
                WHERE action_type = 'auto_reply' AND status = ANY(:statuses)
                  AND explanation->'offer'->>'name' = :name
                GROUP BY 1, 2, 3
                """
            ),
            {"name": name, "statuses": list(WITH_SHADOW)},
        )
        for row in rows:
            state.rotation[(row.segment, row.variant, row.shadow)] += row.n
        since = self.now - timedelta(days=offer.cap.window_days)
        rows = self.conn.execute(
            text(
                """
                SELECT explanation->'offer'->>'customer' AS customer, created_at,
                       explanation->'offer'->>'variant' AS variant, status = 'shadow' AS shadow
                FROM ops.actions
                WHERE action_type = 'auto_reply' AND status = ANY(:statuses)
                  AND explanation->'offer'->>'name' = :name AND created_at > :since
                ORDER BY created_at
                """
            ),
            {"name": name, "statuses": list(WITH_SHADOW), "since": since},
        )
        for row in rows:
            state.recent[row.customer].append((row.created_at, row.variant, row.shadow))
        self._state[name] = state
        return state

    def choose(self, name: str, facts: ItemFacts, *, shadow: bool) -> OfferChoice:
        offer = self.rules.offers[name]
        state = self._load(name)
        segment = segment_of(offer, facts)
        customer = facts.customer_id
        since = self.now - timedelta(days=offer.cap.window_days)
        history = [
            h for h in state.recent.get(customer or "", []) if h[0] > since and (shadow or not h[2])
        ]
        counts = {
            v.id: sum(
                n
                for (seg, var, is_shadow), n in state.rotation.items()
                if seg == segment and var == v.id and (shadow or not is_shadow)
            )
            for v in offer.variants
        }
        if customer and len(history) >= offer.cap.per_customer:
            reason = (
                f"offer cap reached: at most {offer.cap.per_customer} {offer.kind} offer(s) per "
                f"customer in {offer.cap.window_days} days"
            )
            return OfferChoice(name, offer, segment, customer, None, reason, counts, len(history))
        last = history[-1][1] if history else None
        order = {v.id: n for n, v in enumerate(offer.variants)}
        variant = min(offer.variants, key=lambda v: (counts[v.id], v.id == last, order[v.id]))
        return OfferChoice(name, offer, segment, customer, variant, None, counts, len(history))

    def record(self, choice: OfferChoice, *, shadow: bool) -> None:
        """Count a decision of this batch (written with the batch's actions)."""
        if choice.variant is None:
            return
        state = self._load(choice.name)
        state.rotation[(choice.segment, choice.variant.id, shadow)] += 1
        if choice.customer:
            state.recent[choice.customer].append((self.now, choice.variant.id, shadow))


# ------------------------------------------------------------------------------ report


@dataclass(frozen=True)
class FairnessRow:
    offer: str
    kind: str
    segment: str
    variant: str
    offered: int  # live: pending, sending, sent
    shadow: int
    capped: int  # decisions skipped by the cap (variant "-")


@dataclass
class FairnessReport:
    rows: list[FairnessRow]
    # Segments where one variant got every offer although the offer has more than one.
    flags: list[str]


def fairness_report(engine: Engine, rules: RulesFile | None = None) -> FairnessReport:
    """Offers by offer, segment and variant, with the capped decisions."""
    with engine.connect() as conn:
        result = conn.execute(
            text(
                """
                SELECT explanation->'offer'->>'name' AS offer,
                       explanation->'offer'->>'kind' AS kind,
                       explanation->'offer'->>'segment' AS segment,
                       coalesce(explanation->'offer'->>'variant', '-') AS variant,
                       count(*) FILTER (WHERE status IN ('pending', 'sending', 'sent'))
                           AS offered,
                       count(*) FILTER (WHERE status = 'shadow') AS shadow,
                       count(*) FILTER (WHERE status = 'skipped'
                                        AND explanation->'offer'->>'variant' IS NULL) AS capped
                FROM ops.actions
                WHERE action_type = 'auto_reply' AND explanation ? 'offer'
                GROUP BY 1, 2, 3, 4
                ORDER BY 1, 3, 4
                """
            )
        )
        rows = [FairnessRow(**r._mapping) for r in result]
    flags = []
    by_segment: dict[tuple[str, str], list[FairnessRow]] = defaultdict(list)
    for row in rows:
        if row.variant != "-":
            by_segment[(row.offer, row.segment)].append(row)
    for (offer, segment), seg_rows in sorted(by_segment.items()):
        configured = len(rules.offers[offer].variants) if rules and offer in rules.offers else 2
        given = [r for r in seg_rows if r.offered + r.shadow > 0]
        total = sum(r.offered + r.shadow for r in given)
        if configured > 1 and len(given) == 1 and total >= configured:
            flags.append(
                f"offer {offer}, segment {segment}: all {total} offers were variant "
                f"{given[0].variant}"
            )
    return FairnessReport(rows, flags)
