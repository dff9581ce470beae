"""Python children of a test, for what must happen in another process (an owner that dies,
a server that outlives its starter)."""

from __future__ import annotations

import subprocess
import sys


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
