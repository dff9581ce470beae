"""Product events through the real webhook server (uvicorn on 127.0.0.1, a migrated PostgreSQL)
and the usage milestones they reach: Segment's signature, messageId de-duplication, the batch
shape with a bad call quarantined, a milestone reached exactly once under concurrent
deliveries and evaluations, consent, the explanation, and the CLI as a subprocess."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from support.cli import run_cli
from support.db import count, crm_contact, one, rows, set_consent
from support.routing import rules
from support.webhooks import post_segment, serve_webhooks

from feedbackloop.config import Settings
from feedbackloop.governance.identity import email_hash
from feedbackloop.milestones import evaluate, parse_milestones, reached
from feedbackloop.routing import decide_items
from feedbackloop.routing.explain import explain_text
from feedbackloop.web import create_app
from feedbackloop.web.segment import segment_signature

SECRET = "test-segment-shared-secret"
PASSWORD = "dashboard-test-password"
MILESTONES = parse_milestones(
    """
milestones:
  - name: tenth-report
    event: Report Created
    count: 10
  - name: first-pro-invite
    event: Invite Sent
    per: account
    where: {plan: pro}
  - name: trial-day-7
    trait: trial_started_at
    days_after: 7
""",
    source="test-milestones.yml",
)
RULES = rules(
    """
rules:
  - name: milestone-survey
    when: {item_type: [milestone], milestone: [tenth-report, trial-day-7]}
    actions:
      - type: create_task
        subject: "Send the milestone survey: {milestone}"
        contacts_customer: true
  - name: sentiment-only
    when: {sentiment_label: [neutral]}
    actions:
      - {type: slack_alert, channel: never}
