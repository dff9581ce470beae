"""A small world for the routing tests: a generated dataset loaded into a real database, a fake
Zendesk serving the same tickets, a fake Slack and a fake HubSpot on 127.0.0.1, and settings
that point the dispatcher at them. Scores are written directly, so each test decides exactly
how an item reads; the real scorer is exercised by the score-hook tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from demo.fake_targets import FakeHubSpot, FakeSlack, serve_fake_targets
from demo.fake_zendesk import FakeZendesk, serve_fake_zendesk
from demo.generator import DemoDataset, DemoTicket, generate
from demo.load import load_dataset
from feedbackloop.config import Settings
from feedbackloop.notify import Targets
from feedbackloop.routing import (
    DecideReport,
    DispatchHooks,
    DispatchReport,
    RulesFile,
    decide_pending,
    dispatch,
)
from feedbackloop.routing.rules import parse_rules

from .db import set_consent

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MODEL = "test-model-v1"

DISCLOSURE = (
    "disclosure: 'This reply was written by an automated system that read your message. "
    "(ref {ref})'\n"
)


def rules(yaml_text: str) -> RulesFile:
    """Rules from YAML; a disclosure is added when the text has none."""
    if "disclosure:" not in yaml_text:
        yaml_text = DISCLOSURE + yaml_text
    return parse_rules(yaml_text, source="test-rules.yml")


class Crash(BaseException):
    """A process dying: not an Exception, so nothing on the way up handles it."""


@dataclass
class World:
    engine: Engine
    settings: Settings
    dataset: DemoDataset
    zendesk: FakeZendesk
    slack: FakeSlack
    hubspot: FakeHubSpot
    waits: list[float] = field(default_factory=list)

    # ------------------------------------------------------------------------- data

    def ticket(self, n: int = 0, *, tier: str | None = None) -> DemoTicket:
        """The n-th ticket with a CRM requester and account (optionally of a tier)."""
        accounts = {a.source_id: a.tier for a in self.dataset.accounts}
        contacts = {c.source_id for c in self.dataset.contacts}
        tickets = [
            t
            for t in self.dataset.tickets
            if t.requester_source_id in contacts
            and t.account_source_id in accounts
            and (tier is None or accounts[t.account_source_id] == tier)
        ]
        return tickets[n]

    def score(
        self,
        item_type: str,
        item_id: str,
        *,
        label: str,
        score: float,
        frustrated: bool = False,
        source: str = "zendesk",
        recent: bool = True,
        model_version: str = MODEL,
    ) -> None:
        """Store a score for an item; with `recent`, the item is made recent (so it is routed)
        and, for a ticket, open in the database and in the fake (Zendesk refuses to update
        closed tickets)."""
        table = {
            "ticket": "tickets",
            "satisfaction_rating": "satisfaction_ratings",
            "review": "reviews",
            "note": "notes",
        }[item_type]
        explanation = {
            "signals": [
                {"token": "cancel", "i": 3, "weight": round(min(score, 0) * 1.5, 3)},
                {"token": "thanks", "i": 9, "weight": 0.4},
                {"rule": "frustration", "weight": 0.0, "evidence": ["churn_threat"]},
            ],
            "scored": True,
            "reason": "",
        }
        with self.engine.begin() as conn:
            if recent:
                conn.execute(
                    text(
                        f"UPDATE raw.{table} SET created_at = :at "
                        "WHERE source = :s AND source_id = :id"
                    ),
                    {"at": NOW - timedelta(hours=2), "s": source, "id": item_id},
                )
                if item_type == "ticket":
                    self.set_ticket_status(item_id, "open", conn=conn)
            conn.execute(
                text(
                    """
                    INSERT INTO nlp.feedback_scores (item_type, item_source, item_source_id,
                        model_version, text_hash, sentiment, label, frustrated, language,
                        explanation)
                    VALUES (:t, :s, :id, :v, 'h', :score, :label, :f, 'en', CAST(:e AS jsonb))
                    ON CONFLICT (item_type, item_source, item_source_id, model_version)
                    DO UPDATE SET sentiment = EXCLUDED.sentiment, label = EXCLUDED.label,
                        frustrated = EXCLUDED.frustrated, scored_at = now()
                    """
                ),
                {
                    "t": item_type,
                    "s": source,
                    "id": item_id,
                    "v": model_version,
                    "score": score,
                    "label": label,
                    "f": frustrated,
                    "e": json.dumps(explanation),
                },
            )

    def set_ticket_status(self, ticket_id: str, status: str, *, conn: Any = None) -> None:
        """The ticket's status in raw.tickets (what routing knows) and in the fake Zendesk."""
        if conn is None:
            with self.engine.begin() as own:
                return self.set_ticket_status(ticket_id, status, conn=own)
        conn.execute(
            text("UPDATE raw.tickets SET status = :st WHERE source_id = :id"),
            {"st": status, "id": ticket_id},
        )
        self.zendesk.update_ticket(ticket_id, status=status)
        return None

    def set_contact(
        self,
        contact_id: str,
        *,
        consent_contact: bool | None = None,
        email_valid: bool | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            if email_valid is not None:
                conn.execute(
                    text(
                        "UPDATE raw.contacts SET email_valid = :v, email_invalid_reason = "
                        "CASE WHEN :v THEN NULL ELSE 'invalid domain' END WHERE source_id = :id"
                    ),
                    {"v": email_valid, "id": contact_id},
                )
            if consent_contact is not None:
                set_consent(conn, contact_id, "contact", consent_contact)

    def set_account(self, account_id: str, *, tier: str, arr: float = 0) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE raw.accounts SET tier = :t, arr = :a WHERE source_id = :id"),
                {"t": tier, "a": arr, "id": account_id},
            )

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def actions(self) -> list[Any]:
        return self.rows("SELECT * FROM ops.actions ORDER BY id")

    # ------------------------------------------------------------------------ steps

    def decide(self, rules_file: RulesFile, *, full: bool = True) -> DecideReport:
        return decide_pending(self.engine, rules_file, now=NOW, full=full)

    def targets(self) -> Targets:
        return Targets.from_settings(self.settings, engine=self.engine, sleep=self.waits.append)

    def dispatch(self, hooks: DispatchHooks | None = None, **overrides: Any) -> DispatchReport:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        with self.targets() as targets:
            return dispatch(self.engine, settings, targets=targets, hooks=hooks)


