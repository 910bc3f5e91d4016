"""Large arrays freed by the engine go back to the operating system at once.

glibc's allocator serves a request from its heap, not from a fresh memory map, once the
request is below its *dynamic* mmap threshold, which it raises to the size of every
mapped block freed (up to 32 MiB).  After the set-up's temporaries are freed, a 256³
run's uint8 and bool arrays (16 MiB) then live in the heap, where one long-lived array
above a freed one keeps the freed memory resident: about 6 bytes per voxel of peak
memory for nothing (``bench/memory.py``).  Fixing the threshold at 1 MiB turns the
dynamic adjustment off, so every array of a megabyte or more is mapped on allocation
and unmapped on release.  The engine allocates no arrays inside its loop, so the cost
(page faults on the first touch of each temporary) falls on set-up and post-processing.
"""

import ctypes
import os
import sys

__all__ = ["MMAP_THRESHOLD", "return_freed_arrays_to_the_os"]

MMAP_THRESHOLD = 8 << 20
"""Bytes from which an allocation is a memory map of its own (glibc only)."""

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_DONE = []


def return_freed_arrays_to_the_os():
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD`, once per process.

    Does nothing off Linux, where the C library has no ``mallopt``, or when the user has
    set ``MALLOC_MMAP_THRESHOLD_`` in the environment (their choice stands).

    Returns
    -------
    bool
        Whether the threshold is now set by this function.
    """
    if _DONE:
        return _DONE[0]
    ok = False
    if sys.platform.startswith("linux") and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        try:
            libc = ctypes.CDLL(None)
            # Fixing one threshold stops glibc's adjustment of both: the heap's trim
            # threshold is set to twice the mmap threshold, as glibc's own adjustment does,
            # or every free at the heap's top would hand pages back only to fault them in
            # again on the next allocation (the numpy backend's temporaries: 3x slower).
            ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                libc.mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD))
        except (OSError, AttributeError):
            ok = False
    _DONE.append(ok)
    return ok
