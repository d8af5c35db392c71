"""How many threads a call uses when it is not told (``workers=None``).

The cores this process may run on, shared with the other processes that
torchrun started on this machine (LOCAL_WORLD_SIZE): `torchrun
--nproc-per-node 4` on a 16-core machine gives each rank 4 threads, not 16
(16 each would put 64 busy threads on 16 cores). The cores are this
process's affinity (a container's cpuset, taskset); a launcher that binds
each rank to cores of its own should pass the thread count explicitly,
as the ranks cannot tell its binding from a cpuset they share.
"""
from __future__ import annotations

import os
from typing import Optional

from ._checks import check_number

__all__ = ["default_workers", "resolve_workers"]

MAX_WORKERS = 1024


def default_workers() -> int:
    """Threads used when none are given (see the module doc)."""
    try:
        usable = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        usable = max(1, os.cpu_count() or 1)
    return max(1, usable // _processes_on_this_machine())


def resolve_workers(workers: Optional[int]) -> int:
    """`workers` checked (1 ... 1024), or default_workers() for None."""
    if workers is None:
        return default_workers()
    return int(check_number("workers", workers, 1, MAX_WORKERS, integer=True))


def _processes_on_this_machine() -> int:
    """torchrun's LOCAL_WORLD_SIZE; 1 outside a torchrun job (or when it is
    not a positive integer)."""
    try:
        count = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    except ValueError:
        return 1
    return count if count >= 1 else 1
