"""The steady heap that timing runs on (flopcount.allocator)."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from flopcount.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD, steady_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")
def test_steady_heap_keeps_blocks_below_32_mb_on_the_heap():
    # In a fresh interpreter, a 16 MB block: glibc's default threshold starts at 128 KB, so it is mmapped
    # (mallinfo2's hblks, the mmapped blocks in use, counts one more); with the threshold fixed at 32 MB it comes
    # from the heap (hblks 0).
    script = (
        "import ctypes, ctypes.util\n"
        "from flopcount.allocator import steady_heap\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "class Info(ctypes.Structure):\n"
        "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena ordblks smblks hblks hblkhd usmblks fsmblks '\n"
        "                                                'uordblks fordblks keepcost').split()]\n"
        "libc.mallinfo2.restype = Info; libc.malloc.restype = ctypes.c_void_p\n"
        "def mmapped_blocks_while_16_mb_is_held():\n"
        "    before = libc.mallinfo2().hblks; block = libc.malloc(16 << 20); held = libc.mallinfo2().hblks\n"
        "    libc.free(ctypes.c_void_p(block))\n"
        "    return held - before\n"
        "print(mmapped_blocks_while_16_mb_is_held(), steady_heap(), mmapped_blocks_while_16_mb_is_held(), steady_heap())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "True", "0", "True"]  # the second call gives the same answer, cached
    assert MMAP_THRESHOLD == 32 * 1024 * 1024 and TRIM_THRESHOLD == 2**31 - 1


def test_steady_heap_is_false_without_a_libc_mallopt(monkeypatch):
    steady_heap.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    try:
        assert steady_heap() is False
    finally:
        steady_heap.cache_clear()
