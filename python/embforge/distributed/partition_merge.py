"""The ranks' partial co-occurrence counts sent to the owners of their rows
and merged there, a range of rows at a time, within a memory budget.

After its count, a rank holds the partial matrix of its share of the corpus,
over every row, in fixed point (16 bytes an entry): in memory, or in the
count's result files when it did not fit the budget. The rows are cut into
consecutive ranges of about the same number of entries over all the ranks'
partials (the same cut on every rank: it follows from every row's count,
summed once). For each range, a rank packs its entries by owner (row %
world size), sends each owner its part (one all-to-all), and merges what it
received, summing equal keys exactly, then rounds the sums to float32 as
the single-process count does. A round holds about ``ROUND_BYTES_PER_ENTRY``
bytes an entry of the range at its peak (the packed entries, those
received, unpacked, merged; each step lets the last one's arrays go first),
so the number of entries a round takes follows from what the budget leaves
beside the partial, the partition and a few numbers a row. The partition
goes to files when it might not fit beside them (its entries are bounded,
before the merge, by those its rows receive). A rank whose own work fails
says so before the next round, and every rank stops there with its reason.
"""
from __future__ import annotations

import contextlib
from typing import IO, Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, cast

import numpy as np

from .. import _native
from ..io import cooc_file
from .collectives import all_reduce
from .consistency import raise_together
from .exchange import exchange_packed
from .group import Group
from .row_ranges import row_ranges, sorted_row_starts

__all__ = ["Partial", "partial_from_count", "merge_partition", "plan_rounds", "PACKED_ENTRY",
           "ROUND_BYTES_PER_ENTRY", "MIN_ROUND_ENTRIES", "VOCAB_BYTES_PER_WORD"]

# One record of a partial count on the wire (cooccur.h: PackedCooccurrence).
PACKED_ENTRY = np.dtype([("row", "<i4"), ("col", "<i4"), ("value", "<i8")])
# A round's peak, bytes an entry: two 16-byte copies of its entries at once
# (cut and packed; packed and received; received and unpacked; unpacked and
# merged).
ROUND_BYTES_PER_ENTRY = 32
# Fewer entries a round only adds collectives (2 MB at this floor).
MIN_ROUND_ENTRIES = 1 << 16
# Arrays of one number a row (starts, counts, and their temporaries) the
# rounds' plan sets aside.
VOCAB_BYTES_PER_WORD = 32
# The partition: a Cooccurrence's columns (int32 row, int32 col, float32 value).
_PARTITION_BYTES_PER_ENTRY = sum(dtype.itemsize for _, dtype in cooc_file.COLUMNS)


class Partial(NamedTuple):
    """A rank's partial count: parts (rows, cols, fixed-point values), each
    sorted by (row, col), the parts' rows in order (the count's threads'
    row ranges); `memory_bytes`: what of it is held in RAM (0 when mapped
    from files)."""
    parts: List[Tuple[np.ndarray, np.ndarray, np.ndarray]]
    memory_bytes: int


def partial_from_count(rows: np.ndarray, cols: np.ndarray, fixed: np.ndarray,
                       file_counts: Sequence[int], result_dir: str) -> Partial:
    """The partial of a native count with fixed_point_output: its arrays, or
    (when `file_counts` lists the threads' entries) read-only maps of its
    result files in `result_dir` (cooccur.h: CooccurParams::result_dir)."""
    if not file_counts:
        return Partial([(rows, cols, fixed)], rows.nbytes + cols.nbytes + fixed.nbytes)

    def mapped(thread: int, name: str, dtype: np.dtype, count: int) -> np.ndarray:
        return np.memmap(cooc_file.result_path(result_dir, thread, name), dtype=dtype,
                         mode="r", shape=(count,))

    parts = [(mapped(thread, "rows", np.dtype(np.int32), count),
              mapped(thread, "cols", np.dtype(np.int32), count),
              mapped(thread, "values", np.dtype(np.int64), count))
             for thread, count in enumerate(map(int, file_counts)) if count > 0]
    return Partial(parts, 0)


