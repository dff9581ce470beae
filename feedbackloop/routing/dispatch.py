"""The outbox dispatcher: sends pending actions, exactly once where the target allows it.

Actions go in batches, each in three steps, each step committed before the next:

1. claim: one statement takes a batch of due actions with `FOR UPDATE SKIP LOCKED`, marks them
   `sending` with this run's key (`claimed_by`) and opens an `ops.action_attempts` row for
   each: the record that a delivery may be under way. The run holds a session advisory lock
   on that key for its whole life (PostgreSQL drops it when the process dies);
2. send: the batch's HTTP writes go out concurrently, in one lane per target (a Slack webhook,
   the Zendesk account, the HubSpot app), each lane spaced by the target's documented rate
   limit; a 429 waits `Retry-After` and holds back that lane only;
3. record: one statement writes the batch's attempt outcomes and the actions' new status
   (`sent`, back to `pending` for a retry with backoff, or `failed`) with the API calls made,
   on a thread of its own while the next sends go out; then the owners are alerted about
   failures (on another thread: Slack's limit must not hold back the sends).

A run that fails (an error, not a crash) stops claiming, lets the sends under way end, and
records the actions it had not started back to `pending`.

A crash between 1 and 3 leaves the batch `sending` with open attempts. The next run takes an
action over only when the lock of the run that claimed it is gone (`pg_locks`), closes its
attempt as `crashed`, and checks the target before sending again: the Zendesk comments for the
reply's reference, the ticket's tags and priority, HubSpot for a task with the same subject,
the contact's property. Slack incoming webhooks cannot be checked and have no idempotency key,
so a Slack alert whose delivery is unknown is never resent: it fails with "delivery unknown"
and the owners are told (at most once; docs/decisions.md).
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from feedbackloop.config import ConfigError, Settings
from feedbackloop.notify import Reply, Targets
from feedbackloop.notify.zendesk import Check
from feedbackloop.routing.rules import ACTION_TYPES, RulesFile, SlackAlert
from nlp.pii import mask

__all__ = ["DispatchHooks", "DispatchReport", "dispatch", "require_targets", "sendable_types"]

log = logging.getLogger(__name__)

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

# The advisory-lock class of dispatcher runs (an arbitrary positive int4); the object is the
# run's random key, stored on the actions it claims (`ops.actions.claimed_by`).
_RUN_LOCK_SPACE = 2_020_006_011
_CRASHED = "the dispatcher stopped before recording the outcome"

# One statement claims a batch: up to n due actions of each type (pending and past their
# backoff, or sending for a run that is gone: its lock is not in pg_locks) after that type's
# cursor, at most `total` in all, row-locked
# with SKIP LOCKED so a concurrent run passes over them; their open attempts (a dead run's)
# are closed as crashed, they are marked sending for this run, and an attempt is opened for
# each. `previous` is the outcomes of the earlier attempts (an open one counts as crashed:
# the statement sees the rows as they were before it).
_CLAIM = text(
    f"""
    WITH live AS MATERIALIZED (
        -- the keys of the runs alive now: read once per claim, and only if a candidate is
        -- `sending` (a materialized CTE runs when first read)
        SELECT l.objid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = CAST({_RUN_LOCK_SPACE} AS oid) AND l.objsubid = 2
    ),
    picked AS (
        SELECT x.id
        FROM unnest(CAST(:types AS text[]), CAST(:afters AS bigint[]), CAST(:ns AS int[]))
             AS c(t, after, n)
        CROSS JOIN LATERAL (
            SELECT a.id FROM ops.actions a
            WHERE a.action_type = c.t AND a.id > c.after
              AND a.status IN ('pending', 'sending')
              AND CASE WHEN a.status = 'pending'
                       THEN a.attempts = 0
                            OR a.updated_at <= now() - make_interval(
                                   secs => least(:cap, :base * power(2, a.attempts - 1)))
                       ELSE NOT EXISTS (
                           SELECT 1 FROM live WHERE live.objid = CAST(a.claimed_by AS oid))
                  END
            ORDER BY a.id
            LIMIT c.n
            FOR UPDATE SKIP LOCKED
        ) x
        ORDER BY x.id
        LIMIT :total
    ),
    closed AS (
        UPDATE ops.action_attempts t
        SET finished_at = now(), outcome = 'crashed', error = '{_CRASHED}'
        FROM picked WHERE t.action_id = picked.id AND t.finished_at IS NULL
        RETURNING t.action_id
    ),
    claimed AS (
        UPDATE ops.actions a
        SET status = 'sending', attempts = a.attempts + 1, updated_at = now(),
            claimed_by = :key
        FROM picked WHERE a.id = picked.id
        RETURNING a.id, a.idempotency_key, a.item_type, a.item_source, a.item_source_id,
                  a.rule, a.action_type, a.target, a.payload, a.attempts
    ),
    opened AS (
        INSERT INTO ops.action_attempts (action_id, attempt_no, started_at)
        SELECT id, attempts, now() FROM claimed
        RETURNING action_id
    )
    SELECT c.*,
           ARRAY(SELECT CASE WHEN p.finished_at IS NULL THEN 'crashed' ELSE p.outcome END
                 FROM ops.action_attempts p WHERE p.action_id = c.id
                 ORDER BY p.attempt_no) AS previous
    FROM claimed c
    ORDER BY c.id
    """
)


class _Run:
    """This dispatcher run's session advisory lock, on a dedicated connection: held for the
    whole run, released at its end, and by PostgreSQL when the process dies. Its key marks
    the actions the run claims, so another run knows whether their sender is alive."""

    def __init__(self, engine: Engine) -> None:
        # Autocommit: a session lock outlives transactions, and no transaction stays open.
        self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            while True:  # a random key; another live run holding the same one is vanishingly rare
                self.key = secrets.randbelow(2_147_483_646) + 1
                if self.conn.execute(
                    text(f"SELECT pg_try_advisory_lock({_RUN_LOCK_SPACE}, :k)"), {"k": self.key}
                ).scalar_one():
                    break
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        try:
            self.conn.execute(
                text(f"SELECT pg_advisory_unlock({_RUN_LOCK_SPACE}, :k)"), {"k": self.key}
            )
        except Exception as exc:  # the session is gone (a restart): its lock went with it
            log.warning("dispatch: run lock not released (%s)", type(exc).__name__)
            self.conn.invalidate()  # never back to the pool still holding the lock
        finally:
            self.conn.close()  # SQLAlchemy resets the isolation level on return to the pool


def _claim(
    engine: Engine,
    run: _Run,
    wanted: dict[str, int],
    cursors: dict[str, int],
    total: int | None,
    policy: tuple[float, float],
) -> tuple[list[tuple[dict[str, Any], list[str | None]]], set[str]]:
    """Claim up to `wanted[type]` due actions of each type after its cursor (each action is
    tried once per run), at most `total`; committed before anything is sent. Returns the
    actions with their earlier outcomes, and the types with nothing more due."""
    base, cap = policy
    types = list(wanted)
    with engine.begin() as conn:
        rows = conn.execute(
            _CLAIM,
            {
                "types": types,
                "afters": [cursors[t] for t in types],
                "ns": [wanted[t] for t in types],
                "total": total,
                "base": base,
                "cap": cap,
                "key": run.key,
            },
        ).all()
    out = []
    got: Counter[str] = Counter()
    for row in rows:
        action = row._asdict()
        previous = list(action.pop("previous") or [])
        kind = action["action_type"]
        cursors[kind] = max(cursors[kind], action["id"])
        got[kind] += 1
        out.append((action, previous))
    cut = total is not None and len(rows) >= total  # the budget, not the queue, ended it
    return out, set() if cut else {t for t in types if got[t] < wanted[t]}


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


# The outcomes of a batch in one statement: the attempts closed, the actions' new status.
# Only rows this run still owns are written (`claimed_by`, the attempt number).
_RECORD = text(
    """
    WITH r AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
            id bigint, n int, outcome text, http int, response jsonb, error text,
            status text, detail text)
    ),
    attempts AS (
        UPDATE ops.action_attempts t
        SET finished_at = now(), outcome = r.outcome, http_status = r.http,
            response = r.response, error = r.error
        FROM r
        WHERE t.action_id = r.id AND t.attempt_no = r.n AND t.finished_at IS NULL
        RETURNING t.id
    )
    UPDATE ops.actions a
    SET status = r.status, updated_at = now(),
        sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE a.sent_at END,
        last_error = CASE WHEN r.status = 'sent' THEN NULL ELSE r.detail END
    FROM r
    WHERE a.id = r.id AND a.attempts = r.n AND a.claimed_by = :key AND a.status = 'sending'
    RETURNING a.id
    """
)


def _record(
    engine: Engine, run: _Run, done: list[tuple[dict[str, Any], _Result]], targets: Targets
) -> set[int]:
    """One transaction per batch: the outcomes, and the API calls made since the last one.
    Returns the actions written: not those another run has taken over meanwhile."""
    rows = []
    for action, result in done:
        # A 2xx's detail is the constant "ok" (notify.http): nothing to mask.
        detail = result.detail if result.detail == "ok" else mask(result.detail)[:1000]
        rows.append(
            {
                "id": action["id"],
                "n": action["attempts"],
                "outcome": result.outcome,
                "http": result.http_status,
                "response": result.response,
                "error": None if result.status == "sent" else detail,
                "status": result.status,
                "detail": detail,
            }
        )
    written: set[int] = set()
    with engine.begin() as conn:
        if rows:
            written = set(conn.execute(_RECORD, {"rows": _json(rows), "key": run.key}).scalars())
        if targets.usage is not None:
            try:
                with conn.begin_nested():  # accounting must not undo the outcomes
                    targets.usage.flush(conn)
            except Exception as exc:  # kept in the buffer for the next flush
                log.warning("api usage not recorded (%s)", type(exc).__name__)
    return written


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

# Actions claimed ahead per sender: the senders never wait for a claim, a batch is big
# enough that its two statements cost little per action, and small enough that a
# concurrent run still finds work.
_CLAIM_AHEAD = 4
# Outcomes are recorded at least this often (seconds), or when half a batch is done.
_RECORD_EVERY_S = 0.1


def _lane(action: dict[str, Any], hooks: DispatchHooks) -> str:
    """Which senders an action waits for: one lane per rate limit (a Slack webhook, the
    Zendesk account, the HubSpot app), so a slow or rate-limited target holds back only its
    own actions. Injected faults (tests) must hit a known action: one lane."""
    if hooks.after_claim or hooks.after_send:
        return "all"
    p = action["payload"]
    kind = action["action_type"]
    if kind == "slack_alert":
        return f"slack #{p.get('channel')}"
    if kind in ("auto_reply", "set_priority") or (kind == "tag" and p.get("ticket_id")):
        return "zendesk"
    return "hubspot"


def dispatch(
    engine: Engine,
    settings: Settings,
    *,
    targets: Targets | None = None,
    limit: int | None = None,
    hooks: DispatchHooks | None = None,
    workers: int | None = None,
) -> DispatchReport:
    """Send every due action whose target is configured (at most `limit`), with up to
    `workers` senders per target at once (default `ROUTING_DISPATCH_WORKERS`).

    Batches are claimed in one statement each (their attempts opened, committed before any
    send), sent concurrently within each target's rate limit, and their outcomes recorded in
    one statement per batch with the API calls made; then the owners hear about failures.
    Concurrent runs are safe: SKIP LOCKED claims, and each run's advisory lock."""
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
        workers = min(workers, max(1, limit))
    try:
        if types and (limit is None or limit > 0):
            _dispatch_run(engine, settings, targets, hooks, types, limit, workers, report)
    finally:
        if own_targets:
            targets.close()
        else:
            targets.flush_usage()  # calls made after the last batch was recorded (alerts)
    if report.processed:
        log.info(
            "dispatch: %s sent, %s already applied, %s retrying, %s failed",
            report.sent,
            report.already_applied,
            report.retrying,
            report.failed,
        )
    return report


