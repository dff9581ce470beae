"""Every flow's state hooks: a finished run is a row in `ops.flow_runs`; a failed run posts a
masked alert to the owners' Slack channel (a Slack-shaped receiver on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect import flow
from sqlalchemy import Engine, text

from feedbackloop.config import Settings, settings_overridden
from feedbackloop.monitoring.runs import RUN_HOOKS

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_POST(self) -> None:  # Slack incoming webhook: 200 "ok"
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX", received
    server.shutdown()


@flow(name="hooked-ok", **RUN_HOOKS)
def hooked_ok() -> int:
    return 1


@flow(name="hooked-fails", **RUN_HOOKS)
def hooked_fails() -> None:
    raise ValueError("customer jane.doe@example.com paid with 4111 1111 1111 1111")


def test_runs_are_recorded_and_failures_alert_masked(
    engine: Engine,
    settings: Settings,
    slack: tuple[str, list[dict]],
) -> None:
    url, received = slack
    alerting = {"owner_alert_webhook_url": url, "dashboard_url": "http://127.0.0.1:8000"}
    with settings_overridden(settings.updated(alerting)):
        assert hooked_ok() == 1
        with pytest.raises(ValueError):
            hooked_fails()

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT flow_name, state, error, duration_s FROM ops.flow_runs ORDER BY id")
        ).all()
    assert [(r.flow_name, r.state) for r in rows] == [
        ("hooked-ok", "Completed"),
        ("hooked-fails", "Failed"),
    ]
    assert rows[0].error is None and rows[0].duration_s >= 0
    assert "ValueError" in rows[1].error or "customer" in rows[1].error
    assert "4111" not in rows[1].error and "jane.doe" not in rows[1].error

    assert len(received) == 1  # the completed run does not alert
    alert = received[0]["text"]
    assert "hooked-fails" in alert and "http://127.0.0.1:8000/failures" in alert
    assert "4111" not in alert and "jane.doe" not in alert