@contextmanager
def routing_world(
    engine: Engine, settings: Settings, *, tickets: int = 40, seed: int = 7
) -> Iterator[World]:
    dataset = generate(seed=seed, tickets=tickets, now=NOW)
    load_dataset(engine, dataset, hash_key=settings.hash_key())
    with ExitStack() as stack:
        zendesk = stack.enter_context(serve_fake_zendesk(dataset))
        fakes = stack.enter_context(serve_fake_targets())
        routed = Settings(
            state_dir=settings.state_dir,
            embedded_database=settings.embedded_database,
            zendesk_base_url=zendesk.base_url,
            zendesk_email=zendesk.email,
            zendesk_api_token=zendesk.api_token,
            slack_webhook_urls=fakes.slack.urls,
            hubspot_base_url=fakes.hubspot.base_url,
            hubspot_token=fakes.hubspot.token,
            routing_alert_channel="ops-alerts",
            routing_retry_delay=0,
            routing_max_attempts=3,
        )
        yield World(engine, routed, dataset, zendesk, fakes.slack, fakes.hubspot)


# One action of every type, as a rule lists them (YAML flow style), for the outbox,
# batched-send and policy tests.
ACTIONS = {
    "slack_alert": "{type: slack_alert, channel: escalations}",
    "set_priority": "{type: set_priority, priority: urgent}",
    "tag": "{type: tag, tags: [angry]}",
    "create_task": '{type: create_task, subject: "Call back"}',
    "auto_reply": "{type: auto_reply, template: sorry}",
}


def one_of_each(
    *kinds: str, label: str = "very_negative", channel: str = "escalations"
) -> RulesFile:
    """A rule with one action of every type in `kinds` (of every type without), for items
    labelled `label`; its Slack alert goes to `channel`, and another channel is another rule."""
    unknown = set(kinds) - ACTIONS.keys()
    if unknown:
        raise ValueError(f"no action of type {sorted(unknown)}")
    chosen = {kind: a for kind, a in ACTIONS.items() if not kinds or kind in kinds}
    if "slack_alert" in chosen:
        chosen["slack_alert"] = f"{{type: slack_alert, channel: {channel}}}"
    name = "r" if channel == "escalations" else f"r-{channel}"
    return rules(
        "rules:\n"
        f"  - name: {name}\n"
        f"    when: {{sentiment_label: [{label}]}}\n"
        "    actions:\n" + "".join(f"      - {a}\n" for a in chosen.values()) + "templates:\n"
        '  sorry: {body: "Sorry.\\n\\n{disclosure}"}\n'
    )


def decided_tickets(w: World, n: int, *kinds: str) -> list[DemoTicket]:
    """The first `n` tickets, from customers who may be contacted, scored very negative and
    frustrated, with the actions of `one_of_each(*kinds)` decided for them."""
    tickets = [w.ticket(i) for i in range(n)]
    for t in tickets:
        w.set_contact(t.requester_source_id, consent_contact=True, email_valid=True)
        w.score("ticket", t.source_id, label="very_negative", score=-0.9, frustrated=True)
    w.decide(one_of_each(*kinds))
    return tickets


# A dispatcher in a process of its own, for the kill -9 tests: it reads its settings from a
# file (secrets included, which `model_dump_json` would mask).
_DISPATCHER = """
import sys
from pathlib import Path
from feedbackloop.config import Settings
from feedbackloop.db import get_engine
from feedbackloop.routing import dispatch

settings = Settings.model_validate_json(Path(sys.argv[1]).read_text())
dispatch(get_engine(settings), settings)
print("finished")
"""


def start_dispatcher(settings: Settings, folder: Path) -> subprocess.Popen[str]:
    data = json.loads(settings.model_dump_json())
    for key in ("zendesk_api_token", "hubspot_token"):
        data[key] = getattr(settings, key).get_secret_value()
    data["slack_webhook_urls"] = {
        k: v.get_secret_value() for k, v in settings.slack_webhook_urls.items()
    }
    config = folder / "settings.json"
    config.write_text(json.dumps(data))
    return subprocess.Popen(
        [sys.executable, "-c", _DISPATCHER, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
