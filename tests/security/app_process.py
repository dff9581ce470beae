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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from feedbackloop.processes import ProcessStartError, free_port, serving

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
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        log = stack.enter_context(log_path.open("w"))
        try:
            proc = stack.enter_context(
                serving(
                    [sys.executable, "-c", LAUNCH, str(port)],
                    f"{url}/healthz",
                    timeout=timeout,
                    stop_timeout=30,
                    env=clean | env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        except ProcessStartError as exc:
            raise AssertionError(f"app {exc}: {log_path.read_text()[-2000:]}") from None
        yield AppProcess(url, proc.pid, log_path)