"""
)


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "segment_shared_secret": SecretStr(SECRET),
            "dashboard_password": SecretStr(PASSWORD),
        }
    )


@pytest.fixture
def base(web_settings: Settings, engine: Engine) -> Iterator[str]:
    with serve_webhooks(create_app(web_settings, engine=engine)) as url:
        yield url


def _track(user: str | None, event: str, at: datetime, **extra: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "track",
        "messageId": extra.pop("message_id", str(uuid.uuid4())),
        "event": event,
        "properties": extra.pop("properties", {}),
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **extra,
    }
    if user is not None:
        call["userId"] = user
    return call


def _reports(user: str, n: int, start: datetime) -> list[dict[str, Any]]:
    """`n` "Report Created" calls of `user`, a second apart from `start`."""
    return [_track(user, "Report Created", start + timedelta(seconds=i)) for i in range(n)]


def _identify(user: str, traits: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": str(uuid.uuid4()),
        "userId": user,
        "traits": traits,
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _post(base: str, payload: Any, secret: str = SECRET) -> httpx.Response:
    return post_segment(base, json.dumps(payload).encode(), secret)


def _contact(engine: Engine, contact_id: str, email: str, key: bytes, *, consent: bool) -> None:
    with engine.begin() as conn:
        crm_contact(
            conn,
            contact_id,
            email_hash=email_hash(email, key),
            email_domain="example.com",
            email_valid=True,
        )
        set_consent(conn, contact_id, "contact", consent)


def _evaluate(engine: Engine, settings: Settings) -> Any:
    return evaluate(
        engine,
        MILESTONES,
        key=settings.hash_key(),
        decide=lambda conn, keys: decide_items(conn, RULES, keys).decided,
    )


NOW = datetime.now(UTC).replace(microsecond=0)


# ------------------------------------------------------------------------------ intake


def test_bad_signature_is_401_and_nothing_is_stored(
    base: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(_track("u-1", "Report Created", NOW)).encode()
    caplog.set_level(logging.WARNING, logger="feedbackloop.web.segment")
    wrong = post_segment(base, body, "not-the-secret")
    missing = httpx.post(f"{base}/webhooks/segment", content=body, timeout=30)
    shaped = httpx.post(
        f"{base}/webhooks/segment", content=body, headers={"x-signature": "zz"}, timeout=30
    )
    # Signed over another body: a valid signature of something else.
    other = httpx.post(
        f"{base}/webhooks/segment",
        content=body,
        headers={"x-signature": segment_signature(SECRET, b"{}")},
        timeout=30,
    )
    assert [r.status_code for r in (wrong, missing, shaped, other)] == [401, 401, 401, 401]
    assert count(engine, "SELECT count(*) FROM raw.segment_events") == 0
    lines = [r.getMessage() for r in caplog.records if "segment" in r.getMessage()]
    # One line per kind of failure, not one per request; no body in any of them.
    assert lines and all("Report Created" not in line for line in lines)
    assert len(lines) <= 3
    good = post_segment(base, body, SECRET)
    assert good.status_code == 200 and good.json()["stored"] == 1


def test_without_a_secret_the_endpoint_is_closed_and_says_so_once(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="feedbackloop.web.segment")
    body = json.dumps(_track("u-1", "Report Created", NOW)).encode()
    with serve_webhooks(create_app(settings, engine=engine)) as url:
        answers = [post_segment(url, body, SECRET).status_code for _ in range(3)]
        unsigned = httpx.post(f"{url}/webhooks/segment", content=body, timeout=30).status_code
    assert answers == [404, 404, 404] and unsigned == 404
    told = [r for r in caplog.records if "FEEDBACKLOOP_SEGMENT_SHARED_SECRET" in r.getMessage()]
    assert len(told) == 1
    assert count(engine, "SELECT count(*) FROM raw.segment_events") == 0


def test_oversized_body_is_413(base: str, engine: Engine) -> None:
    big = _track("u-1", "Report Created", NOW, properties={"blob": "x" * 1_100_000})
    assert _post(base, big).status_code == 413
    assert count(engine, "SELECT count(*) FROM raw.segment_events") == 0


def test_replayed_message_id_is_stored_once(base: str, engine: Engine) -> None:
    call = _track("u-1", "Report Created", NOW, message_id="msg-replayed-1")
    first, again = _post(base, call), _post(base, call)
    # The same messageId with another body (a retry Segment re-serialized): still one event.
    changed = _post(base, {**call, "properties": {"plan": "pro"}})
    assert first.json() == {"status": "stored", "stored": 1, "duplicate": 0, "quarantined": 0}
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert changed.json()["duplicate"] == 1
    assert count(engine, "SELECT count(*) FROM raw.segment_events") == 1


def test_batch_is_stored_and_a_bad_call_quarantined_with_its_reason(
    base: str, engine: Engine, web_settings: Settings
) -> None:
    good = _reports("u-2", 3, NOW)
    no_id = {**_track("u-2", "Report Created", NOW), "messageId": None}
    page = {"type": "page", "messageId": "page-1", "userId": "u-2", "name": "Home"}
    identify = _identify(
        "jane.doe@example.com",
        {"email": "Jane.Doe@example.com", "name": "Jane Doe", "phone": "+1 415 555 0100"},
        NOW,
    )
    response = _post(base, {"batch": [*good, no_id, page, identify], "sentAt": "x"})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "stored", "stored": 4, "duplicate": 0, "quarantined": 2}
    reasons = sorted(
        r.reason for r in rows(engine, "SELECT reason FROM ops.quarantine WHERE source = 'segment'")
    )
    assert len(reasons) == 2
    assert "messageId is missing" in reasons[0]
    assert "unsupported call type 'page'" in reasons[1]
    # Masked like every source: no address, name or phone number anywhere in the stored rows.
    dump = json.dumps(
        [r._asdict() for r in rows(engine, "SELECT * FROM raw.segment_events")], default=str
    )
    assert "jane.doe" not in dump.lower() and "Jane Doe" not in dump and "555 0100" not in dump
    stored = one(engine, "SELECT * FROM raw.segment_events WHERE call_type = 'identify'")
    assert stored.user_id.startswith("pii-") and stored.email_hash == email_hash(
        "jane.doe@example.com", web_settings.hash_key()
    )
    assert "email" not in stored.traits and stored.traits["phone"] == "<PHONE_NUMBER>"
    # A batch that is not a list, and a body that is not JSON: 400, parked once.
    assert _post(base, {"batch": {"type": "track"}}).status_code == 400
    assert post_segment(base, b"{not json", SECRET).status_code == 400
    assert count(engine, "SELECT count(*) FROM ops.quarantine WHERE source = 'segment'") == 4


# -------------------------------------------------------------------------- milestones


def test_milestone_reached_exactly_once_under_concurrent_deliveries(
    base: str, engine: Engine, web_settings: Settings
) -> None:
    _contact(engine, "c-100", "ada@example.com", web_settings.hash_key(), consent=True)
    # 14 events of one user, each delivered by two senders at once (a retry racing the
    # original), while evaluations run in parallel with the deliveries.
    calls = _reports("c-100", 14, NOW - timedelta(minutes=30))
    done = threading.Event()
    evaluations: list[int] = []

    def evaluator() -> None:
        while not done.is_set():
            evaluations.append(_evaluate(engine, web_settings).total)

    with ThreadPoolExecutor(max_workers=12) as pool:
        evaluators = [pool.submit(evaluator) for _ in range(3)]
        answers = list(pool.map(lambda c: _post(base, c).status_code, calls + calls))
        done.set()
        for f in evaluators:
            f.result()
    evaluations.append(_evaluate(engine, web_settings).total)
    assert set(answers) == {200}
    assert count(engine, "SELECT count(*) FROM raw.segment_events") == 14
    found = rows(engine, "SELECT * FROM ops.milestones")
    assert len(found) == 1 and sum(evaluations) == 1
    m = found[0]
    assert (m.name, m.per, m.subject_id, m.contact_id) == ("tenth-report", "user", "c-100", "c-100")
    # Reached at the 10th event, in event time, of those stored when an evaluation first
    # counted ten: an event's own time, never before the 10th of all 14 (deliveries race).
    times = [NOW - timedelta(minutes=30) + timedelta(seconds=i) for i in range(14)]
    assert m.reached_at in times[9:], m.reached_at
    item = one(
        engine,
        "SELECT * FROM ops.feedback_items WHERE item_type = 'milestone' AND item_source_id = :i",
        i=str(m.id),
    )
    assert (item.contact_id, item.has_text, item.department) == ("c-100", False, "product")
    actions = rows(engine, "SELECT * FROM ops.actions")
    assert [(a.rule, a.action_type, a.status) for a in actions] == [
        ("milestone-survey", "create_task", "pending")
    ]
    assert "tenth-report" in actions[0].payload["properties"]["hs_task_subject"]
    # More events later never reach it again.
    for call in _reports("c-100", 12, NOW):
        _post(base, call)
    assert _evaluate(engine, web_settings).total == 0
    assert count(engine, "SELECT count(*) FROM ops.milestones") == 1


def test_no_consent_is_counted_but_never_contacted(
    base: str, engine: Engine, web_settings: Settings
) -> None:
    key = web_settings.hash_key()
    _contact(engine, "c-yes", "yes@example.com", key, consent=True)
    _contact(engine, "c-no", "no@example.com", key, consent=False)
    start = NOW - timedelta(hours=1)
    # c-no's product user id is not a CRM id: the contact is found by the identify's email.
    calls = [_identify("app-user-77", {"email": "No@Example.com"}, start)]
    for user in ("c-yes", "app-user-77", "anon-only"):
        calls += _reports(user, 10, start)
    assert _post(base, {"batch": calls}).json()["stored"] == 31
    report = _evaluate(engine, web_settings)
    assert report.reached == {"tenth-report": 3}
    by_user = {m["user_id"]: m for m in reached(engine)}
    assert {u: by_user[u]["contact_id"] for u in by_user} == {
        "c-yes": "c-yes",
        "app-user-77": "c-no",
        "anon-only": None,
    }
    actions = rows(
        engine,
        "SELECT a.status, a.last_error, m.user_id FROM ops.actions a "
        "JOIN ops.milestones m ON CAST(m.id AS text) = a.item_source_id "
        "WHERE a.item_type = 'milestone'",
    )
    outcome = {a.user_id: (a.status, a.last_error) for a in actions}
    assert outcome == {
        "c-yes": ("pending", None),
        "app-user-77": ("skipped", "the customer has not consented to be contacted"),
        "anon-only": ("skipped", "no known customer to contact"),
    }
    # No rule about sentiment ever matches an item without text.
    assert count(engine, "SELECT count(*) FROM ops.actions WHERE rule = 'sentiment-only'") == 0


def _invite(user: str, account: str, plan: str, at: datetime) -> dict[str, Any]:
    return _track(user, "Invite Sent", at, context={"groupId": account}, properties={"plan": plan})


def test_trait_account_and_property_filters(
    base: str, engine: Engine, web_settings: Settings
) -> None:
    calls = [
        _identify("t-old", {"trial_started_at": (NOW - timedelta(days=8)).isoformat()}, NOW),
        _identify("t-new", {"trial_started_at": (NOW - timedelta(days=3)).isoformat()}, NOW),
        _identify("t-bad", {"trial_started_at": "next tuesday"}, NOW),
        # Per account, only with plan = pro: acct-free's invites never count.
        _invite("u-a", "acct-pro", "pro", NOW),
        _invite("u-b", "acct-pro", "pro", NOW + timedelta(seconds=1)),
        _invite("u-c", "acct-free", "free", NOW),
    ]
    assert _post(base, {"batch": calls}).json()["stored"] == 6
    report = _evaluate(engine, web_settings)
    assert report.reached == {"trial-day-7": 1, "first-pro-invite": 1}
    assert report.unreadable_traits == 1
    got = {(m["name"], m["subject_id"]): m for m in reached(engine)}
    assert set(got) == {("trial-day-7", "t-old"), ("first-pro-invite", "acct-pro")}
    trial = datetime.fromisoformat(got[("trial-day-7", "t-old")]["reached_at"])
    assert trial == NOW - timedelta(days=1)
    assert got[("first-pro-invite", "acct-pro")]["user_id"] == "u-a"


def test_explanation_page_explains_a_milestone_action(
    base: str, engine: Engine, web_settings: Settings
) -> None:
    _contact(engine, "c-200", "grace@example.com", web_settings.hash_key(), consent=True)
    calls = _reports("c-200", 10, NOW - timedelta(minutes=5))
    _post(base, {"batch": calls})
    _evaluate(engine, web_settings)
    action = one(engine, "SELECT id, payload FROM ops.actions")
    words = explain_text(engine, action.payload["ref"])
    assert 'Usage milestone "tenth-report"' in words and "Report Created" in words
    assert "No text was read" in words
    page = httpx.get(f"{base}/actions/{action.id}", auth=("admin", PASSWORD), timeout=30)
    assert page.status_code == 200
    assert "Usage milestone" in page.text and "tenth-report" in page.text
    assert "no sentiment rule can match it" in page.text
    item = one(engine, "SELECT item_source_id FROM ops.actions").item_source_id
    item_page = httpx.get(
        f"{base}/items/milestone/segment/{item}", auth=("admin", PASSWORD), timeout=30
    )
    assert item_page.status_code == 200 and "milestone-survey" in item_page.text


# --------------------------------------------------------------------------------- CLI


def _cli_env(settings: Settings) -> dict[str, str]:
    return {
        "FEEDBACKLOOP_STATE_DIR": str(settings.state_dir),
        "FEEDBACKLOOP_EMBEDDED_DATABASE": settings.embedded_database,
    }


def test_milestones_check_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = {
        "count.yml": "milestones:\n  - {name: tenth, event: Report Created, count: 0}\n",
        "both.yml": "milestones:\n  - {name: x, event: A, trait: t, days_after: 1}\n",
        "yaml.yml": "milestones: [\n",
        "binary.yml": "\x00\x01\x02",
    }
    for name, body in cases.items():
        (tmp_path / name).write_text(body)
    for name in cases:
        result = run_cli("milestones", "check", str(tmp_path / name))
        assert result.returncode == 2, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert str(tmp_path / name) in result.stderr and "Traceback" not in result.stderr
    assert "count" in run_cli("milestones", "check", str(tmp_path / "count.yml")).stderr
    missing = run_cli("milestones", "check", str(tmp_path / "missing.yml"))
    assert missing.returncode == 2 and "not found" in missing.stderr
    shipped = run_cli("milestones", "check")
    assert shipped.returncode == 0, shipped.stderr
    assert "tenth-report" in shipped.stdout


def test_milestones_evaluate_and_list_json(
    base: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    calls = _reports("c-300", 10, NOW - timedelta(minutes=9))
    _post(base, {"batch": calls})
    env = _cli_env(settings)
    empty = run_cli("milestones", "list", "--json", env=env)
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    evaluated = run_cli("milestones", "evaluate", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "tenth-report: 1 reached" in evaluated.stdout
    listed = run_cli("milestones", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    out = json.loads(listed.stdout)
    assert [(r["name"], r["user_id"], r["account_id"]) for r in out] == [
        ("tenth-report", "c-300", None)
    ]
    assert datetime.fromisoformat(out[0]["reached_at"]) == NOW - timedelta(minutes=9, seconds=-9)
    # The shipped routing rules decided for it (the milestone-survey example rule).
    assert count(engine, "SELECT count(*) FROM ops.actions WHERE rule = 'milestone-survey'") == 1
    bad = tmp_path / "bad.yml"
    bad.write_text("milestones:\n  - {name: Not A Slug, event: A}\n")
    failed = run_cli(
        "milestones", "evaluate", env={**env, "FEEDBACKLOOP_MILESTONES_PATH": str(bad)}
    )
    assert failed.returncode == 2 and len(failed.stderr.strip().splitlines()) == 1
