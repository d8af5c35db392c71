"""Cutting the rows of a matrix spread over ranks into consecutive ranges of
a bounded number of entries, and placing each rank's entries of a range
among the range's (row, col) order: what writing a distributed count a
piece at a time (cooccurrence.gathered_chunks) and merging the ranks'
partial counts a piece at a time (partition_merge) share; and where each
row's entries start in a row-sorted column, without reading it whole.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

__all__ = ["row_ranges", "range_positions", "sorted_row_starts"]


def row_ranges(counts: np.ndarray, entries: int) -> List[Tuple[int, int]]:
    """Consecutive row ranges [a, b) covering every row, each holding at
    most `entries` nonzeros (`counts`: the whole matrix's, a row), or one
    row that holds more. The same on every rank, given the same counts."""
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    ranges, a = [], 0
    while a < len(counts):
        b = int(np.searchsorted(starts, starts[a] + max(1, int(entries)), side="right")) - 1
        b = max(b, a + 1)
        ranges.append((a, b))
        a = b
    return ranges


def range_positions(counts: np.ndarray, a: int, b: int, rank: int, world_size: int) -> np.ndarray:
    """Where rank `rank`'s entries of the rows [a, b) go among all the
    range's entries in (row, col) order: its rows are r % world_size ==
    rank, its entries sorted by (row, col); `counts`: the whole matrix's, a
    row (a row's entries are all its owner's). int64, one an entry."""
    first = a + (rank - a) % world_size
    owned = np.arange(first, b, world_size, dtype=np.int64)
    sizes = counts[owned]
    starts = np.zeros(b - a + 1, dtype=np.int64)
    np.cumsum(counts[a:b], out=starts[1:])
    # each entry: its row's start in the range, plus its index in the part
    # less its row's start in the part
    within = np.zeros(len(owned), dtype=np.int64)
    np.cumsum(sizes[:-1], out=within[1:])
    positions = np.repeat(starts[owned - a] - within, sizes)
    positions += np.arange(len(positions), dtype=np.int64)
    return positions


def sorted_row_starts(rows: np.ndarray, vocab_size: int) -> np.ndarray:
    """Where each row's entries start in `rows`, sorted (V + 1 int64, the
    last len(rows)): binary searches with keys of the rows' own dtype, so
    that a large (or memory-mapped) column is neither copied nor read
    whole, where np.bincount would widen it to int64 first."""
    keys = np.arange(vocab_size + 1, dtype=rows.dtype)
    return np.searchsorted(rows, keys).astype(np.int64, copy=False)
