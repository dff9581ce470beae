"""The outbox dispatcher: sends pending actions, exactly once where the target allows it.

One action at a time, each in three steps, each step committed before the next:

1. claim: the row is taken with `FOR UPDATE SKIP LOCKED` and a session advisory lock (held for
   the whole send; PostgreSQL drops it when the process dies), marked `sending`, and an
   `ops.action_attempts` row is written: the record that a delivery may be under way;
2. send: one HTTP write (429s wait `Retry-After`);
3. record: the attempt's outcome and the action's new status (`sent`, back to `pending` for a
   retry with backoff, or `failed`), then the owners are alerted about a failure.

A crash between 1 and 3 leaves the row `sending` with an open attempt. The next run takes it
over only when its advisory lock is free (its dispatcher is gone), closes that attempt as
`crashed`, and checks the target before sending again: the Zendesk comments for the reply's
reference, the ticket's tags and priority, HubSpot for a task with the same subject, the
contact's property. Slack incoming webhooks cannot be checked and have no idempotency key, so a
Slack alert whose delivery is unknown is never resent: it fails with "delivery unknown" and the
owners are told (at most once; docs/decisions.md).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from feedbackloop.config import ConfigError, Settings
from feedbackloop.notify import Reply, Targets
from feedbackloop.notify.zendesk import Check
from feedbackloop.routing.rules import ACTION_TYPES, RulesFile, SlackAlert
from nlp.pii import mask

__all__ = ["DispatchHooks", "DispatchReport", "dispatch", "require_targets", "sendable_types"]

log = logging.getLogger(__name__)

_LOCK_SPACE = "hashtext('ops.actions')"
_MAX_BACKOFF_S = 3600.0


@dataclass
class DispatchReport:
    sent: int = 0  # delivered in this run
    already_applied: int = 0  # found at the target after a crash or an unanswered request
    retrying: int = 0  # back to pending, to be retried after the backoff
    failed: int = 0  # gave up: rejected, retries exhausted, or delivery unknown (Slack)
    alerts: int = 0  # owner alerts posted about failures
    by_type: Counter[str] = field(default_factory=Counter)  # sent + already_applied per type
    not_configured: list[str] = field(default_factory=list)  # action types left pending

    @property
    def processed(self) -> int:
        return self.sent + self.already_applied + self.retrying + self.failed

    def add(self, other: DispatchReport) -> None:
        """Count another sender's outcomes into this report."""
        self.sent += other.sent
        self.already_applied += other.already_applied
        self.retrying += other.retrying
        self.failed += other.failed
        self.alerts += other.alerts
        self.by_type.update(other.by_type)


@dataclass
class DispatchHooks:
    """Fault-injection points for tests and drills: called after the claim is committed
    (the action is `sending`) and after the write returned, before its outcome is recorded."""

    after_claim: Callable[[dict[str, Any]], None] | None = None
    after_send: Callable[[dict[str, Any], Reply], None] | None = None


@dataclass(frozen=True)
class _Result:
    outcome: str  # attempt outcome: sent, verified, retry, rejected, unknown
    status: str  # action status afterwards: sent, pending, failed
    detail: str
    http_status: int | None = None
    response: dict[str, Any] | None = None


# ------------------------------------------------------------------------ configuration


def sendable_types(targets: Targets) -> list[str]:
    types = []
    if targets.slack is not None:
        types.append("slack_alert")
    if targets.zendesk is not None:
        types += ["auto_reply", "set_priority"]
    if targets.zendesk is not None or targets.hubspot is not None:
        types.append("tag")
    if targets.hubspot is not None:
        types.append("create_task")
    return types


