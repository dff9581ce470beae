"""Route: YAML rules -> the `ops.actions` outbox (idempotent) -> the dispatcher sends.

- `rules`: the rules file's schema, validation and the pure evaluation of an item;
- `facts`: what the rules know about an item (score, customer, consent, tier, repeats);
- `decide`: rules -> outbox rows, in the scoring transaction (`scored_hook`) or afterwards
  (`decide_pending`), with explanations, guards and fair offers (`offers`);
- `dispatch`: sends due actions exactly once where the target allows it, alerts on failures;
- `explain`: why an action was decided, in plain words.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.routing.decide import DecideReport, decide, decide_pending, scored_hook
from feedbackloop.routing.dispatch import (
    DispatchHooks,
    DispatchReport,
    dispatch,
    require_targets,
)
from feedbackloop.routing.explain import ExplainError, explain_text
from feedbackloop.routing.offers import FairnessReport, fairness_report
from feedbackloop.routing.rules import RulesError, RulesFile, load_rules

__all__ = [
    "DecideReport",
    "DispatchHooks",
    "DispatchReport",
    "ExplainError",
    "FairnessReport",
    "RouteReport",
    "RoutingSummary",
    "RulesError",
    "RulesFile",
    "decide",
    "decide_pending",
    "demo_summary",
    "dispatch",
    "example_action",
    "explain_text",
    "fairness_report",
    "load_rules",
    "require_targets",
    "rules_from_settings",
    "scored_hook",
]


def rules_from_settings(settings: Settings) -> RulesFile:
    """The rules file named by `FEEDBACKLOOP_ROUTING_RULES_PATH`, validated."""
    return load_rules(settings.routing_rules_path)


@dataclass
class RouteReport:
    decided: DecideReport
    dispatched: DispatchReport | None = None


@dataclass
class RoutingSummary:
    """Actions by type and rule, with their statuses (pending, sent, shadow, skipped, ...)."""

    by_type: dict[str, Counter[str]] = field(default_factory=dict)
    by_rule: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    total: int = 0
    example_action_id: int | None = None

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"rule": rule, "action_type": kind, **counts, "total": sum(counts.values())}
            for (rule, kind), counts in sorted(self.by_rule.items())
        ]


def example_action(engine: Engine) -> int | None:
    """An action worth explaining in a demo: a sent auto-reply, else a sent action, else a
    skipped one (it says why nobody was contacted), else any."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                """
                SELECT id FROM ops.actions
                ORDER BY (action_type = 'auto_reply' AND status = 'sent') DESC,
                         (status = 'sent') DESC, (status = 'skipped') DESC, id
                LIMIT 1
                """
            )
        ).scalar_one_or_none()


def demo_summary(engine: Engine) -> RoutingSummary:
    summary = RoutingSummary()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    by_rule: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT rule, action_type, status, count(*) AS n FROM ops.actions "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            )
        ).all()
    for row in rows:
        by_type[row.action_type][row.status] += row.n
        by_rule[(row.rule, row.action_type)][row.status] += row.n
        summary.total += row.n
    summary.by_type = dict(by_type)
    summary.by_rule = dict(by_rule)
    summary.example_action_id = example_action(engine)
    return summary
