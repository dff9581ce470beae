"""Shared setup of the scoring, review and dashboard tests: demo items loaded, scored with the
real pipeline and routed (one-statement reads are in support.db)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text

from demo.generator import generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.routing import RulesFile, scored_hook
from feedbackloop.scoring import score_pending
from nlp import load_pipeline


def scored_and_routed(
    engine: Engine, settings: Settings, rules: RulesFile, *, now: datetime, seed: int = 23
) -> None:
    """300 demo tickets' items scored and routed; live decisions marked sent as the dispatcher
    would."""
    load_dataset(engine, generate(seed=seed, tickets=300, now=now), hash_key=settings.hash_key())
    # Routed on the rule scorer: what these scenarios' expectations were written for.
    nlp = load_pipeline(sentiment_model="rules")
    score_pending(engine, nlp, on_scored=scored_hook(rules, now=now))
    with engine.begin() as conn:
        conn.execute(text("UPDATE ops.actions SET status = 'sent' WHERE status = 'pending'"))
