"""Validation of numeric parameters and memory budgets, shared by the trainers.

Every trainer argument is checked in Python before any native call, so a bad
value is a ValueError that names the parameter and the value it got.
"""
from __future__ import annotations

import os
import re
from typing import Optional, TypeVar, Union, cast

import numpy as np

__all__ = ["check_number", "check_vocab_limits", "parse_memory", "MIN_MEMORY", "available_memory",
           "check_allocation"]


_N = TypeVar("_N")
_Bound = Union[int, float]


def check_number(name: str, value: _N, low: _Bound, high: Optional[_Bound] = None, *,
                 integer: bool = False, low_open: bool = False) -> _N:
    """Returns `value` if it is a number (an integer if `integer`) in
    [low, high] (or (low, high] with `low_open`); else raises ValueError."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds) or value != value:
        raise ValueError(f"{name} must be a{'n integer' if integer else ' number'}, got {value!r}")
    number = cast("float", value)  # an int, float or numpy scalar: checked just above
    too_low = number <= low if low_open else number < low
    if too_low or (high is not None and number > high):
        bound = (f"> {low}" if low_open else f">= {low}") + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def check_vocab_limits(min_count: int, max_vocab_size: Optional[int]) -> None:
    """Raises ValueError unless `min_count` >= 0 and `max_vocab_size` is
    None or >= 1 (what every counting of a vocabulary takes)."""
    if int(min_count) < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    if max_vocab_size is not None and int(max_vocab_size) < 1:
        raise ValueError(f"max_vocab_size must be >= 1 or None, got {max_vocab_size}")


# Memory budgets (co-occurrence counting, GloVe training): the smallest accepted,
# and the units a budget may be written in (decimal and binary).
MIN_MEMORY = 1 << 16
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_memory(memory: object) -> int:
    """Bytes from an int (bytes), a float (GB, like GloVe's ``-memory``) or a
    string such as ``"1GB"``, ``"512MiB"``, ``"1.5G"``."""
    if isinstance(memory, bool):
        raise ValueError(f"memory must be bytes, GB or a string like '1GB', got {memory!r}")
    if isinstance(memory, (int, np.integer)):
        value = int(memory)
    elif isinstance(memory, (float, np.floating)):
        if not np.isfinite(memory):
            raise ValueError(f"memory must be finite, got {memory!r}")
        value = int(float(memory) * 10**9)
    elif isinstance(memory, str):
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*", memory)
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ValueError(f"cannot read memory={memory!r}: expected e.g. '1GB', '512MiB' or bytes")
        value = int(float(match.group(1)) * _UNITS[unit])
    else:
        raise ValueError(f"memory must be bytes, GB or a string like '1GB', got {memory!r}")
    if value < MIN_MEMORY:
        raise ValueError(f"memory={memory!r} is {value} bytes; the minimum is {MIN_MEMORY} bytes (64 KiB)")
    return value


def available_memory() -> Optional[int]:
    """Bytes the kernel says a new allocation can get without swapping
    (MemAvailable), else the physical memory; None when neither is known."""
    try:
        with open("/proc/meminfo", "rb") as info:
            for line in info:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_allocation(what: str, nbytes: int, available: Optional[int] = None) -> None:
    """ValueError naming `what` and both numbers when `nbytes` exceeds the
    memory available now (`available`, default available_memory())."""
    available = available_memory() if available is None else available
    if available is not None and nbytes > available:
        raise ValueError(f"{what} needs {nbytes / 1e9:.2f} GB ({nbytes} bytes), more than the "
                         f"{available / 1e9:.2f} GB of memory available")
