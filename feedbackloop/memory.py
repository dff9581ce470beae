"""glibc allocator settings for pipeline processes (issue 20's flat-memory goal).

glibc serves a block of `M_MMAP_THRESHOLD` bytes or more with a mapping of its own, given back
to the system when freed. By default that threshold starts at 128 KB and rises to the largest
mapped block freed so far (up to 32 MB): after the topics stage frees one vector chunk, the
next chunk-sized arrays come from the heap, and the holes they leave stay in the process's RSS.
A fixed threshold keeps large numpy arrays in their own mappings. Set from our own process
starts (the flows package, the loop benchmark), never through the environment.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20  # bytes: numpy arrays of this size and more get their own mapping
TRIM_THRESHOLD = 1 << 20  # bytes: free heap top above this is given back at once

_tuned = False


def tune_allocator() -> bool:
    """Fix glibc's mapping and trim thresholds (once per process); False where the C library
    is not glibc (nothing is changed then)."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _tuned


# How many users of `frozen_heap` are inside it now (dbt commands, forked workers: threads
# can overlap).
_frozen_lock = threading.Lock()
_frozen_depth = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects this process has now out of the garbage collector's scans until the
    block ends (`gc.freeze`), and hand them back after (`gc.unfreeze`).

    - Around dbt: dbt allocates enough per node to set off the collector many times a build,
      and each full collection walked the whole heap the pipeline had built before (spaCy,
      GX, Prefect: half a million objects), none of it dbt's garbage: about 0.4 CPU-s of an
      increment's build and 0.6 of a full one (docs/decisions.md).
    - While a forked worker lives (`feedbackloop.forked`): a collection writes to every
      object it scans, so the parent's would copy each page it shares with the child.

    Objects made inside are collected as before. A process that froze objects itself (a
    pre-fork server) is left alone: nothing is frozen or unfrozen then."""
    global _frozen_depth
    with _frozen_lock:
        owned = _frozen_depth > 0 or gc.get_freeze_count() == 0
        if owned:
            if _frozen_depth == 0:
                gc.freeze()
            _frozen_depth += 1
    try:
        yield
    finally:
        if owned:
            with _frozen_lock:
                _frozen_depth -= 1
                if _frozen_depth == 0:
                    gc.unfreeze()
