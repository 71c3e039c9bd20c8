"""A steady heap for timing: glibc's malloc with a fixed mmap threshold and no trimming.

By default glibc serves large blocks with fresh ``mmap`` pages and moves its mmap threshold as blocks are
freed, and returns the top of the heap to the OS past a trim threshold. So whether a forward's activations
reuse warm heap memory or fault in new pages depends on what the process allocated before: the same
network (a generated VGG-style one, 1 thread) measured 5.2-7.0 ms in six fresh processes here, and
4.5-4.7 ms in six more with the thresholds fixed. Timing in flopcount (``bench``, calibration, the
evaluation) fixes them first, so that a measurement is one number and not a draw from two. It changes
how memory is reused, never what is computed; freed memory stays with the process (up to 2 GB at the heap's
top) instead of going back to the OS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest on 64-bit: blocks up to 32 MB come from the heap
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: never give the heap's top back


@functools.lru_cache(maxsize=None)
def steady_heap() -> bool:
    """Fix glibc's mmap and trim thresholds in this process (once); False where libc has no mallopt."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
