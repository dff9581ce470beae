"""Python children of a test, for what must happen in another process (an owner that dies,
a server that outlives its starter)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def python_output(code: str, *args: str, timeout: float) -> str:
    """The standard output, stripped, of `python -c code *args`; an error if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return done.stdout.strip()


def run_python(*args: str, cwd: Path, timeout: float) -> str:
    """The standard output of `python *args` run in `cwd`; the test fails with the end of its
    standard error if it exits non-zero."""
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def kill_9_once(
    child: subprocess.Popen[Any], reached: Callable[[], bool], *, never: str, poll: float
) -> None:
    """Wait (60 s at most, the child alive all along) until `reached()`, then kill -9 it."""
    deadline = time.monotonic() + 60
    while not reached():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, never
        time.sleep(poll)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def start_sync(script: str, state_dir: Path, database: str, base_url: str) -> subprocess.Popen[str]:
    """`python -c script STATE_DIR DATABASE BASE_URL`: a sync in a process of its own, for a
    test to kill -9 in the middle of its pages."""
    return subprocess.Popen(
        [sys.executable, "-c", script, str(state_dir), database, base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_while_running(
    proc: subprocess.Popen[str], count: Callable[[], int], target: int, what: str
) -> None:
    """Poll `count` until it reaches `target`; the test fails with the process's output if it
    exits first, or with `what` after a minute."""
    deadline = time.monotonic() + 60
    while count() < target:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
