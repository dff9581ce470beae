"""Guessing the dashboard password over real HTTP: a burst of wrong passwords is cut off after a
few (429 with Retry-After, the right password refused too, per client and per user), each
failure is logged and stored masked, and the failures page shows them."""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from feedbackloop.config import Settings
from feedbackloop.serve import free_port, webhook_receiver
from feedbackloop.web import create_app
from feedbackloop.web.dashboard.throttle import BASE_LOCK_SECONDS, FREE_FAILURES

PASSWORD = "correct horse battery staple"
ADMIN = "admin"
GUESSED_NAME = "jane.doe.guess"


@dataclass
class Clock:
    # Starts at the real time: the failures page lists what the database stamped recently.
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class Dashboard:
    url: str
    clock: Clock
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def http(self, client: str) -> httpx.Client:
        # Each loopback address is another client to the server.
        if client not in self.clients:
            transport = httpx.HTTPTransport(local_address=client)
            self.clients[client] = httpx.Client(transport=transport, timeout=30)
        return self.clients[client]

    def get(
        self, path: str, auth: tuple[str, str] | None, client: str = "127.0.0.1"
    ) -> httpx.Response:
        return self.http(client).get(f"{self.url}{path}", auth=auth)


@pytest.fixture
def dashboard(settings: Settings, engine: Engine) -> Iterator[Dashboard]:
    clock = Clock()
    configured = settings.model_copy(
        update={"dashboard_user": ADMIN, "dashboard_password": SecretStr(PASSWORD)}
    )
    app = create_app(configured, engine=engine, clock=clock)
    with webhook_receiver(app, "127.0.0.1", free_port()) as url:
        board = Dashboard(url, clock)
        yield board
        for http in board.clients.values():
            http.close()


def _stored(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM ops.login_failures ORDER BY id")).all()
    return [r._asdict() for r in rows]


def _statuses(call: Callable[[int], httpx.Response], n: int) -> list[int]:
    with ThreadPoolExecutor(16) as pool:
        return [r.status_code for r in pool.map(call, range(n))]


def test_a_burst_of_wrong_passwords_is_cut_off_and_recorded(
    dashboard: Dashboard, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    attacker = "127.0.0.2"
    statuses = _statuses(lambda i: dashboard.get("/", (ADMIN, f"guess-{i}"), client=attacker), 300)
    assert statuses.count(401) == FREE_FAILURES
    assert statuses.count(429) == 300 - FREE_FAILURES

    locked = dashboard.get("/", (ADMIN, PASSWORD), client=attacker)
    assert locked.status_code == 429  # the right password gains nothing while locked
    assert int(locked.headers["retry-after"]) == BASE_LOCK_SECONDS
    # Per user too: the same account from another address is locked as well.
    assert dashboard.get("/", (ADMIN, PASSWORD), client="127.0.0.3").status_code == 429

    # Once the lock ran out, one more wrong guess locks for twice as long.
    dashboard.clock.now += BASE_LOCK_SECONDS + 1
    assert dashboard.get("/", (ADMIN, "guess-again"), client=attacker).status_code == 401
    again = dashboard.get("/", (ADMIN, PASSWORD), client=attacker)
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) == 2 * BASE_LOCK_SECONDS
    dashboard.clock.now += 2 * BASE_LOCK_SECONDS + 1
    assert dashboard.get("/", (ADMIN, PASSWORD), client=attacker).status_code == 200

    # Every evaluated failure stored, masked; the locking ones say for how long.
    rows = _stored(engine)
    assert len(rows) == FREE_FAILURES + 1
    assert {r["client_network"] for r in rows} == {"127.0.0.0/24"}
    assert all(r["known_user"] for r in rows)
    locks = sorted(r["locked_seconds"] for r in rows if r["locked_seconds"])
    assert locks == [BASE_LOCK_SECONDS, 2 * BASE_LOCK_SECONDS]
    stored_text = repr(rows)
    assert "guess" not in stored_text and "127.0.0.2" not in stored_text

    # Logged: one line per failure, locked-out refusals summarised, no password, no address.
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("feedbackloop")]
    failed = [line for line in lines if "login failed" in line]
    refused = [line for line in lines if "refused (429)" in line]
    assert len(failed) == FREE_FAILURES + 1
    assert 1 <= len(refused) <= 3
    assert not any("guess" in line or PASSWORD in line or "127.0.0.2" in line for line in lines)

    # The failures page lists them.
    page = dashboard.get("/failures", (ADMIN, PASSWORD), client="127.0.0.3")
    assert page.status_code == 200
    section = page.text[page.text.index('id="failed-logins"') :]
    section = section[: section.index("</section>")]
    assert section.count("127.0.0.0/24") == FREE_FAILURES + 1
    assert f"<td>{int(2 * BASE_LOCK_SECONDS)} s</td>" in section


def test_one_client_guessing_names_is_locked_without_locking_the_user(
    dashboard: Dashboard, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    guesser = "127.0.0.4"
    names = [f"{GUESSED_NAME}{i}" for i in range(FREE_FAILURES)]
    for name in names:
        assert dashboard.get("/", (name, PASSWORD), client=guesser).status_code == 401
    assert dashboard.get("/", ("someone", "else"), client=guesser).status_code == 429
    # Malformed credentials are refused as well while locked.
    header = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
    assert dashboard.http(guesser).get(f"{dashboard.url}/", headers=header).status_code == 429
    # The dashboard user from elsewhere is not locked out by someone else's guesses.
    assert dashboard.get("/", (ADMIN, PASSWORD), client="127.0.0.5").status_code == 200
    # A browser asking for the login prompt (no credentials) is no failure.
    for _ in range(FREE_FAILURES + 2):
        assert dashboard.get("/", None, client="127.0.0.6").status_code == 401
    assert dashboard.get("/", (ADMIN, PASSWORD), client="127.0.0.6").status_code == 200

    rows = _stored(engine)
    assert len(rows) == FREE_FAILURES
    assert not any(r["known_user"] for r in rows)
    assert len({r["user_key"] for r in rows}) == FREE_FAILURES  # told apart, not named
    everything = repr(rows) + " ".join(r.getMessage() for r in caplog.records)
    assert GUESSED_NAME not in everything
    assert not re.search(r"127\.0\.0\.[2-6]\b", everything)
