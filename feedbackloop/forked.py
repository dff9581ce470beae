"""A function call in a forked child process: the loop's second core.

The pipeline is CPU-bound Python (masking, parsing, scoring, clustering), so threads share one
core. A fork starts in milliseconds with everything the parent loaded (spaCy, GX, the user
directory) and shares those pages until written. `fork_call` runs one call in such a child and
hands its result (or exception) back through a pipe.

What keeps it safe:
- The child gets SIGKILL when the thread that forked it ends (`PR_SET_PDEATHSIG`), so a
  parent killed with -9 leaves no worker writing on; PostgreSQL rolls back whatever
  transaction the child had open, and each stream's page commits are atomic as before.
- Engines passed as `engines` drop their pooled connections in the child without closing
  them (SQLAlchemy's rule for forks: the parent's connections stay the parent's).
- The child freezes the heap it inherited (`gc.freeze`), so its collections neither scan nor
  touch the parent's objects (no copy-on-write of pages it only reads); the parent's heap is
  frozen too until the child is reaped (`memory.frozen_heap`), for the same reason.
- The child ends with `os._exit`: no atexit handler, log flusher or thread-pool shutdown of
  the parent's runs twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import select
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine

from feedbackloop.memory import frozen_heap

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
# The child's name in /proc/<pid>/comm (15 bytes at most), so `ps` and a memory sampler can
# tell a forked worker from the parent it shares its command line with.
COMM_PREFIX = "fl:"


class WorkerDied(RuntimeError):
    """The child ended without handing back a result (killed, or out of memory)."""


class Forked(Generic[T]):
    """A call running in a child process; `result()` waits for it."""

    def __init__(self, pid: int, fd: int, name: str, frozen: ExitStack) -> None:
        self.pid = pid
        self.name = name
        self._fd = fd
        self._frozen = frozen
        self._done = False
        self._payload: tuple[bool, Any] | None = None
        self._lock = threading.Lock()

    def result(self) -> T:
        """The call's return value; its exception re-raised here; `WorkerDied` if the child
        ended without either. Reading the pipe releases the GIL, so the caller's other
        threads run meanwhile."""
        with self._lock:
            if not self._done:
                self._collect()
        assert self._payload is not None
        ok, value = self._payload
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def join(self, poll: float = 0.5) -> T:
        """`result()`, waited for in slices of `poll` s: an exception raised in this thread
        meanwhile (a Prefect task timeout in a worker thread is sent that way, and cannot
        interrupt a blocking read) ends the wait within `poll` s. However the wait ends, the
        child does not outlive it."""
        try:
            while not self.ready(poll):
                pass
            return self.result()
        finally:
            self.kill()  # nothing to do once the result is in

    def ready(self, timeout: float = 0.0) -> bool:
        """Whether the child has answered or ended (waiting up to `timeout` s for it)."""
        with self._lock:
            if self._done:
                return True
            readable, _, _ = select.select([self._fd], [], [], timeout)
            return bool(readable)

    def kill(self) -> None:
        """End the child now (the caller is giving up on it) and reap it."""
        with self._lock:
            if self._done:
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._collect()

    def _collect(self) -> None:
        chunks = []
        try:
            with os.fdopen(self._fd, "rb") as pipe:
                while chunk := pipe.read(1 << 20):
                    chunks.append(chunk)
        finally:
            _, status = os.waitpid(self.pid, 0)
            self._done = True
            self._frozen.close()
        try:
            self._payload = pickle.loads(b"".join(chunks))
        except Exception:
            code = os.waitstatus_to_exitcode(status)
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            self._payload = (False, WorkerDied(f"{self.name}: worker ended by {how}"))


def can_fork() -> bool:
    """Forking a worker needs `os.fork` and Linux's parent-death signal."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def fork_call(
    fn: Callable[..., T],
    /,
    *args: Any,
    engines: Sequence[Engine] = (),
    name: str = "worker",
    **kwargs: Any,
) -> Forked[T]:
    """Start `fn(*args, **kwargs)` in a forked child; `engines` are the SQLAlchemy engines the
    call uses (their pools are made the child's own). Fork from a thread that outlives the
    call (the child dies with that thread), and wait with `result()` or end it with `kill()`."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
    parent = os.getpid()
    read_fd, write_fd = os.pipe()
    # Until the child is reaped, this process's collections leave the objects it shares with
    # the child alone: scanning writes to each object, which would copy its page.
    frozen = ExitStack()
    frozen.enter_context(frozen_heap())
    try:
        pid = os.fork()
    except BaseException:
        frozen.close()
        raise
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_fd)
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            prctl(_PR_SET_NAME, ctypes.c_char_p((COMM_PREFIX + name).encode()[:15]))
            gc.freeze()
            for engine in engines:
                engine.dispose(close=False)
            try:
                payload: tuple[bool, Any] = (True, fn(*args, **kwargs))
            except BaseException as exc:
                payload = (False, _portable(exc))
            try:
                data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                failed = RuntimeError(f"{name}: the result could not be sent back: {exc}")
                data = pickle.dumps((False, failed))
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return Forked(pid, read_fd, name, frozen)


def _portable(exc: BaseException) -> BaseException:
    """`exc` itself when it survives pickling, else a RuntimeError with its type and message
    (the message is what our errors carry; they hold no personal data)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def run_in_child(
    fn: Callable[..., T],
    /,
    *args: Any,
    engines: Sequence[Engine] = (),
    name: str = "worker",
    **kwargs: Any,
) -> T:
    """`fn(*args, **kwargs)` in a forked child, waited for here; a wait cut short (a task's
    timeout, a cancelled run) kills the child rather than leave it writing on (`join`)."""
    return fork_call(fn, *args, engines=engines, name=name, **kwargs).join()


class Gate:
    """Holds a forked child at a point of its work until this process opens the gate: the
    child computes beside this process and writes only after it (a pipe, so it works across
    the fork; create it before forking). A child whose parent dies is killed, not released."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self._opened = False

    def wait(self) -> None:
        """In the child (or a thread of the parent): block until the parent opens the gate.
        The byte read is put back, so a retried child passes too: once open, always open."""
        os.read(self._read, 1)
        os.write(self._write, b"\x01")

    def open(self) -> None:
        """In the parent: let the child go on (once; later calls do nothing)."""
        if not self._opened:
            self._opened = True
            os.write(self._write, b"\x01")

    def close(self) -> None:
        """In the parent, after the child ended: release the pipe."""
        self.open()
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