def require_targets(rules: RulesFile, settings: Settings) -> None:
    """Fail fast, naming the settings, when a live rule needs a target that is not configured
    (shadow rules send nothing and need none)."""
    missing: list[str] = []
    zendesk = settings.zendesk_base_url and settings.zendesk_email and settings.zendesk_api_token
    hubspot = settings.hubspot_base_url and settings.hubspot_token
    for rule in rules.rules:
        if rule.shadow:
            continue
        for action in rule.actions:
            where = f'rule "{rule.name}" {action.type}'
            if isinstance(action, SlackAlert) and action.channel not in settings.slack_webhook_urls:
                missing.append(
                    f"{where} posts to #{action.channel}: add it to FEEDBACKLOOP_SLACK_WEBHOOK_URLS"
                )
            if action.type in ("auto_reply", "set_priority", "tag") and not zendesk:
                missing.append(
                    f"{where}: set FEEDBACKLOOP_ZENDESK_BASE_URL, FEEDBACKLOOP_ZENDESK_EMAIL, "
                    "FEEDBACKLOOP_ZENDESK_API_TOKEN"
                )
            needs_crm = action.type == "create_task" or (action.type == "tag" and action.crm)
            if needs_crm and not hubspot:
                missing.append(
                    f"{where}: set FEEDBACKLOOP_HUBSPOT_BASE_URL, FEEDBACKLOOP_HUBSPOT_TOKEN"
                )
    if missing:
        unique = list(dict.fromkeys(missing))
        raise ConfigError("routing targets not configured: " + "; ".join(unique))


# -------------------------------------------------------------------------------- claim

_CLAIM = text(
    """
    SELECT id, status FROM ops.actions
    WHERE action_type = ANY(:types) AND id > :after
      AND (status = 'sending'
           OR (status = 'pending'
               AND (attempts = 0
                    OR updated_at <= now() - make_interval(
                           secs => least(:cap, :base * power(2, attempts - 1))))))
    ORDER BY id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
    """
).bindparams(bindparam("types", type_=ARRAY(String)))


class _Locks:
    """Session advisory locks on one dedicated connection: held while an action is sent,
    released on finish, and by PostgreSQL when the process dies."""

    def __init__(self, engine: Engine) -> None:
        # Autocommit: session locks outlive transactions, and no transaction stays open.
        self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def try_lock(self, action_id: int) -> bool:
        return bool(
            self.conn.execute(
                text(f"SELECT pg_try_advisory_lock({_LOCK_SPACE}, CAST(:k AS int))"),
                {"k": action_id % 2_147_483_647},
            ).scalar_one()
        )

    def unlock(self, action_id: int) -> None:
        self.conn.execute(
            text(f"SELECT pg_advisory_unlock({_LOCK_SPACE}, CAST(:k AS int))"),
            {"k": action_id % 2_147_483_647},
        )

    def close(self) -> None:
        try:
            self.conn.execute(text("SELECT pg_advisory_unlock_all()"))
        finally:
            self.conn.close()  # SQLAlchemy resets the isolation level on return to the pool


def _claim_one(
    engine: Engine, locks: _Locks, types: list[str], cursor: list[int], policy: tuple[float, float]
) -> tuple[dict[str, Any], list[str | None]] | None:
    """Take the next due action after `cursor[0]` (each action is tried once per run): mark it
    sending, open an attempt. Returns the action and the outcomes of its earlier attempts.

    One row at a time: a claim row-locks only the row it takes, so a concurrent dispatcher's
    SKIP LOCKED passes over it to the next one instead of finding nothing."""
    base, cap = policy
    with engine.begin() as conn:
        while True:
            rows = conn.execute(
                _CLAIM, {"types": types, "after": cursor[0], "base": base, "cap": cap}
            ).all()
            if not rows:
                return None
            for row in rows:
                cursor[0] = row.id
                if not locks.try_lock(row.id):
                    continue  # another live dispatcher is sending it
                return _open_attempt(conn, row.id), _previous(conn, row.id)


def _previous(conn: Connection, action_id: int) -> list[str | None]:
    return list(
        conn.execute(
            text(
                "SELECT outcome FROM ops.action_attempts WHERE action_id = :id "
                "AND finished_at IS NOT NULL ORDER BY attempt_no"
            ),
            {"id": action_id},
        ).scalars()
    )


