"""PostgreSQL stopped during a webhook burst: every delivery is answered 503 (the sender
retries), the log says so in a few lines without SQL, parameters or payloads, and after the
restart the same deliveries are stored."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text

from feedbackloop.config import Settings
from feedbackloop.db import ensure_ready
from feedbackloop.db.embedded import EmbeddedPostgres
from feedbackloop.web.app import zendesk_signature

from .app_process import app_process

SECRET = "outage-secret"
CARD = "4111 1111 1111 1111"
MARKER = "burst-marker-7f3a"
DELIVERIES = 200
# What a log line must never carry: SQL, bound parameters, a traceback, the payload.
FORBIDDEN = re.compile(
    r"INSERT|SELECT|webhook_events|parameters|\[SQL|Traceback|psycopg\.|4111|" + MARKER,
    re.IGNORECASE,
)


def _delivery(n: int) -> tuple[bytes, dict[str, str]]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.created",
            "id": f"evt-{n}",
            "detail": {"id": str(70_000 + n), "status": "NEW", "description": f"{MARKER} {CARD}"},
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-zendesk-webhook-signature": zendesk_signature(SECRET, stamp, body),
        "x-zendesk-webhook-signature-timestamp": stamp,
        "x-zendesk-webhook-invocation-id": f"inv-{n}",
    }
    return body, headers


def _burst(url: str, numbers: range) -> list[httpx.Response]:
    def post(n: int) -> httpx.Response:
        body, headers = _delivery(n)
        return httpx.post(url, content=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(post, numbers))


def test_a_burst_during_a_database_outage_logs_a_few_clean_lines(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    settings = Settings(state_dir=own_server.state_dir)
    engine = ensure_ready(settings)
    env = {
        "FEEDBACKLOOP_STATE_DIR": str(own_server.state_dir),
        "FEEDBACKLOOP_ZENDESK_WEBHOOK_SECRET": SECRET,
    }
    try:
        with app_process(env, tmp_path / "app.log") as app:
            url = f"{app.url}/webhooks/zendesk"
            assert [r.status_code for r in _burst(url, range(1))] == [200]
            quiet = len(app.log_lines())

            own_server.stop()
            started = time.monotonic()
            refused = _burst(url, range(1, DELIVERIES + 1))
            elapsed = time.monotonic() - started
            during = app.log_lines()[quiet:]

            own_server.start()
            retried = _burst(url, range(1, DELIVERIES + 1))
            after = app.log_lines()[quiet:]
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM raw.webhook_events")).scalar_one()
    finally:
        engine.dispose()

    print(f"{DELIVERIES} deliveries refused in {elapsed:.1f} s; log:", *after, sep="\n  ")
    assert [r.status_code for r in refused] == [503] * DELIVERIES
    assert all(r.headers.get("retry-after") for r in refused)
    assert all(r.json() == {"detail": "storage unavailable"} for r in refused)
    # The first failure at once, then summaries: a handful of lines, not one per delivery.
    assert 1 <= len(during) <= 5
    assert "database unavailable" in during[0]
    assert not [line for line in after if FORBIDDEN.search(line)]
    # The recovery closes the run with the count not yet reported.
    assert len(after) == len(during) + 1 and "then it recovered" in after[-1]

    assert [r.status_code for r in retried] == [200] * DELIVERIES
    assert all(r.json()["status"] == "stored" for r in retried)
    assert stored == DELIVERIES + 1