class _Recorder:
    """Writes the outcomes on a thread of its own, so the coordinator goes on claiming and
    handing out sends while a batch's statement runs; batches handed over meanwhile go into
    the next statement together. Only what was written counts in the report (another run may
    have taken an action over), and each action that failed for good goes to `alert`. A
    failed write is kept in `failure` and later batches are still tried: an action whose
    outcome was not written stays `sending`, and the next run checks it."""

    def __init__(
        self,
        engine: Engine,
        run: _Run,
        targets: Targets,
        report: DispatchReport,
        alert: Callable[[dict[str, Any], str], None],
    ) -> None:
        self.engine = engine
        self.run = run
        self.targets = targets
        self.report = report
        self.alert = alert
        self.failure: Exception | None = None
        self._queue: queue.SimpleQueue[list[tuple[dict[str, Any], _Result]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._loop, name="dispatch-record", daemon=True)
        self._thread.start()

    def put(self, batch: list[tuple[dict[str, Any], _Result]]) -> None:
        self._queue.put(batch)

    def close(self, *, drop: bool) -> None:
        """Write what was handed over, then stop; `drop` (the run is dying): write nothing
        more, as a killed process would."""
        if drop:
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        while (batch := self._queue.get()) is not None:
            last = False
            try:
                while (more := self._queue.get_nowait()) is not None:
                    batch += more
                last = True
            except queue.Empty:
                pass
            self._write(batch)
            if last:
                return

    def _write(self, batch: list[tuple[dict[str, Any], _Result]]) -> None:
        try:
            written = _record(self.engine, self.run, batch, self.targets)
        except Exception as exc:
            log.warning("dispatch: outcomes not recorded (%s)", type(exc).__name__)
            self.failure = self.failure or exc
            return
        report = self.report
        for action, result in batch:
            if action["id"] not in written:
                continue  # taken over by another run, which records it
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
                self.alert(action, result.detail)


# Nothing was sent for it (never started, or the run failed before handing it out).
_NOT_SENT = _Result("retry", "pending", "not sent: the dispatcher stopped")


def _dispatch_run(
    engine: Engine,
    settings: Settings,
    targets: Targets,
    hooks: DispatchHooks,
    types: list[str],
    limit: int | None,
    workers: int,
    report: DispatchReport,
) -> None:
    """Claim ahead, send in lanes, record in batches (on the recorder's thread), until nothing
    is due or the budget is spent. A failing run stops claiming, lets what is under way end,
    and records the actions it had not started back to `pending`. A crash anywhere leaves
    claimed actions `sending` with open attempts: the next run takes them over once this
    run's lock is gone."""
    policy = (settings.routing_retry_delay, _MAX_BACKOFF_S)
    # Actions claimed ahead, per type. Not Slack alerts under a rate limit: those wait on
    # each webhook's limit once claimed (seconds each), and one claimed but unsent when the
    # process dies cannot be checked at Slack, so it fails as "delivery unknown": at most
    # `workers` per webhook are exposed then.
    windows = dict.fromkeys(types, workers * _CLAIM_AHEAD)
    if "slack_alert" in windows and settings.slack_posts_per_second > 0:
        windows["slack_alert"] = workers * max(1, len(settings.slack_webhook_urls))
    cursors = dict.fromkeys(types, 0)  # the last action id claimed per type in this run
    exhausted: set[str] = set()
    budget = limit
    lanes: dict[str, ThreadPoolExecutor] = {}
    inflight: dict[Future[_Result], dict[str, Any]] = {}
    by_type: Counter[str] = Counter()
    done: list[tuple[dict[str, Any], _Result]] = []
    first_done = 0.0
    failure: Exception | None = None
    completed: queue.SimpleQueue[Future[_Result]] = queue.SimpleQueue()
    # Failure alerts wait on Slack's limit (1/s per webhook): posted off the coordinator, so
    # a storm of failures holds back no other send.
    alerts = ThreadPoolExecutor(1, thread_name_prefix="dispatch-alert")
    alerted: list[Future[bool]] = []
    run = _Run(engine)

    def alert(action: dict[str, Any], detail: str) -> None:
        alerted.append(alerts.submit(_alert, settings, targets, action, detail))

    recorder = _Recorder(engine, run, targets, report, alert)

    def deliver(action: dict[str, Any], previous: list[str | None]) -> _Result:
        return _deliver(action, previous, targets, hooks, settings.routing_max_attempts)

    def fail(exc: Exception) -> None:
        """Stop claiming and sending; what has not started goes back to pending."""
        nonlocal failure
        if failure is None:
            failure = exc
            for other in inflight:
                other.cancel()

    dying = True
    try:
        while True:
            if recorder.failure is not None:
                fail(recorder.failure)
            wanted = {
                t: windows[t] - by_type[t]
                for t in types
                if t not in exhausted and by_type[t] <= windows[t] // 2
            }
            if failure is None and wanted and (budget is None or budget > 0):
                try:
                    claimed, drained = _claim(engine, run, wanted, cursors, budget, policy)
                except Exception as exc:  # nothing claimed (the transaction rolled back)
                    fail(exc)
                    claimed, drained = [], set()
                exhausted |= drained  # nothing more is due for these types
                if budget is not None:
                    budget -= len(claimed)
                for i, (action, previous) in enumerate(claimed):
                    if hooks.after_claim is not None:
                        try:
                            hooks.after_claim(action)
                        except Exception as exc:
                            fail(exc)
                            done.extend((a, _NOT_SENT) for a, _ in claimed[i:])
                            break
                    lane = _lane(action, hooks)
                    if lane not in lanes:
                        lanes[lane] = ThreadPoolExecutor(workers, thread_name_prefix="dispatch")
                    future = lanes[lane].submit(deliver, action, previous)
                    inflight[future] = action
                    future.add_done_callback(completed.put)
                    by_type[action["action_type"]] += 1
                if claimed and failure is None:
                    continue
            if not inflight:
                break
            timeout = None
            if done:
                timeout = max(0.0, first_done + _RECORD_EVERY_S - time.monotonic())
            # Finished futures arrive on a queue (their done callback): `wait()` would hook
            # every future in flight again for each one that finishes.
            finished = []
            try:
                finished.append(completed.get(timeout=timeout))
                while True:
                    finished.append(completed.get_nowait())
            except queue.Empty:
                pass
            for future in finished:
                action = inflight.pop(future)
                by_type[action["action_type"]] -= 1
                try:
                    result = future.result()
                except CancelledError:
                    result = _NOT_SENT  # never started: certainly not sent
                except Exception as exc:
                    # A bug, not an answer: stop, record what is known, then raise. The
                    # action stays `sending`; the next run checks it.
                    fail(exc)
                    continue
                if not done:
                    first_done = time.monotonic()
                done.append((action, result))
            if done and (
                not inflight
                or len(done) >= max(1, sum(windows.values()) // 2)
                or time.monotonic() - first_done >= _RECORD_EVERY_S
            ):
                recorder.put(done)
                done = []
        if done:
            recorder.put(done)
        dying = False
    finally:
        for pool in lanes.values():
            pool.shutdown(wait=True, cancel_futures=True)
        recorder.close(drop=dying)
        alerts.shutdown(wait=True, cancel_futures=dying)
        report.alerts += sum(f.result() for f in alerted if not f.cancelled())
        run.close()
    if failure is not None:
        raise failure
    if recorder.failure is not None:
        raise recorder.failure