class _Partition:
    """Where the merged partition goes, round after round: arrays sized for
    `bound` entries (the pages past what is written are never touched), or
    result files in `result_dir` (the native count's names: one thread's
    result-0.rows, .cols, .values)."""

    def __init__(self, bound: int, result_dir: Optional[str]) -> None:
        self.n = 0
        self._files = contextlib.ExitStack()
        self.files: Optional[List[IO[bytes]]] = None
        self.arrays: List[np.ndarray] = []
        if result_dir is None:
            self.arrays = [np.empty(bound, dtype) for _, dtype in cooc_file.COLUMNS]
        else:
            with self._files:  # closed again unless all three open
                self.files = [self._files.enter_context(
                    open(cooc_file.result_path(result_dir, 0, name), "wb"))
                    for name, _ in cooc_file.COLUMNS]
                self._files = self._files.pop_all()

    def append(self, columns: Tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        n = len(columns[0])
        if self.files is None:
            for array, column in zip(self.arrays, columns):
                array[self.n:self.n + n] = column
        else:
            for file, column in zip(self.files, columns):
                file.write(np.ascontiguousarray(column).data)
        self.n += n

    def close(self) -> None:
        self._files.close()

    def result(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.files is not None:  # the caller reads the files
            return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32)
        rows, cols, values = self.arrays
        return rows[:self.n], cols[:self.n], values[:self.n]


def _row_starts(parts: Sequence[Tuple[np.ndarray, ...]], vocab_size: int) -> np.ndarray:
    """Where each row's entries start among the parts' entries end to end
    (V + 1 int64): the parts hold consecutive ranges of rows, so a row's
    start is the sum of each part's entries of the rows before it."""
    starts = np.zeros(vocab_size + 1, dtype=np.int64)
    for rows, _, _ in parts:
        starts += sorted_row_starts(rows, vocab_size)
    return starts


def _cut(parts: Sequence[Tuple[np.ndarray, ...]], part_starts: Sequence[int], lo: int, hi: int
         ) -> Tuple[np.ndarray, ...]:
    """Entries [lo, hi) of the parts end to end: views when one part holds
    them, else a copy."""
    pieces = []
    for part, start in zip(parts, part_starts):
        a, b = max(lo, start), min(hi, start + len(part[0]))
        if a < b:
            pieces.append(tuple(column[a - start:b - start] for column in part))
    if len(pieces) == 1:
        return pieces[0]
    if not pieces:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int64)
    return tuple(np.concatenate([p[i] for p in pieces]) for i in range(3))