def _open_attempt(conn: Connection, action_id: int) -> dict[str, Any]:
    # An attempt left open by a dispatcher that died: its write may or may not have happened.
    conn.execute(
        text(
            """
            UPDATE ops.action_attempts
            SET finished_at = now(), outcome = 'crashed',
                error = 'the dispatcher stopped before recording the outcome'
            WHERE action_id = :id AND finished_at IS NULL
            """
        ),
        {"id": action_id},
    )
    action = (
        conn.execute(
            text(
                """
                UPDATE ops.actions
                SET status = 'sending', attempts = attempts + 1, updated_at = now()
                WHERE id = :id
                RETURNING id, idempotency_key, item_type, item_source, item_source_id, rule,
                          action_type, target, payload, attempts
                """
            ),
            {"id": action_id},
        )
        .one()
        ._asdict()
    )
    conn.execute(
        text(
            "INSERT INTO ops.action_attempts (action_id, attempt_no, started_at) "
            "VALUES (:id, :n, now())"
        ),
        {"id": action_id, "n": action["attempts"]},
    )
    return action


# --------------------------------------------------------------------------------- send


def _send(action: dict[str, Any], targets: Targets) -> Reply:
    p = action["payload"]
    kind = action["action_type"]
    if kind == "slack_alert":
        assert targets.slack is not None
        return targets.slack.post(
            p["channel"],
            p["text"],
            context=f"rule `{action['rule']}` · `feedbackloop explain {p['ref']}`",
        )
    if kind == "auto_reply":
        assert targets.zendesk is not None
        return targets.zendesk.add_comment(p["ticket_id"], p["body"], public=True)
    if kind == "set_priority":
        assert targets.zendesk is not None
        return targets.zendesk.set_priority(p["ticket_id"], p["priority"])
    if kind == "create_task":
        assert targets.hubspot is not None
        return targets.hubspot.create_task(p["properties"], p["associations"])
    if kind == "tag":
        replies = []
        if p.get("ticket_id"):
            if targets.zendesk is None:
                return Reply("retry", None, "Zendesk is not configured")
            replies.append(targets.zendesk.add_tags(p["ticket_id"], p["tags"]))
            if not replies[-1].ok:
                return replies[-1]
        if p.get("crm_contact_id"):
            if targets.hubspot is None:
                return Reply("retry", None, "HubSpot is not configured")
            replies.append(
                targets.hubspot.set_contact_property(
                    p["crm_contact_id"], p["crm_property"], p["crm_value"]
                )
            )
        # Both writes are idempotent: the first failure is the answer, else the last reply.
        return next((r for r in replies if not r.ok), replies[-1])
    return Reply("rejected", None, f"unknown action type {kind!r}")


def _check(action: dict[str, Any], targets: Targets) -> Check | None:
    """Has this action already been applied at its target? None: the target cannot tell."""
    p = action["payload"]
    kind = action["action_type"]
    if kind == "auto_reply" and targets.zendesk is not None:
        return targets.zendesk.has_comment_with(p["ticket_id"], p["ref"])
    if kind == "set_priority" and targets.zendesk is not None:
        return targets.zendesk.has_priority(p["ticket_id"], p["priority"])
    if kind == "create_task" and targets.hubspot is not None:
        return targets.hubspot.find_task(p["properties"]["hs_task_subject"])[0]
    if kind == "tag":
        checks: list[Check] = []
        if p.get("ticket_id") and targets.zendesk is not None:
            checks.append(targets.zendesk.has_tags(p["ticket_id"], p["tags"]))
        if p.get("crm_contact_id") and targets.hubspot is not None:
            checks.append(
                targets.hubspot.contact_has(p["crm_contact_id"], p["crm_property"], p["crm_value"])
            )
        if "unknown" in checks or not checks:
            return "unknown"
        return "applied" if all(c == "applied" for c in checks) else "absent"
    return None


