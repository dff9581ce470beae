"""Scratch dirs under STATE_DIR/tmp: private, gone at the end of their block, and swept when
(and only when) the process that made them is gone."""

from __future__ import annotations

from pathlib import Path

from support.processes import python_output

from feedbackloop.scratch import private_dir, sweep_stale, write_private

LEAVE_BEHIND = """
import os, sys
from pathlib import Path
from feedbackloop.scratch import private_dir

block = private_dir(Path(sys.argv[1]), "killed-")  # kept: collecting it would clean up
print(block.__enter__(), flush=True)
os._exit(0)  # no cleanup, as after kill -9
"""


def test_private_dirs_are_owner_only_and_removed_at_the_end(tmp_path: Path) -> None:
    with private_dir(tmp_path, "demo-") as path:
        assert path.parent == tmp_path / "tmp"
        assert path.stat().st_mode & 0o777 == 0o700
        secret = write_private(path / "notes.jsonl", '{"email": "x@example.com"}\n')
        assert secret.stat().st_mode & 0o777 == 0o600
        assert sweep_stale(tmp_path) == []  # its owner (this process) is alive
        assert secret.exists()
    assert not path.exists()


def test_a_dir_whose_owner_died_is_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    orphan = Path(python_output(LEAVE_BEHIND, str(tmp_path), timeout=60))
    assert orphan.is_dir()
    with private_dir(tmp_path, "live-") as live:  # creating one sweeps the orphan
        assert not orphan.exists()
        assert sweep_stale(tmp_path) == [] and live.exists()
