"""Keep freed memory in the process between training steps (glibc's allocator).

A training step allocates and frees the same few hundred activation and gradient buffers every
time, many of them megabytes large. glibc serves blocks above its mmap threshold (128 KiB at
start, adapting up to 32 MiB) with fresh ``mmap`` pages and returns them to the system when they
are freed, so every step page-faults its activations in again: on the default model, about
54,000 page faults and 120-200 ms of system time per 1.2 s step (docs/design.md, "Training
throughput"). Raising the mmap and trim thresholds keeps those blocks in the heap, where the next
step reuses them. Nothing changes numerically; the cost is that the process keeps up to
``threshold`` bytes of freed memory instead of returning it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_BYTES = 1 << 30
"""Both thresholds: blocks up to 1 GiB come from the heap, and up to 1 GiB of freed heap stays."""


def keep_freed_memory(threshold: int = KEEP_BYTES) -> bool:
    """Make glibc keep freed blocks of up to ``threshold`` bytes for reuse (process-wide).

    Returns:
        True when applied; False where the C library is not glibc (macOS, Windows, musl),
        where this is a no-op.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, threshold) == 1
    if not ok:
        logger.debug("mallopt refused the thresholds; allocator left as it is")
    return ok
