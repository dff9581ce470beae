"""`feedbackloop.memory.tune_allocator`: with it, large arrays freed between chunks go back to
the system instead of staying in the process as heap holes (issue 20's memory goal). Each case
runs in a fresh process: the setting is process-wide."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import json, sys
import numpy as np
from feedbackloop.memory import tune_allocator

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20

tuned = tune_allocator() if sys.argv[1] == "tuned" else None
big = np.ones(20 * 2**20 // 8)  # freed below: glibc's default then serves 20 MB from the heap
del big
before = rss_mb()
chunks, kept = [], []
for _ in range(20):  # 80 MB in 4 MB arrays, like vector chunks, between small arrays that stay
    chunks.append(np.ones(4 * 2**20 // 8))
    kept.append(np.ones(2**13))
del chunks
print(json.dumps({"tuned": tuned, "kept_mb": rss_mb() - before, "again": tune_allocator()}))
"""


def _probe(mode: str) -> dict[str, object]:
    # glibc reads its settings from the environment too, and any of them turns its dynamic
    # threshold off (Dask's nanny leaves MALLOC_TRIM_THRESHOLD_ in os.environ): a clean one.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_freed_chunks_leave_the_process_with_the_allocator_tuned() -> None:
    tuned = _probe("tuned")
    assert tuned["tuned"] is True and tuned["again"] is True
    assert float(tuned["kept_mb"]) < 10  # type: ignore[arg-type]
    # The same allocations with glibc's defaults keep most of the 80 MB: what is measured
    # above is the setting, not the test's allocations being small.
    default = _probe("default")
    assert float(default["kept_mb"]) > 40  # type: ignore[arg-type]
