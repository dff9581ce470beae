"""kill -9 of `feedbackloop demo` while its notes drop file (unmasked, as a real export) is in
use: nothing unmasked stays on disk once the next command has started, no Prefect server is
left running without its parent, the killed run is in `ops.flow_runs`, and the next health
ping marks it Crashed and alerts the owners (masked)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import text

from demo.fake_targets import serve_fake_slack
from demo.generator import generate
from feedbackloop.config import Settings, settings_overridden
from feedbackloop.db import ensure_ready
from feedbackloop.db.embedded import EmbeddedPostgres

FEEDBACKLOOP = str(Path(sys.executable).with_name("feedbackloop"))
SEED = 913  # a seed no other test uses: its generated personal data is this test's own
TICKETS = 300

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _secrets(seed: int, tickets: int) -> set[bytes]:
    """Addresses, card numbers, SSNs and IBANs the demo's notes drop file holds unmasked (as
    written, and cards with digits only)."""
    dataset = generate(seed=seed, tickets=tickets)
    found: set[bytes] = set()
    for note in dataset.notes:
        if note.contact_email:
            found.add(note.contact_email.encode())
        for kind, value in note.pii_values:
            if kind in ("EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "IBAN_CODE"):
                found.add(value.encode())
            if kind == "CREDIT_CARD":
                found.add(re.sub(r"\D", "", value).encode())
    return found


def _leaks(roots: list[Path], secrets: set[bytes]) -> dict[str, int]:
    """File -> how many distinct secrets it holds, over every file under `roots`."""
    pattern = re.compile(b"|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
    leaks = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and not path.name.startswith(".s.PGSQL"):
                try:
                    found = set(pattern.findall(path.read_bytes()))
                except OSError:  # removed while we looked (a server's temp file)
                    continue
                if found:
                    leaks[str(path)] = len(found)
    return leaks


def _drop_files(state: Path, systmp: Path) -> list[Path]:
    # Under the state dir now; in the system temp dir before.
    return [*state.glob("tmp/*/notes.jsonl"), *systmp.glob("fl-demo-*/notes.jsonl")]


def _alerting(settings: Settings, slack: Any) -> AbstractContextManager[Settings]:
    """Flows run in the block alert the fake Slack's owners channel."""
    return settings_overridden(settings.updated({"owner_alert_webhook_url": slack.urls["owners"]}))


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_kill_9_of_the_demo_leaves_nothing_behind_and_the_next_ping_reports_it(
    tmp_path: Path,
) -> None:
    state, systmp = tmp_path / "state", tmp_path / "systmp"
    systmp.mkdir()
    server = EmbeddedPostgres(state)
    server.start()  # started here: the database server is meant to outlive the demo
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "PREFECT_"))}
    # TMPDIR: the demo's "system temp dir" is this test's own, so the scan sees all of it.
    env |= {"FEEDBACKLOOP_STATE_DIR": str(state), "TMPDIR": str(systmp)}
    children: list[psutil.Process] = []
    try:
        demo = subprocess.Popen(
            [FEEDBACKLOOP, "demo", "--tickets", str(TICKETS), "--seed", str(SEED)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 300
        while not (drops := _drop_files(state, systmp)):
            assert demo.poll() is None, demo.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the demo never wrote its drop file"
            time.sleep(0.1)
        time.sleep(0.5)  # the drop file written whole, the import under way
        children = psutil.Process(demo.pid).children(recursive=True)
        servers = [p for p in children if "server" in " ".join(p.cmdline())]
        assert servers, [p.cmdline() for p in children]  # a Prefect API server runs for it
        demo.send_signal(signal.SIGKILL)
        demo.wait(timeout=30)
        assert demo.returncode == -signal.SIGKILL

        # No child outlives the demo (they get SIGTERM when it dies).
        deadline = time.monotonic() + 20
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [(p.pid, " ".join(p.cmdline()[:5])) for p in _alive(children)]
        assert left == [], f"processes left running after the demo was killed: {left}"

        # The drop file is still there (the demo had no chance to clean up), and only it and
        # its directory hold the personal data: the scan finds what it looks for.
        secrets = _secrets(SEED, TICKETS)
        assert len(secrets) >= 20
        before = _leaks([state, systmp], secrets)
        assert {Path(p).parent for p in before} == {d.parent for d in drops}, before
        assert all(Path(p).is_relative_to(state / "tmp") for p in before), before
        assert (drops[0].parent.stat().st_mode & 0o777) == 0o700
        assert (drops[0].stat().st_mode & 0o777) == 0o600

        # The next command removes what the killed run left; nothing unmasked remains.
        status = subprocess.run(
            [FEEDBACKLOOP, "db", "status"], env=env, cwd=tmp_path, capture_output=True, timeout=120
        )
        assert status.returncode == 0, status.stderr.decode()[-2000:]
        assert list((state / "tmp").iterdir()) == []
        assert _leaks([state, systmp], secrets) == {}

        # The killed run is on record as running, with the process that ran it.
        settings = Settings(state_dir=state)
        engine = ensure_ready(settings)
        with engine.connect() as conn:
            runs = conn.execute(
                text("SELECT state, pid FROM ops.flow_runs WHERE flow_name = 'demo-loop'")
            ).all()
        assert [(r.state, r.pid) for r in runs] == [("Running", demo.pid)]

        # The next health ping marks it Crashed and tells the owners.
        from flows.monitor import health_ping

        with serve_fake_slack(("owners",)) as slack, _alerting(settings, slack):
            result = health_ping()
            posted = [m["text"] for m in slack.posted("owners")]
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT flow_name, state, error, ended_at FROM ops.flow_runs WHERE pid = :p"),
                {"p": demo.pid},
            ).all()
        crashed = {r.flow_name: r for r in rows}
        assert crashed["demo-loop"].state == "Crashed" and crashed["demo-loop"].ended_at
        assert all(r.state == "Crashed" for r in rows)  # a subflow it was in, too
        assert "gone" in crashed["demo-loop"].error
        assert not next(c for c in result.checks if c.name == "flow-runs").ok
        alerts = [t for t in posted if "demo-loop" in t]
        assert len(alerts) == 1 and "crashed" in alerts[0], posted
        assert not any(s.decode() in t for s in secrets for t in posted)

        # A second ping finds nothing new: one alert per vanished run.
        with serve_fake_slack(("owners",)) as slack, _alerting(settings, slack):
            health_ping()
            assert not any("crashed" in m["text"] for m in slack.posted("owners"))
        engine.dispose()
    finally:
        for p in _alive(children):  # what a failing run would leave
            p.kill()
        server.stop()


SERVE_PREFECT = """
import sys, time
from pathlib import Path
from feedbackloop.serve import free_port, prefect_server

with prefect_server(Path(sys.argv[1]), free_port()) as url:
    print(url, flush=True)
    time.sleep(600)
"""


def test_the_prefect_server_of_serve_dies_with_its_parent(tmp_path: Path) -> None:
    """`feedbackloop serve`'s `prefect server start`, its parent killed with -9."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "PREFECT_"))}
    parent = subprocess.Popen(
        [sys.executable, "-c", SERVE_PREFECT, str(tmp_path / "prefect")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    children: list[psutil.Process] = []
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().startswith("http://127.0.0.1:")  # the server is up
        children = psutil.Process(parent.pid).children(recursive=True)
        assert any("server" in " ".join(p.cmdline()) for p in children)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _alive(children) == []
    finally:
        for p in _alive(children):
            p.kill()
        parent.kill()
        parent.wait()
