"""The C heap: hand its free pages back to the system (glibc's malloc_trim).

Detection leaves tens of megabytes of freed temporaries in the heap (the text models run
without an arena; a 12-MP photo's passes leave holes), and the resident size stays at its
high-water mark until they are handed back. Elsewhere than glibc these do nothing.
"""
from __future__ import annotations

import ctypes
import functools


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (malloc_trim(0))."""
    try:
        libc().malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


@functools.lru_cache(maxsize=1)
def libc() -> ctypes.CDLL:
    """glibc, loaded once per process (OSError elsewhere)."""
    return ctypes.CDLL("libc.so.6", use_errno=True)
