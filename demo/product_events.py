"""Product events for the demo: Segment `track` and `identify` calls for some of the generated
customers, sent signed through the real `POST /webhooks/segment` of the real webhook app, so
usage milestones (config/milestones.yml) are reached and routed (config/routing.yml, rule
`milestone-survey`).

Who gets what (from the dataset, so the same seed gives the same story):
- three customers who consented to be contacted, with a valid address: 12 `Report Created`
  events each (the 10th reaches `tenth-report`; the survey task is sent to the fake HubSpot);
- one customer who did not consent: 10 events; the milestone is reached and counted, and the
  action is recorded as skipped with the reason;
- one customer known to the product by its own user id, matched by the email trait of an
  `identify` call (stored only as its keyed hash), 8 days into a trial (`trial-day-7`);
- an `Invite Sent` event for an account (`first-invite`), one call replayed (stored once) and
  one call without a messageId (quarantined with the reason).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from demo.generator import DemoContact, DemoDataset
from feedbackloop.config import Settings
from feedbackloop.governance.identity import check_email
from feedbackloop.processes import free_port
from feedbackloop.serve import webhook_receiver
from feedbackloop.sources.segment import Intake
from feedbackloop.web import create_app
from feedbackloop.web.segment import PATH, segment_signature

__all__ = ["ProductEvents", "milestone_calls", "send_product_events"]

REPORTS = "Report Created"


@dataclass
class ProductEvents:
    """What the demo sent and what the endpoint answered: `intake` is the endpoint's own count
    summed over its answers (`received`: the calls sent), so it reconciles unless a call was
    lost on the way."""

    requests: int = 0
    intake: Intake = field(default_factory=Intake)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _track(user: str, event: str, at: datetime, account: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "track",
        "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{user}:{event}:{_stamp(at)}")),
        "userId": user,
        "event": event,
        "properties": {"source": "demo"},
        "timestamp": _stamp(at),
    }
    if account:
        call["context"] = {"groupId": account}
    return call


def _reachable(c: DemoContact) -> bool:
    return c.consent_contact and check_email(c.email).valid


def milestone_calls(dataset: DemoDataset, now: datetime) -> list[dict[str, Any]]:
    """The demo's Segment calls, timed in the hour before `now` (recent usage is routed)."""
    consented = [c for c in dataset.contacts if _reachable(c)][:3]
    declined = [c for c in dataset.contacts if not c.consent_contact][:1]
    start = now - timedelta(hours=1)
    calls: list[dict[str, Any]] = []
    for n, contact in enumerate([*consented, *declined]):
        times = 12 if contact in consented else 10
        calls += [
            _track(
                contact.source_id,
                REPORTS,
                start + timedelta(minutes=n, seconds=i),
                contact.account_source_id,
            )
            for i in range(times)
        ]
    if consented:
        first = consented[0]
        calls.append(_track(first.source_id, "Invite Sent", start, first.account_source_id))
    trial = next((c for c in dataset.contacts if _reachable(c) and c not in consented), None)
    if trial is not None:
        calls.append(
            {
                "type": "identify",
                "messageId": f"demo-identify-{trial.source_id}",
                "userId": f"app-user-{trial.source_id}",
                # Sent as a product would; stored only as the keyed hash of the address.
                "traits": {
                    "email": trial.email,
                    "plan": "trial",
                    "trial_started_at": _stamp(now - timedelta(days=8)),
                },
                "timestamp": _stamp(start),
            }
        )
    if calls:
        calls.append(dict(calls[0]))  # a retry of the first call: stored once
        calls.append({**calls[1], "messageId": None})  # unusable: quarantined with the reason
    return calls


def _batches(calls: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(calls), size):
        yield calls[start : start + size]


@contextmanager
def _receiver(settings: Settings, engine: Engine, secret: str) -> Iterator[str]:
    """The real webhook app with a Segment secret of this run, on a free local port."""
    configured = settings.updated({"segment_shared_secret": secret})
    app = create_app(configured, engine=engine)
    with webhook_receiver(app, "127.0.0.1", free_port()) as url:
        yield url


def send_product_events(
    settings: Settings, engine: Engine, dataset: DemoDataset, *, now: datetime | None = None
) -> ProductEvents:
    """Post the demo's calls, signed, in Segment's batch shape (and one single call)."""
    calls = milestone_calls(dataset, now or datetime.now(UTC))
    secret = secrets.token_hex(16)
    result = ProductEvents(intake=Intake(received=len(calls)))
    with _receiver(settings, engine, secret) as url, httpx.Client(timeout=30) as client:
        bodies = [json.dumps(calls[0]).encode()]  # a single call, not a batch
        bodies += [json.dumps({"batch": list(b)}).encode() for b in _batches(calls[1:], 25)]
        for body in bodies:
            response = client.post(
                f"{url}{PATH}",
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-signature": segment_signature(secret, body),
                },
            )
            if response.status_code not in (200, 400):
                response.raise_for_status()
            answer = response.json()
            result.requests += 1
            result.intake.stored += answer.get("stored", 0)
            result.intake.duplicate += answer.get("duplicate", 0)
            result.intake.quarantined += answer.get("quarantined", 0)
    return result
