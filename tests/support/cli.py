"""The console script as a user runs it, from any test folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# The console script installed beside the interpreter running the tests (the project venv).
FEEDBACKLOOP = str(Path(sys.executable).with_name("feedbackloop"))


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    text: bool = True,
    timeout: float = 180,
) -> subprocess.CompletedProcess[Any]:
    """`feedbackloop *args` without the developer's FEEDBACKLOOP_* variables, plus `env`;
    output as text, or as bytes when `text` is False (`stdin` is bytes)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACKLOOP_")}
    return subprocess.run(
        [FEEDBACKLOOP, *args],
        capture_output=True,
        input=stdin,
        text=text,
        timeout=timeout,
        env={**base, **(env or {})},
        cwd=cwd,
    )
