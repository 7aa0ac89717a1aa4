"""Process-wide glibc malloc tuning for the ``p2pstack`` command (a no-op elsewhere).

Bulk transfers allocate and free buffers of hundreds of KiB at a high rate. With glibc's
defaults, freed memory at the top of the heap is handed back to the kernel (``M_TRIM_THRESHOLD``)
and large blocks are ``mmap``-ed afresh, so nearly every such buffer faults its pages in again
(about 100,000 minor faults per GiB received). Keeping a few MiB mapped removes that cost. Only
the command calls this: a library must not change its host process's allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Final

logger: Final = logging.getLogger("p2pstack.cli")

_M_TRIM_THRESHOLD: Final = -1
_M_TOP_PAD: Final = -2
_M_MMAP_THRESHOLD: Final = -3

MMAP_THRESHOLD: Final = 4 * 1024 * 1024
"""Blocks up to this size come from the heap (reused) instead of fresh mappings."""
TRIM_THRESHOLD: Final = 64 * 1024 * 1024
"""Free memory kept at the heap top before it is returned to the kernel."""
TOP_PAD: Final = 4 * 1024 * 1024
"""Extra heap grown at once, so the heap top moves rarely."""


def tune_allocator() -> bool:
    """Apply the settings above when running on glibc; return whether they were applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - present on glibc only
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = all(
        mallopt(option, value) == 1
        for option, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (_M_TOP_PAD, TOP_PAD),
        )
    )
    logger.debug("glibc malloc tuning applied: %s", applied)
    return applied
