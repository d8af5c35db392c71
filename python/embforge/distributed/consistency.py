"""Ranks that must agree: the same parameters, the same corpus, and failing
together.

``check_same`` refuses ranks given different values (a rank started with
another ``min_count``, or with another file), naming the field and the ranks;
``run_together`` makes a failure on one rank (bad input in its share) an
error on every rank at once, instead of leaving the others waiting in their
next collective until the timeout.

Values are compared by a digest (blake2b of a canonical encoding, the same on
every machine and Python process: not Python's salted ``hash()``), so a
large value costs 16 bytes per field to compare.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Any, Callable, Dict, List, Optional, TypeVar, cast

import numpy as np

from .collectives import all_gather_object
from .group import Group

__all__ = ["digest", "check_same", "run_together", "raise_together"]

T = TypeVar("T")


def _encode(value: Any, out: List[bytes]) -> None:
    """Appends a canonical, type-tagged encoding of `value`."""
    if value is None:
        out.append(b"N")
    elif isinstance(value, bool):
        out.append(b"T" if value else b"F")
    elif isinstance(value, (int, np.integer)):
        text = str(int(value)).encode()
        out.append(b"i%d:" % len(text) + text)
    elif isinstance(value, (float, np.floating)):
        out.append(b"f" + struct.pack("<d", float(value)))
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        out.append(b"s%d:" % len(data) + data)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        out.append(b"b%d:" % len(data) + data)
    elif isinstance(value, np.ndarray):
        header = f"{value.dtype.str}{value.shape}".encode()
        data = np.ascontiguousarray(value).tobytes()
        out.append(b"a%d:" % len(header) + header + b"%d:" % len(data) + data)
    elif isinstance(value, (list, tuple)):
        out.append(b"l%d:" % len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        keys = sorted(value, key=str)
        out.append(b"d%d:" % len(keys))
        for key in keys:
            _encode(str(key), out)
            _encode(value[key], out)
    else:
        raise TypeError(f"cannot compare a {type(value).__name__} across ranks; pass numbers, "
                        "strings, bytes, numpy arrays, or lists/dicts of them")


def digest(value: Any) -> str:
    """A stable hex digest of `value` (numbers, strings, bytes, numpy arrays,
    lists, tuples, dicts of them): equal values give equal digests everywhere."""
    parts: List[bytes] = []
    _encode(value, parts)
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.hexdigest()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _ranks(ranks: List[int]) -> str:
    return ("rank " if len(ranks) == 1 else "ranks ") + ", ".join(map(str, ranks))


def check_same(group: Group, what: str, value: Any) -> None:
    """Raises ValueError on every rank unless all ranks passed equal `value`.

    A dict is compared field by field, and the error names each differing
    field with its values and the ranks holding them, e.g. "ranks disagree
    on encode parameters: min_count is 5 on ranks 0, 2 but 3 on rank 1"."""
    fields: Dict[str, Any] = value if isinstance(value, dict) else {what: value}
    mine = {str(k): (digest(v), _short(v)) for k, v in fields.items()}
    everyone = all_gather_object(mine, group)
    problems = []
    for name in sorted(set().union(*everyone)):
        holders: Dict[str, List[int]] = {}
        shown: Dict[str, str] = {}
        for rank, table in enumerate(everyone):
            key, text = table.get(name, ("<missing>", "<missing>"))
            holders.setdefault(key, []).append(rank)
            shown[key] = text
        if len(holders) > 1:
            variants = sorted(holders.items(), key=lambda kv: kv[1][0])
            problems.append(f"{name} is " + " but ".join(
                f"{shown[key]} on {_ranks(ranks)}" for key, ranks in variants))
    if problems:
        raise ValueError(f"ranks disagree on {what}: " + "; ".join(problems) +
                         " (every rank must be started with the same parameters and corpus)")


def run_together(group: Optional[Group], what: str, fn: Callable[[], T],
                 discard: Optional[Callable[[T], None]] = None) -> T:
    """Runs ``fn()`` on every rank; if it raises on any rank, every rank
    raises: the failing rank its own exception, the others a ValueError (when
    the failure was a ValueError: bad input) or RuntimeError naming the rank
    and its message. A rank whose ``fn()`` returned lets its result go first
    (``discard(result)`` when given: what must be closed, not only freed).
    Without a group (one process) it is ``fn()``."""
    if group is None:
        return fn()
    try:
        result, failure = fn(), None
    except Exception as error:
        result, failure = None, error
    status = None if failure is None else (type(failure).__name__, str(failure),
                                           isinstance(failure, ValueError))
    statuses = all_gather_object(status, group)
    if failure is not None:
        raise failure
    for rank, status in enumerate(statuses):
        if status is not None:
            if discard is not None:
                discard(cast("T", result))
            result = None  # not kept alive by the traceback's frame
            name, message, bad_input = status
            kind = ValueError if bad_input else RuntimeError
            raise kind(f"rank {rank} failed while {what}: {name}: {message}")
    return cast("T", result)  # fn() returned: no rank failed


def raise_together(group: Group, what: str, failure: Optional[Exception]) -> None:
    """Raises on every rank when `failure` (this rank's, or None) is set on
    any rank, as run_together does: for work that must keep the ranks in
    step to its end (collectives inside it) before it can fail."""
    def fail() -> None:
        if failure is not None:
            raise failure
    run_together(group, what, fail)
