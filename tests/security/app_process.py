"""The webhook app as deployed: uvicorn in a process of its own, logging as `feedbackloop web`
does (PII filter, ``LEVEL name: message`` on stderr), so a test can measure that process's
memory and count its log lines.

Not `feedbackloop web` itself: the CLI imports the NLP stack (spaCy, SciPy, Presidio) for its
other commands, about 130 MB the receiver never uses, which would hide what a request costs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from feedbackloop.serve import free_port

LAUNCH = """
import logging, sys
import uvicorn
from feedbackloop.config import get_settings
from feedbackloop.db import ensure_ready
from feedbackloop.governance.logging import install_pii_logging_filter
from feedbackloop.web import create_app

install_pii_logging_filter()
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
settings = get_settings()
app = create_app(settings, engine=ensure_ready(settings))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@dataclass
class AppProcess:
    url: str
    pid: int
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


@contextmanager
def app_process(env: dict[str, str], log_path: Path, timeout: float = 120) -> Iterator[AppProcess]:
    """Start the app with `env` (FEEDBACKLOOP_* settings) added to a clean environment."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "PREFECT_"))}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(port)],
            env=clean | env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"app exited early: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("app never answered /healthz")
            time.sleep(0.2)
        yield AppProcess(url, proc.pid, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
