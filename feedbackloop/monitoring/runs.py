"""Flow-run records for `mart_ops_health` and failure alerts, as Prefect state hooks.

Every flow declares `**RUN_HOOKS`: a finished run (completed, failed, crashed, cancelled) is
one row in `ops.flow_runs`; a failed or crashed run also posts to the owner's channel with the
flow, the error (masked) and a link to the dashboard's failure view. A hook never raises:
monitoring must not fail the run it watches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from feedbackloop.governance.pii import mask

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000

# Who gets the failure alerts; replaced in tests and wired to Slack by `feedbackloop.notify`.
Alerter = Callable[[str], None]


def _engine() -> Engine:
    from feedbackloop.config import get_settings
    from feedbackloop.db import get_engine

    return get_engine(get_settings())


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
) -> None:
    ended_at = ended_at or datetime.now(UTC)
    duration = (ended_at - started_at).total_seconds() if started_at else None
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO ops.flow_runs (flow_run_id, flow_name, deployment, state,
                                           started_at, ended_at, duration_s, error)
                VALUES (:id, :flow, :dep, :state, :started, :ended, :duration, :error)
                ON CONFLICT (flow_run_id) DO UPDATE SET
                    state = EXCLUDED.state, ended_at = EXCLUDED.ended_at,
                    duration_s = EXCLUDED.duration_s, error = EXCLUDED.error
                """
            ),
            {
                "id": flow_run_id,
                "flow": flow_name,
                "dep": deployment,
                "state": state,
                "started": started_at,
                "ended": ended_at,
                "duration": duration,
                "error": masked_error(error),
            },
        )


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


def _send_owner_alert(message: str) -> None:
    from feedbackloop.monitoring.alerts import send_owner_alert

    send_owner_alert(message)


def _hook(alert: bool) -> Callable[[Any, Any, Any], None]:
    def hook(flow: Any, flow_run: Any, state: Any) -> None:
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
            )
            if alert:
                _send_owner_alert(failure_alert(flow.name, flow_run.name, state.name, error))
        except Exception as exc:
            log.warning("could not record flow run %s: %s", flow_run.id, type(exc).__name__)

    hook.__name__ = "record_and_alert" if alert else "record"
    return hook


RUN_HOOKS: dict[str, Any] = {
    "on_completion": [_hook(alert=False)],
    "on_cancellation": [_hook(alert=False)],
    "on_failure": [_hook(alert=True)],
    "on_crashed": [_hook(alert=True)],
}
