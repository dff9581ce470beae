"""Route: YAML rules -> the `ops.actions` outbox (idempotent) -> the dispatcher sends.

- `rules`: the rules file's schema, validation and the pure evaluation of an item;
- `facts`: what the rules know about an item (score, customer, consent, tier, repeats);
- `decide`: rules -> outbox rows, in the scoring transaction (`scored_hook`) or afterwards
  (`decide_pending`), with explanations, guards and fair offers (`offers`);
- `dispatch`: sends due actions exactly once where the target allows it, alerts on failures;
- `explain`: why an action was decided, in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

from feedbackloop.config import Settings
from feedbackloop.routing.decide import (
    DecideReport,
    decide,
    decide_items,
    decide_pending,
    scored_hook,
)
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
    "RulesError",
    "RulesFile",
    "decide",
    "decide_items",
    "decide_pending",
    "dispatch",
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
