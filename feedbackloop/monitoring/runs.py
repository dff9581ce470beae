"""Flow-run records for `mart_ops_health` and failure alerts, as Prefect state hooks.

Every flow declares `**RUN_HOOKS`: a run is one row in `ops.flow_runs`, written as Running
when it starts (with the host, pid and start time of its process, and a heartbeat every
30 s) and updated by its final state (completed, failed, crashed, cancelled); a failed or
crashed run also posts to the owner's channel with the flow, the error (masked) and a link to
the dashboard's failure view. A run killed with its process (kill -9, out of memory) gets no
final hook: `mark_vanished_runs`, called by the health ping, finds it (process gone on this
host, or heartbeat stale) and marks it Crashed, and the ping alerts. A hook never raises:
monitoring must not fail the run it watches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.processes import ProcessIdentity, this_process
from nlp.pii import mask

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000
HEARTBEAT_EVERY_S = 30.0
# A run whose process the ping cannot see (another host) is gone after this long silent.
HEARTBEAT_STALE = timedelta(minutes=5)

# Who gets the failure alerts; replaced in tests and wired to Slack by `feedbackloop.notify`.
Alerter = Callable[[str], None]


def _engine(*, migrated: bool = False) -> Engine:
    from feedbackloop.config import get_settings
    from feedbackloop.db import ensure_ready, get_engine

    return ensure_ready(get_settings()) if migrated else get_engine(get_settings())


def record_flow_run(
    engine: Engine,
    *,
    flow_run_id: str,
    flow_name: str,
    deployment: str | None,
    state: str,
    started_at: datetime | None,
    ended_at: datetime | None,
    error: str | None,
    run_name: str | None = None,
) -> None:
    """The run's final state (the row exists already when its start was recorded)."""
    ended_at = ended_at or datetime.now(UTC)
    duration = (ended_at - started_at).total_seconds() if started_at else None
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO ops.flow_runs (flow_run_id, flow_name, run_name, deployment, state,
                                           started_at, ended_at, duration_s, error)
                VALUES (:id, :flow, :run, :dep, :state, :started, :ended, :duration, :error)
                ON CONFLICT (flow_run_id) DO UPDATE SET
                    state = EXCLUDED.state, ended_at = EXCLUDED.ended_at,
                    duration_s = EXCLUDED.duration_s, error = EXCLUDED.error,
                    run_name = coalesce(EXCLUDED.run_name, ops.flow_runs.run_name)
                """
            ),
            {
                "id": flow_run_id,
                "flow": flow_name,
                "run": run_name,
                "dep": deployment,
                "state": state,
                "started": started_at,
                "ended": ended_at,
                "duration": duration,
                "error": masked_error(error),
            },
        )


def record_run_start(
    engine: Engine,
    *,
    flow_run_id: str,
    flow_name: str,
    run_name: str | None,
    deployment: str | None,
    started_at: datetime | None,
    process: ProcessIdentity,
) -> None:
    """The run as Running, with the process that runs it: if that process dies without a
    final state, the health ping can tell."""
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO ops.flow_runs (flow_run_id, flow_name, run_name, deployment, state,
                                           started_at, ended_at, host, pid, process_started_at,
                                           heartbeat_at)
                VALUES (:id, :flow, :run, :dep, 'Running', :started, NULL, :host, :pid,
                        :pstart, now())
                ON CONFLICT (flow_run_id) DO UPDATE SET
                    state = 'Running', ended_at = NULL, duration_s = NULL, error = NULL,
                    host = EXCLUDED.host, pid = EXCLUDED.pid,
                    process_started_at = EXCLUDED.process_started_at, heartbeat_at = now()
                """
            ),
            {
                "id": flow_run_id,
                "flow": flow_name,
                "run": run_name,
                "dep": deployment,
                "started": started_at or datetime.now(UTC),
                "host": process.host,
                "pid": process.pid,
                "pstart": process.started_at,
            },
        )


class _Heartbeat:
    """One daemon thread per process refreshes `heartbeat_at` of the runs it is running."""

    def __init__(self) -> None:
        self._runs: dict[str, Engine] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, flow_run_id: str, engine: Engine) -> None:
        with self._lock:
            self._runs[flow_run_id] = engine
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="flow-run-heartbeat", daemon=True
                )
                self._thread.start()

    def discard(self, flow_run_id: str) -> None:
        with self._lock:
            self._runs.pop(flow_run_id, None)

    def _loop(self) -> None:
        while True:
            time.sleep(HEARTBEAT_EVERY_S)
            with self._lock:
                by_engine: dict[Engine, list[str]] = {}
                for run_id, engine in self._runs.items():
                    by_engine.setdefault(engine, []).append(run_id)
            for engine, ids in by_engine.items():
                try:
                    with engine.begin() as conn:
                        conn.execute(
                            text(
                                "UPDATE ops.flow_runs SET heartbeat_at = now() "
                                "WHERE flow_run_id = ANY(:ids) AND state = 'Running'"
                            ),
                            {"ids": ids},
                        )
                except Exception as exc:  # the next beat tries again
                    log.warning("flow-run heartbeat not written: %s", type(exc).__name__)


_HEARTBEAT = _Heartbeat()


