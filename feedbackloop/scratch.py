"""Private scratch directories under `STATE_DIR/tmp`, never the system temp dir.

What goes there can be personal data before masking (the demo's notes drop file) or a key:
each directory is mode 700 and holds an `.owner` file (host, pid, process start). It is
removed when its block ends, and a directory whose owner process is gone (kill -9, OOM,
power cut) is removed by the next `private_dir()` or `sweep_stale()` on the same host;
every `feedbackloop` command sweeps when it starts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from feedbackloop.processes import ProcessIdentity, this_process

log = logging.getLogger(__name__)

OWNER_FILE = ".owner"
# Age after which a directory without a readable owner file counts as stale.
UNOWNED_GRACE_S = 600


def scratch_root(state_dir: Path) -> Path:
    root = state_dir / "tmp"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    return root


@contextmanager
def private_dir(state_dir: Path, prefix: str) -> Iterator[Path]:
    """A fresh mode-700 directory under `STATE_DIR/tmp` for the block, removed afterwards."""
    root = scratch_root(state_dir)
    sweep_stale(state_dir)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))  # mkdtemp: mode 700
    me = this_process()
    owner = {
        "host": me.host,
        "pid": me.pid,
        "started_at": me.started_at.isoformat() if me.started_at else None,
    }
    write_private(path / OWNER_FILE, json.dumps(owner))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private(path: Path, text: str) -> Path:
    """Write `text` to a new file that only its owner can read (mode 600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def sweep_stale(state_dir: Path) -> list[Path]:
    """Remove the scratch directories whose owner process is gone; returns them."""
    root = state_dir / "tmp"
    if not root.is_dir():
        return []
    removed = []
    for path in root.iterdir():
        if path.is_dir() and not path.is_symlink() and _stale(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.info("removed %s scratch dir(s) left by processes that are gone", len(removed))
    return removed


def _stale(path: Path) -> bool:
    try:
        owner = json.loads((path / OWNER_FILE).read_text())
        started = owner.get("started_at")
        identity = ProcessIdentity(
            str(owner["host"]),
            int(owner["pid"]),
            datetime.fromisoformat(started) if started else None,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # No readable owner: its process died between mkdtemp and writing the file.
        try:
            return time.time() - path.stat().st_mtime > UNOWNED_GRACE_S
        except FileNotFoundError:
            return False  # removed meanwhile by its owner
    # Another host's directory (a shared state dir): only that host can tell.
    return identity.is_running() is False
