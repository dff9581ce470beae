"""fork_call: a call in a forked child, against the real database and real processes."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from feedbackloop.forked import Gate, WorkerDied, can_fork, fork_call
from feedbackloop.processes import pid_is_running

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork and Linux")


def _write_rows(engine: Engine, n: int) -> int:
    with engine.begin() as conn:
        for i in range(n):
            conn.execute(
                text("INSERT INTO forked_rows (n, pid) VALUES (:n, :p)"), {"n": i, "p": os.getpid()}
            )
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM forked_rows")).scalar_one())


def test_the_child_writes_with_its_own_connections_while_the_parent_keeps_its(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE forked_rows (n int, pid int)"))
    # The parent holds a pooled connection, then the child works on a copy of the pool.
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    worker = fork_call(_write_rows, engine, 200, engines=[engine], name="rows")
    assert worker.pid != os.getpid()
    assert _write_rows(engine, 50) >= 50  # the parent's pool still works beside the child
    assert 200 <= worker.result() <= 250
    with engine.connect() as conn:
        pids = dict(conn.execute(text("SELECT pid, count(*) FROM forked_rows GROUP BY pid")).all())
    assert pids == {os.getpid(): 50, worker.pid: 200}
    assert not pid_is_running(worker.pid)  # reaped


class Refused(ValueError):
    pass


def _fail() -> None:
    raise Refused("page 3 refused: missing field 'id'")


def _unpicklable_error() -> None:
    class Local(Exception):
        pass

    raise Local("the cursor did not advance")


def _unpicklable_result() -> object:
    return lambda: None


def test_exceptions_come_back_as_they_were_raised() -> None:
    with pytest.raises(Refused, match="page 3 refused"):
        fork_call(_fail).result()
    # One the parent cannot unpickle keeps its type's name and its message.
    with pytest.raises(RuntimeError, match="Local: the cursor did not advance"):
        fork_call(_unpicklable_error).result()
    with pytest.raises(RuntimeError, match="the result could not be sent back"):
        fork_call(_unpicklable_result).result()


def test_a_child_killed_midway_is_reported_not_waited_for() -> None:
    worker = fork_call(time.sleep, 60, name="sleeper")
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(WorkerDied, match="sleeper: worker ended by signal 9"):
        worker.result()
    other = fork_call(time.sleep, 60, name="sleeper")
    started = time.monotonic()
    other.kill()
    assert time.monotonic() - started < 10
    assert not pid_is_running(other.pid)


def test_the_child_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    """kill -9 of the process that forked: no worker is left writing on with parent PID 1."""
    pid_file = tmp_path / "worker.pid"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from feedbackloop.forked import fork_call
        worker = fork_call(time.sleep, 120)
        open({str(pid_file)!r}, "w").write(str(worker.pid))
        worker.result()
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert pid_is_running(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while pid_is_running(child):
            assert time.monotonic() < deadline, "the worker outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()


def _wait_then(gate: Gate, value: int) -> int:
    gate.wait()
    return value


def test_a_gate_once_open_lets_every_later_child_through() -> None:
    """A retried task forks a second child after the first passed the gate: it passes too."""
    with Gate() as gate:
        first = fork_call(_wait_then, gate, 1)
        time.sleep(0.2)
        assert first.pid and not _ended(first.pid)  # held
        gate.open()
        gate.open()  # once: later calls do nothing
        assert first.result() == 1
        assert fork_call(_wait_then, gate, 2).result() == 2
        assert _wait_then(gate, 3) == 3  # and a thread of this process


def _ended(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG) != (0, 0)


class Interrupted(Exception):
    pass


def test_a_wait_ended_by_an_exception_in_its_thread_ends_the_child() -> None:
    """What a Prefect task timeout does to a task in a worker thread: an exception sent to the
    thread (it cannot interrupt a blocking read). `join` waits in slices, so it lands, and the
    child is killed and reaped, not left running."""
    started: list[int] = []
    outcome: list[BaseException] = []

    def wait() -> None:
        worker = fork_call(time.sleep, 60, name="sleeper")
        started.append(worker.pid)
        try:
            worker.join(poll=0.1)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    deadline = time.monotonic() + 10
    while not started:
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.01)
    assert thread.ident is not None
    sent = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(Interrupted)
    )
    assert sent == 1
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [type(e) for e in outcome] == [Interrupted]
    assert not pid_is_running(started[0])


def test_join_returns_the_result_and_names_the_worker() -> None:
    worker = fork_call(_named, name="events")
    assert worker.join() == "fl:events"
    assert worker.ready()


def _named() -> str:
    return Path("/proc/self/comm").read_text().strip()
