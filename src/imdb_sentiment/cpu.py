"""CPU settings for training and benchmarks: thread count and the C allocator.

glibc hands every block above its mmap threshold (at most 32 MB by default) straight back to the kernel when it is
freed, so a padded LSTM step, whose gate buffers run to tens of MB, pays for fresh zeroed pages on every batch:
on the 2-core machine of results/ that was over a quarter of the benchmark's CPU time, spent in the kernel.
Raising the threshold lets those blocks be reused, as PyTorch's CPU tuning guide gets from jemalloc or tcmalloc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30  # blocks up to this size come from the reusable heap
_GLIBC_MAX_MMAP_THRESHOLD = 32 << 20  # what older glibc versions accept at most

_allocator_tuned = False


def configure(num_threads: int | None = None, tune_allocator: bool = True) -> None:
    """Set torch's thread count (None leaves torch's choice) and, on glibc, keep large freed blocks for reuse."""
    if num_threads:
        torch.set_num_threads(num_threads)
    if tune_allocator:
        tune_glibc_allocator()


def tune_glibc_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; False where the C library is not glibc or refuses."""
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES) or mallopt(_M_MMAP_THRESHOLD, _GLIBC_MAX_MMAP_THRESHOLD)
    trim_ok = mallopt(_M_TRIM_THRESHOLD, 2 * _KEEP_BYTES - 1)
    _allocator_tuned = bool(mmap_ok and trim_ok)
    return _allocator_tuned


def allocator_tuned() -> bool:
    return _allocator_tuned
