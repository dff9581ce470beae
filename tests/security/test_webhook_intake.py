"""The webhook door under attack and under retries: a 300 MB chunked body costs the server no
more than the body cap; the same event re-signed later is stored once; a malformed delivery
retried is quarantined once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text
from support.threads import Watcher
from support.webhooks import post_generic, post_zendesk

from feedbackloop.config import Settings
from feedbackloop.serve import free_port, webhook_receiver
from feedbackloop.web import create_app
from feedbackloop.web.app import MAX_BODY_BYTES, zendesk_signature

from .app_process import app_process

SECRET = "intake-secret"
SURVEY_SECRET = "intake-survey-secret"
CHUNK = b"x" * 1_000_000
CHUNKS = 300  # 300 MB
RSS_LIMIT = 200 * 1024 * 1024


def _stamp(offset: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks() -> Iterator[bytes]:
    # A generator: httpx sends it with Transfer-Encoding: chunked, no Content-Length.
    for _ in range(CHUNKS):
        yield CHUNK


def _signature_of_chunks(timestamp: str) -> str:
    mac = hmac.new(SECRET.encode(), timestamp.encode(), hashlib.sha256)
    for chunk in _chunks():
        mac.update(chunk)
    return base64.b64encode(mac.digest()).decode()


class _PeakRss(Watcher):
    """Samples a process's resident set every few ms; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        super().__init__(name="peak-rss")

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.peak = max(self.peak, self.process.memory_info().rss)


