"""`memory.frozen_heap` (around dbt commands, and forked workers): the objects from before a
dbt command are left out of the garbage collector's scans while it runs and handed back
after, also when commands overlap or fail, and a process's own freeze is never undone."""

from __future__ import annotations

import gc
import threading

import pytest

from feedbackloop.memory import frozen_heap as _frozen_heap


@pytest.fixture(autouse=True)
def _nothing_frozen() -> None:
    gc.unfreeze()


def test_objects_from_before_are_frozen_while_inside_and_handed_back_after() -> None:
    before = {"a": [1]}
    with _frozen_heap():
        assert gc.get_freeze_count() > 0
        assert not any(o is before for o in gc.get_objects())  # not scanned
        made_inside = {"b": [2]}
        assert any(o is made_inside for o in gc.get_objects())  # scanned as before
    assert gc.get_freeze_count() == 0
    assert any(o is before for o in gc.get_objects())


def test_a_failing_command_still_unfreezes() -> None:
    with pytest.raises(RuntimeError), _frozen_heap():
        raise RuntimeError("dbt failed")
    assert gc.get_freeze_count() == 0


def test_overlapping_commands_unfreeze_when_the_last_one_ends() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with _frozen_heap():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    with _frozen_heap():
        pass
    assert gc.get_freeze_count() > 0  # the other command is still running
    release.set()
    thread.join(10)
    assert gc.get_freeze_count() == 0


def test_a_freeze_made_by_the_process_itself_is_left_alone() -> None:
    # Checked by object, not by `gc.get_freeze_count()`: other threads of the test process
    # may free frozen objects at any time, which lowers the count.
    mine = {"frozen": [1]}
    gc.freeze()
    try:
        later = {"later": [2]}
        with _frozen_heap():
            assert any(o is later for o in gc.get_objects())  # the command froze nothing
        assert not any(o is mine for o in gc.get_objects())  # and undid nothing
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