def _packed(parts: Sequence[Tuple[np.ndarray, ...]], part_starts: Sequence[int], lo: int, hi: int,
            world_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Entries [lo, hi) of the partial packed by owner rank: (records, their
    number for each rank)."""
    rows, cols, fixed = _cut(parts, part_starts, lo, hi)
    packed, sizes = _native.core.pack_cooccurrences_by_owner(rows, cols, fixed, world_size)
    return packed, sizes


def _unpack(data: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    entries = np.ascontiguousarray(data).view(PACKED_ENTRY)
    return (np.ascontiguousarray(entries["row"]), np.ascontiguousarray(entries["col"]),
            np.ascontiguousarray(entries["value"]))


def _merged(received: List[np.ndarray], workers: int, fraction_bits: int
            ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The records every rank sent this one, summed exactly and rounded to
    float32: (rows, cols, values). `received` (views of one buffer) is
    emptied once unpacked, so that the buffer goes before the merge."""
    pieces = [_unpack(data) for data in received]
    received.clear()
    rows, cols, fixed = _native.core.merge_cooccurrence_partials(pieces, workers=workers)
    del pieces
    return rows, cols, _native.core.cooccurrence_fixed_to_float(fixed, fraction_bits)


def plan_rounds(partial_bytes: int, bound: int, vocab_size: int, memory_bytes: int
                ) -> Tuple[bool, int]:
    """(whether the partition goes to files, entries a round may take) for
    a rank holding `partial_bytes` of its partial in RAM, whose partition
    has at most `bound` entries, within `memory_bytes`: beside the partial
    and the rows' starts and counts (``VOCAB_BYTES_PER_WORD`` a word), the
    partition stays in memory when it takes at most half of what is left,
    and the rounds get the rest."""
    left = max(0, memory_bytes - partial_bytes - VOCAB_BYTES_PER_WORD * vocab_size)
    partition_bytes = bound * _PARTITION_BYTES_PER_ENTRY
    to_files = partition_bytes > left // 2
    rounds_bytes = left - (0 if to_files else partition_bytes)
    return to_files, max(MIN_ROUND_ENTRIES, rounds_bytes // ROUND_BYTES_PER_ENTRY)


def merge_partition(partial: Partial, group: Group, *, vocab_size: int, fraction_bits: int,
                    memory_bytes: int, workers: int, result_dir: str
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
    """This rank's partition (rows r % world_size == rank, sorted by (row,
    col), float32 values) of the sum of every rank's `partial`, merged in
    rounds within `memory_bytes` (see the module's doc). Returns (rows, cols,
    values, stats): in memory, or empty arrays and the entries written to
    result_dir's result-0.rows, .cols and .values in stats["result_file_counts"]
    (one thread's). Consumes `partial` (its arrays go as it ends). A rank
    whose own work fails (a full disk, an overflowing sum) says so before
    the next round, where every rank stops and raises with its reason."""
    parts = partial.parts
    failure: Optional[Exception] = None
    try:
        starts = _row_starts(parts, vocab_size)
    except Exception as error:  # the others are not left waiting: this rank sends nothing
        failure, starts = error, np.zeros(vocab_size + 1, dtype=np.int64)
        parts.clear()
    part_starts = np.cumsum([0] + [len(part[0]) for part in parts[:-1]]).tolist()
    # every row's entries over the ranks' partials: what its owner receives
    counts = all_reduce(np.diff(starts), group)
    bound = int(counts[group.rank::group.world_size].sum())
    to_files, entries = plan_rounds(partial.memory_bytes, bound, vocab_size, memory_bytes)
    entries = int(all_reduce(np.array([entries], dtype=np.int64), group, "min")[0])
    ranges = row_ranges(counts, entries)
    del counts
    out: Optional[_Partition] = None
    if failure is None:
        try:
            out = _Partition(bound, result_dir if to_files else None)
        except Exception as error:
            failure = error
    nothing = np.zeros(0, np.uint8), np.zeros(group.world_size, np.int64)
    try:
        for a, b in ranges:
            # once a rank has failed, every rank stops at the same round
            if all_reduce(np.array([failure is not None], dtype=np.int64), group, "max")[0]:
                break
            packed, sizes = nothing
            if failure is None:
                try:
                    packed, sizes = _packed(parts, part_starts, int(starts[a]), int(starts[b]),
                                            group.world_size)
                except Exception as error:
                    failure = error
            received = exchange_packed(packed, (sizes * PACKED_ENTRY.itemsize).tolist(), group)
            del packed
            if failure is None and out is not None:
                try:
                    out.append(_merged(received, workers, fraction_bits))
                except Exception as error:
                    failure = error
            del received
    finally:
        if out is not None:
            out.close()
        parts.clear()  # the partial's arrays and maps go now, whatever happened
    raise_together(group, "merging its partition", failure)
    out = cast(_Partition, out)  # made, or the failure was raised
    stats: Dict[str, Any] = dict(nnz=out.n, exchange_rounds=len(ranges), round_entries=entries,
                                 result_file_counts=[out.n] if to_files else [])
    return (*out.result(), stats)