def _response(reply: Reply) -> dict[str, Any]:
    """What is kept of an answer: ids and flags, never a body (it can quote the message)."""
    out: dict[str, Any] = {}
    body = reply.body
    if isinstance(body, dict):
        if isinstance(body.get("id"), (str, int)):
            out["id"] = str(body["id"])
        for key in ("ticket", "audit"):
            if isinstance(body.get(key), dict) and "id" in body[key]:
                out[f"{key}_id"] = str(body[key]["id"])
        if isinstance(body.get("tags"), list):
            out["tags"] = len(body["tags"])
    elif isinstance(body, str) and len(body) < 40:
        out["body"] = body
    return out


def _deliver(
    action: dict[str, Any],
    previous: list[str | None],
    targets: Targets,
    hooks: DispatchHooks,
    max_attempts: int,
) -> _Result:
    def retry(detail: str, outcome: str = "retry", status: int | None = None) -> _Result:
        if action["attempts"] >= max_attempts:
            return _Result(
                outcome, "failed", f"gave up after {action['attempts']} attempts: {detail}"
            )
        return _Result(outcome, "pending", detail, status)

    # Any earlier attempt may have been applied (a crash, no answer, even a 5xx): look first.
    uncertain = any(o in (None, "crashed", "unknown") for o in previous)
    if previous:
        check = _check(action, targets)
        if check == "applied":
            return _Result("verified", "sent", "already applied at the target")
        if check == "unknown":
            return retry("could not check whether an earlier attempt was applied")
        if check is None and uncertain:
            return _Result(
                "unknown",
                "failed",
                "delivery unknown after an interrupted attempt; not resent (the target has no "
                "idempotency and cannot be checked)",
            )
    reply = _send(action, targets)
    if hooks.after_send is not None:
        hooks.after_send(action, reply)
    if reply.outcome == "sent":
        return _Result("sent", "sent", reply.detail, reply.status, _response(reply))
    if reply.outcome == "unknown":
        check = _check(action, targets)
        if check == "applied":
            return _Result("verified", "sent", f"{reply.detail}; found applied at the target")
        if check is None:
            return _Result(
                "unknown",
                "failed",
                f"{reply.detail}; not resent (the target has no idempotency and cannot be checked)",
            )
        return retry(f"{reply.detail}; not found at the target", "unknown")
    if reply.outcome == "retry":
        return retry(reply.detail, status=reply.status)
    return _Result("rejected", "failed", reply.detail, reply.status)