def _kernel_peak_rss(pid: int) -> int | None:
    """VmHWM, the kernel's high-water mark of the resident set (Linux): no sample can miss it."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def test_a_300_mb_chunked_body_never_enters_memory(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    env = {
        "FEEDBACKLOOP_STATE_DIR": str(settings.state_dir),
        "FEEDBACKLOOP_EMBEDDED_DATABASE": settings.embedded_database,
        "FEEDBACKLOOP_ZENDESK_WEBHOOK_SECRET": SECRET,
    }
    with app_process(env, tmp_path / "app.log") as app:
        url = f"{app.url}/webhooks/zendesk"
        stamp = _stamp()
        attempts = {
            # No valid signature at all: refused before a byte of the body is read.
            "junk signature": ("not-a-signature", 401),
            # Well-formed but wrong: read up to the cap, then refused.
            "valid-looking headers": (base64.b64encode(b"\0" * 32).decode(), 413),
            # Even the right signature cannot make the server hold 300 MB.
            "correctly signed": (_signature_of_chunks(stamp), 413),
        }
        answers: dict[str, int] = {}
        # One small refused request first: the first log line loads the PII masker that the
        # logging filter runs (a one-time cost of the process, not of a request).
        httpx.post(url, content=b"{}", headers={"x-zendesk-webhook-signature": "x"}, timeout=30)
        with _PeakRss(app.pid) as rss:
            before = rss.peak
            for name, (signature, _) in attempts.items():
                headers = {
                    "content-type": "application/json",
                    "x-zendesk-webhook-signature": signature,
                    "x-zendesk-webhook-signature-timestamp": stamp,
                }
                answer = httpx.post(url, content=_chunks(), headers=headers, timeout=120)
                answers[name] = answer.status_code
        kernel_peak = _kernel_peak_rss(app.pid)

        # The server is fine afterwards: a normal delivery is stored.
        body = json.dumps({"type": "zen:event-type:ticket.created", "id": "after-attack"}).encode()
        ok = httpx.post(
            url,
            content=body,
            headers={
                "x-zendesk-webhook-signature": zendesk_signature(SECRET, stamp, body),
                "x-zendesk-webhook-signature-timestamp": stamp,
            },
            timeout=30,
        )

    print(
        f"server RSS before {before / 2**20:.0f} MiB, peak sampled {rss.peak / 2**20:.0f} MiB, "
        f"kernel high-water {kernel_peak / 2**20 if kernel_peak else float('nan'):.0f} MiB"
    )
    assert answers == {name: status for name, (_, status) in attempts.items()}
    assert rss.peak < RSS_LIMIT
    assert kernel_peak is None or kernel_peak < RSS_LIMIT
    # What the requests cost: a few times the cap at most, not the 300 MB they carried.
    assert rss.peak - before < 10 * MAX_BODY_BYTES
    assert ok.status_code == 200
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT source_id FROM raw.webhook_events")).scalars().all()
    assert stored == ["event:after-attack"]


# ----------------------------------------------------------------- re-signed and retried


@pytest.fixture
def base(settings: Settings, engine: Engine) -> Iterator[str]:
    web = settings.model_copy(
        update={
            "zendesk_webhook_secret": SecretStr(SECRET),
            "webhook_secrets": {"survey": SecretStr(SURVEY_SECRET)},
        }
    )
    with webhook_receiver(create_app(web, engine=engine), "127.0.0.1", free_port()) as url:
        yield url


def _zendesk(base: str, body: bytes, stamp: str, invocation: str | None = None) -> httpx.Response:
    return post_zendesk(base, body, stamp, SECRET, invocation)


def _survey(base: str, body: bytes, stamp: str) -> httpx.Response:
    return post_generic(base, "survey", body, stamp, SURVEY_SECRET)


def _event(event_id: str | None, ticket: str = "5158") -> bytes:
    payload: dict[str, Any] = {
        "type": "zen:event-type:ticket.status_changed",
        "time": "2026-12-01T10:00:00Z",
        "subject": f"zen:ticket:{ticket}",
        "detail": {"id": ticket, "status": "OPEN", "updated_at": "2026-12-01T10:00:00Z"},
        "event": {"current": "OPEN", "previous": "NEW"},
    }
    if event_id is not None:
        payload["id"] = event_id
    return json.dumps(payload).encode()


def test_the_same_event_re_signed_later_is_stored_once(base: str, engine: Engine) -> None:
    cases = {
        "zendesk event with its id": (_event("evt-1"), _zendesk),
        "zendesk event without id (ticket + updated_at)": (_event(None, "6001"), _zendesk),
        "zendesk trigger body (no event envelope)": (
            b'{"ticket": "6002", "status": "open"}',
            _zendesk,
        ),
        "generic sender without delivery id": (b'{"type": "survey.answered", "score": 9}', _survey),
    }
    for name, (body, post) in cases.items():
        # Signed twice by the sender, a minute apart: other timestamp, other signature.
        first = post(base, body, _stamp(-60))
        again = post(base, body, _stamp())
        assert first.status_code == again.status_code == 200, name
        assert (first.json()["status"], again.json()["status"]) == ("stored", "duplicate"), name
        assert first.json()["delivery_id"] == again.json()["delivery_id"], name
    # Another event about the same ticket is another delivery.
    assert _zendesk(base, _event("evt-2"), _stamp()).json()["status"] == "stored"
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM raw.webhook_events")).scalar_one()
    assert stored == len(cases) + 1


def test_a_retried_malformed_delivery_is_quarantined_once(base: str, engine: Engine) -> None:
    broken = b'{"broken": '
    # Zendesk's retries of one invocation.
    for _ in range(3):
        assert _zendesk(base, broken, _stamp(), invocation="inv-broken").status_code == 400
    # No invocation id, re-signed each time: known by its content.
    other = b'{"also": "broken'
    for offset in (-120, -60, 0):
        assert _zendesk(base, other, _stamp(offset)).status_code == 400
    # Retries that arrive at the same moment.
    third = b"[1, 2"
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda _: _zendesk(base, third, _stamp(), "inv-3").status_code, range(8))
        )
    assert codes == [400] * 8
    # A different malformed delivery is parked on its own.
    assert _zendesk(base, b"{", _stamp(), invocation="inv-4").status_code == 400
    with engine.connect() as conn:
        parked = conn.execute(
            text("SELECT source_id, reason FROM ops.quarantine WHERE stream = 'webhook_events'")
        ).all()
    ids = sorted(p.source_id for p in parked)
    assert ids == sorted(["inv-broken", hashlib.sha256(other).hexdigest(), "inv-3", "inv-4"])
    assert all(p.reason.startswith("malformed JSON") for p in parked)
