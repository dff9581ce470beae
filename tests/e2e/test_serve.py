"""`feedbackloop serve` as a user runs it: a Prefect server, the deployments of prefect.yaml and
the webhook receiver in one process; a signed Zendesk webhook is scored (the time it took is
printed; BENCHMARKS-style figures, not a timed assertion: a loaded machine is slower), the
scheduler starts a deployment on its own, and the UI talks to the API on the port it runs on."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prefect_support import (
    clean_env,
    deployment,
    prefect_yaml_with_interval,
    wait_for_scheduled_run,
)
from sqlalchemy import create_engine, text

from feedbackloop.serve import free_port
from feedbackloop.web.app import zendesk_signature

FEEDBACKLOOP = str(Path(sys.executable).with_name("feedbackloop"))
REPO = Path(__file__).resolve().parents[2]
SECRET = "serve-test-secret"


def _event(ticket_id: str) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {
            "type": "zen:event-type:ticket.created",
            "account_id": 22129848,
            "id": f"evt-{ticket_id}",
            "time": now,
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket_id}",
            "detail": {
                "id": ticket_id,
                "subject": "Charged twice, still waiting for my refund",
                "description": "Third time asking. Card 4111 1111 1111 1111 was charged twice.",
                "status": "NEW",
                "priority": "HIGH",
                "requester_id": "900",
                "tags": [],
                "via": {"channel": "web"},
                "created_at": now,
                "updated_at": now,
            },
            "event": {},
        }
    ).encode()


def _wait_for(url: str, deadline: float, proc: subprocess.Popen[str]) -> None:
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


def test_serve_scores_a_webhook_delivery_and_runs_schedules(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = clean_env(state, FEEDBACKLOOP_ZENDESK_WEBHOOK_SECRET=SECRET)
    # health-ping every 10 s (a cheap deployment for the scheduler to start); every other
    # schedule is off, so the webhook drain runs only because a delivery triggered it.
    prefect_yaml = prefect_yaml_with_interval(tmp_path / "prefect.yaml", "health-ping", 10)
    subprocess.run([FEEDBACKLOOP, "db", "start"], env=env, check=True, capture_output=True)
    url = subprocess.run(
        [FEEDBACKLOOP, "db", "url", "--show-password"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    web_port, prefect_port = free_port(), free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            FEEDBACKLOOP,
            "serve",
            "--prefect-yaml",
            str(prefect_yaml),
            # The webhook drain and the scoring it triggers; the collectors need real APIs.
            "-d",
            "process-webhook-events",
            "-d",
            "score-feedback",
            "-d",
            "health-ping",
            "--port",
            str(web_port),
            "--prefect-port",
            str(prefect_port),
        ],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    engine = create_engine(url)
    try:
        _wait_for(f"http://127.0.0.1:{web_port}/healthz", time.monotonic() + 180, proc)
        _wait_for(f"http://127.0.0.1:{prefect_port}/api/health", time.monotonic() + 60, proc)
        # serve registers its deployments before the receiver answers: no wait needed here.

        body = _event("77001")
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {
            "content-type": "application/json",
            "x-zendesk-webhook-signature": zendesk_signature(SECRET, timestamp, body),
            "x-zendesk-webhook-signature-timestamp": timestamp,
            "x-zendesk-webhook-invocation-id": "inv-77001",
        }
        sent = time.monotonic()
        answer = httpx.post(
            f"http://127.0.0.1:{web_port}/webhooks/zendesk", content=body, headers=headers
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "stored"

        scored = None
        while time.monotonic() - sent < 180 and scored is None:
            with engine.connect() as conn:
                scored = conn.execute(
                    text(
                        "SELECT label FROM nlp.feedback_scores "
                        "WHERE item_type = 'ticket' AND item_source_id = '77001'"
                    )
                ).scalar_one_or_none()
            time.sleep(1)
        assert scored in ("negative", "very_negative"), (scored, _tail(tmp_path / "serve.log"))
        print(f"webhook scored {time.monotonic() - sent:.1f} s after delivery")
        with engine.connect() as conn:
            description = conn.execute(
                text("SELECT description FROM raw.tickets WHERE source_id = '77001'")
            ).scalar_one()
        assert "4111" not in description

        # The scheduler, not a hand-started run, starts health-ping and serve runs it.
        api_url = f"http://127.0.0.1:{prefect_port}/api"
        ping = deployment(api_url, "health-ping")
        wait_for_scheduled_run(api_url, ping["id"], after=0, timeout=120, procs=(proc,))
        # The UI served on this port asks this port's API, not Prefect's default 4200.
        ui = httpx.get(f"http://127.0.0.1:{prefect_port}/ui-settings", timeout=10).json()
        assert ui["api_url"] == api_url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
            engine.dispose()
            subprocess.run([FEEDBACKLOOP, "db", "stop"], env=env, capture_output=True)
    # The Prefect server went down with serve: nothing answers on its port any more.
    try:
        httpx.get(f"http://127.0.0.1:{prefect_port}/api/health", timeout=2)
    except httpx.HTTPError:
        pass
    else:
        raise AssertionError("the Prefect server outlived `feedbackloop serve`")


def _tail(path: Path) -> str:
    return path.read_text()[-4000:]
