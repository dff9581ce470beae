"""`feedbackloop demo` as a user runs it: a Prefect flow run end to end on the embedded server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

FEEDBACKLOOP = str(Path(sys.executable).with_name("feedbackloop"))


def test_demo_prints_row_counts_from_the_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "PREFECT_"))}
    env["FEEDBACKLOOP_STATE_DIR"] = str(tmp_path / "state")
    try:
        result = subprocess.run(
            [FEEDBACKLOOP, "demo", "--tickets", "300", "--seed", "5"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        assert "Rows in the database now" in out
        assert re.search(r"raw\.tickets\s*│\s*300\b", out), out
        assert "CREDIT_CARD" in out  # masked-entity counts are shown
        status = subprocess.run(
            [FEEDBACKLOOP, "db", "status"], capture_output=True, text=True, env=env, timeout=120
        )
        assert re.search(r"raw\.tickets\s*│\s*300\b", status.stdout), status.stdout
    finally:
        subprocess.run([FEEDBACKLOOP, "db", "stop"], env=env, capture_output=True, timeout=120)