def _record(engine: Engine, action: dict[str, Any], result: _Result) -> None:
    detail = mask(result.detail)[:1000]
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                UPDATE ops.action_attempts
                SET finished_at = now(), outcome = :outcome, http_status = :http,
                    response = CAST(:response AS jsonb), error = :error
                WHERE action_id = :id AND attempt_no = :n
                """
            ),
            {
                "id": action["id"],
                "n": action["attempts"],
                "outcome": result.outcome,
                "http": result.http_status,
                "response": None if result.response is None else _json(result.response),
                "error": None if result.status == "sent" else detail,
            },
        )
        conn.execute(
            text(
                """
                UPDATE ops.actions
                SET status = :status, updated_at = now(),
                    sent_at = CASE WHEN :sent THEN now() ELSE sent_at END,
                    last_error = CASE WHEN :sent THEN NULL ELSE CAST(:error AS text) END
                WHERE id = :id
                """
            ),
            {
                "id": action["id"],
                "status": result.status,
                "sent": result.status == "sent",
                "error": detail,
            },
        )


def _json(value: Any) -> str:
    return json.dumps(value)


# -------------------------------------------------------------------------------- alert


def _alert(settings: Settings, targets: Targets, action: dict[str, Any], detail: str) -> bool:
    """Tell the owners an action failed for good; never raises (the failure is recorded)."""
    message = (
        f":rotating_light: action #{action['id']} `{action['action_type']}` of rule "
        f"`{action['rule']}` for {action['item_type']} {action['item_source']}:"
        f"{action['item_source_id']} failed after {action['attempts']} attempt(s): "
        f"{mask(detail)[:300]}. Why it was decided: `feedbackloop explain {action['id']}`"
    )
    channel = settings.routing_alert_channel
    try:
        if channel and targets.slack is not None and targets.slack.has(channel):
            return targets.slack.post(channel, message).ok
        from feedbackloop.monitoring.alerts import send_owner_alert

        return send_owner_alert(message, settings)
    except Exception as exc:
        log.warning("failure alert for action %s not sent: %s", action["id"], type(exc).__name__)
        return False


# ----------------------------------------------------------------------------- dispatch


def dispatch(
    engine: Engine,
    settings: Settings,
    *,
    targets: Targets | None = None,
    limit: int | None = None,
    hooks: DispatchHooks | None = None,
    workers: int | None = None,
) -> DispatchReport:
    """Send every due action whose target is configured (at most `limit`), with `workers`
    senders at once (default `ROUTING_DISPATCH_WORKERS`): sending is waiting on HTTP, and
    the claims (SKIP LOCKED, advisory locks) already make concurrent dispatchers safe."""
    own_targets = targets is None
    targets = targets or Targets.from_settings(settings, engine=engine)
    hooks = hooks or DispatchHooks()
    report = DispatchReport()
    types = sendable_types(targets)
    report.not_configured = sorted(set(ACTION_TYPES) - set(types))
    if workers is None:
        # Injected faults (tests) must hit a known action: one sender unless asked for more.
        workers = 1 if hooks.after_claim or hooks.after_send else None
    workers = max(1, workers or settings.routing_dispatch_workers)
    if limit is not None:
        workers = min(workers, limit)
    budget = [limit]  # shared across workers: actions still allowed in this run
    guard = threading.Lock()

    def take() -> bool:
        with guard:
            if budget[0] is None:
                return True
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            return True

    def run() -> DispatchReport:
        return _dispatch_loop(engine, settings, targets, hooks, types, take)

    try:
        if workers == 1:
            parts = [run()]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch") as pool:
                parts = list(pool.map(lambda _: run(), range(workers)))
    finally:
        if own_targets:
            targets.close()
    for part in parts:
        report.add(part)
    if report.processed:
        log.info(
            "dispatch: %s sent, %s already applied, %s retrying, %s failed",
            report.sent,
            report.already_applied,
            report.retrying,
            report.failed,
        )
    return report


def _dispatch_loop(
    engine: Engine,
    settings: Settings,
    targets: Targets,
    hooks: DispatchHooks,
    types: list[str],
    take: Callable[[], bool],
) -> DispatchReport:
    """One sender: claim, deliver, record, until nothing is due or the budget is spent."""
    report = DispatchReport()
    policy = (settings.routing_retry_delay, _MAX_BACKOFF_S)
    locks = _Locks(engine)
    cursor = [0]  # the last action id this sender tried in this run
    try:
        while take():
            claimed = _claim_one(engine, locks, types, cursor, policy)
            if claimed is None:
                break
            action, previous = claimed
            try:
                if hooks.after_claim is not None:
                    hooks.after_claim(action)
                result = _deliver(action, previous, targets, hooks, settings.routing_max_attempts)
                _record(engine, action, result)
            finally:
                locks.unlock(action["id"])
            if result.outcome == "verified":
                report.already_applied += 1
                report.by_type[action["action_type"]] += 1
            elif result.status == "sent":
                report.sent += 1
                report.by_type[action["action_type"]] += 1
            elif result.status == "pending":
                report.retrying += 1
            else:
                report.failed += 1
                report.alerts += _alert(settings, targets, action, result.detail)
    finally:
        locks.close()
    return report