@dataclass(frozen=True)
class VanishedRun:
    """A run that was Running when its process went away; now Crashed in `ops.flow_runs`."""

    flow_run_id: str
    flow_name: str
    run_name: str | None
    error: str


def mark_vanished_runs(
    engine: Engine, *, stale_after: timedelta = HEARTBEAT_STALE
) -> list[VanishedRun]:
    """Mark Crashed every Running run whose process is gone (same host) or whose heartbeat
    is older than `stale_after` (any host); returns them for the alerts. Two pings at once
    mark (and so alert) each run once: rows are locked, and only Running rows change."""
    vanished = []
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                """
                SELECT flow_run_id, flow_name, run_name, host, pid, process_started_at,
                       coalesce(heartbeat_at, started_at) AS last_seen,
                       coalesce(heartbeat_at, started_at) < now() - make_interval(secs => :s)
                           AS silent
                FROM ops.flow_runs WHERE state = 'Running'
                FOR UPDATE SKIP LOCKED
                """
            ),
            {"s": stale_after.total_seconds()},
        ).all()
        for row in rows:
            alive = None
            if row.host and row.pid:
                alive = ProcessIdentity(row.host, row.pid, row.process_started_at).is_running()
            if alive is True or (alive is None and not row.silent):
                continue
            why = (
                f"the process running it is gone (pid {row.pid} on {row.host}): killed or "
                "out of memory; found by the health ping"
                if alive is False
                else f"no heartbeat since {row.last_seen:%Y-%m-%d %H:%M:%S %Z} from "
                f"{row.host or 'an unknown host'}; found by the health ping"
            )
            conn.execute(
                text(
                    """
                    UPDATE ops.flow_runs SET state = 'Crashed',
                        -- it ended somewhere after it was last seen alive
                        ended_at = coalesce(heartbeat_at, started_at, now()),
                        duration_s = extract(epoch FROM heartbeat_at - started_at),
                        error = :why
                    WHERE flow_run_id = :id AND state = 'Running'
                    """
                ),
                {"id": row.flow_run_id, "why": why},
            )
            vanished.append(VanishedRun(row.flow_run_id, row.flow_name, row.run_name, why))
    return vanished


def vanished_alert(run: VanishedRun) -> str:
    return failure_alert(run.flow_name, run.run_name or run.flow_run_id, "Crashed", run.error)


def send_vanished_alerts(runs: Sequence[VanishedRun], settings: Settings | None = None) -> int:
    for run in runs:
        _send_owner_alert(vanished_alert(run), settings)
    return len(runs)


def masked_error(message: str | None) -> str | None:
    """Exception messages can quote customer text: mask, then cut."""
    if not message:
        return None
    return mask(message)[:MAX_ERROR_CHARS]


def failure_alert(flow_name: str, run_name: str, state: str, error: str | None) -> str:
    from feedbackloop.config import get_settings

    link = get_settings().dashboard_url
    where = f" - {link.rstrip('/')}/failures" if link else ""
    return (
        f":rotating_light: flow `{flow_name}` run `{run_name}` {state.lower()}: "
        f"{masked_error(error) or 'no message'}{where}"
    )


def _send_owner_alert(message: str, settings: Settings | None = None) -> None:
    from feedbackloop.monitoring.alerts import send_owner_alert

    send_owner_alert(message, settings)


def _record_start(flow: Any, flow_run: Any, state: Any) -> None:
    try:
        # Migrated first: a flow's start may be the first thing to touch a new database.
        engine = _engine(migrated=True)
        record_run_start(
            engine,
            flow_run_id=str(flow_run.id),
            flow_name=flow.name,
            run_name=flow_run.name,
            deployment=str(flow_run.deployment_id) if flow_run.deployment_id else None,
            started_at=flow_run.start_time or state.timestamp,
            process=this_process(),
        )
        _HEARTBEAT.add(str(flow_run.id), engine)
    except Exception as exc:
        log.warning(
            "could not record the start of flow run %s: %s", flow_run.id, type(exc).__name__
        )


def _hook(alert: bool) -> Callable[[Any, Any, Any], None]:
    def hook(flow: Any, flow_run: Any, state: Any) -> None:
        _HEARTBEAT.discard(str(flow_run.id))
        try:
            error = state.message if not state.is_completed() else None
            record_flow_run(
                _engine(),
                flow_run_id=str(flow_run.id),
                flow_name=flow.name,
                deployment=str(flow_run.deployment_id) if flow_run.deployment_id else None,
                state=state.name,
                started_at=flow_run.start_time,
                ended_at=state.timestamp,
                error=error,
                run_name=flow_run.name,
            )
            if alert:
                _send_owner_alert(failure_alert(flow.name, flow_run.name, state.name, error))
        except Exception as exc:
            log.warning("could not record flow run %s: %s", flow_run.id, type(exc).__name__)

    hook.__name__ = "record_and_alert" if alert else "record"
    return hook


RUN_HOOKS: dict[str, Any] = {
    "on_running": [_record_start],
    "on_completion": [_hook(alert=False)],
    "on_cancellation": [_hook(alert=False)],
    "on_failure": [_hook(alert=True)],
    "on_crashed": [_hook(alert=True)],
}
