"""The co-occurrence matrix of a corpus spread over ranks: each rank owns a partition of the rows.

Each rank counts its share of the corpus (its own memory budget, spilling as
one process does) in 64-bit fixed point with one number of fraction bits
that every rank agrees on (chosen from the whole corpus's size, so no sum can
overflow), cuts its partial matrix by the owner of each row (row % world
size: frequent and rare rows are dealt evenly), sends each piece to its
owner (an all-to-all: every entry travels once), and the owner merges the
pieces it received, summing equal (row, col) keys, then rounds to float32
as the single-process count does. Integer sums do not depend on their
order, so the union of the partitions equals the single-process matrix bit
for bit.
"""
from __future__ import annotations

import shutil
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np

from .._typing import StrPath
from .. import _native
from .collectives import all_reduce
from .exchange import exchange_packed
from .group import Group

if TYPE_CHECKING:
    from ..corpus import EncodedCorpus

__all__ = ["count_partition", "gather_partitions", "interleave_partitions", "owned_rows"]

_ENTRY = np.dtype([("row", "<i4"), ("col", "<i4"), ("value", "<i8")])
_INTERLEAVE_PIECE = 1 << 20  # entries placed at once by interleave_partitions


def owned_rows(vocab_size: int, rank: int, world_size: int) -> np.ndarray:
    """The row ids rank `rank` owns."""
    return np.arange(rank, vocab_size, world_size, dtype=np.int64)


def _pack_by_owner(rows: Any, cols: Any, values: Any, world_size: int
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """The entries as one packed byte buffer of _ENTRY records, grouped by
    owner rank (row % world_size; sorted (row, col) order kept within each
    group), and the byte size of each group (native: two passes; numpy's
    stable sort by owner and gathers took 2.4 s of a 19 s run)."""
    packed, counts = _native.core.pack_cooccurrences_by_owner(rows, cols, values, world_size)
    return packed, counts * _ENTRY.itemsize


def _unpack(data: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    entries = np.ascontiguousarray(data).view(_ENTRY)
    return (np.ascontiguousarray(entries["row"]), np.ascontiguousarray(entries["col"]),
            np.ascontiguousarray(entries["value"]))


def count_partition(encoded: "EncodedCorpus", group: Group, *, window: int, symmetric: bool,
                    distance_weighting: bool, workers: int, memory_bytes: int,
                    temp_dir: Optional[StrPath], max_product: int, progress: Any
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
    """This rank's partition of the matrix of the whole corpus: (rows, cols,
    values float32, stats), sorted by (row, col), rows ``owned_rows``."""
    total_ids = int(all_reduce(np.array([len(encoded.ids)], dtype=np.int64), group)[0])
    bits = _native.core.cooccurrence_fraction_bits(total_ids, window, symmetric, distance_weighting)
    spill_dir = tempfile.mkdtemp(prefix="embforge-cooccur-", dir=temp_dir)
    try:
        params = _native.core.CooccurParams(
            window=window, symmetric=symmetric, distance_weighting=distance_weighting,
            workers=workers, memory_bytes=memory_bytes, temp_dir=spill_dir,
            max_product=max_product, fraction_bits=bits, fixed_point_output=True)
        rows, cols, fixed, stats = _native.core.count_cooccurrences(
            encoded.ids, encoded.offsets, len(encoded.vocab), params, progress=progress)
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
    # Every rank takes part in the exchange even when stopped: the caller
    # learns of the stop from the flag all ranks agree on afterwards.
    stopped = int(all_reduce(np.array([1 if stats["stopped"] else 0], dtype=np.int64), group,
                             "max")[0])
    stats["stopped"] = bool(stopped)
    if stopped:
        empty = np.zeros(0, np.int32)
        return empty, empty, np.zeros(0, np.float32), stats
    # Each step lets the last one's arrays go before the next allocates (16
    # bytes an entry each): the count, packed by owner, sent as it is,
    # received, unpacked, merged. Held at once: two of them at most.
    packed, sizes = _pack_by_owner(rows, cols, fixed, group.world_size)
    del rows, cols, fixed
    received = exchange_packed(packed, sizes.tolist(), group)
    del packed
    pieces = [_unpack(data) for data in received]
    del received
    rows, cols, fixed = _native.core.merge_cooccurrence_partials(pieces, workers=workers)
    del pieces
    values = _native.core.cooccurrence_fixed_to_float(fixed, bits)
    stats.update(nnz=len(values), fraction_bits=bits, partition=(group.rank, group.world_size))
    return rows, cols, values, stats


def interleave_partitions(parts: Any, vocab_size: int) -> np.ndarray:
    """One matrix sorted by (row, col) from partitions with disjoint rows,
    each sorted by (row, col) (structured arrays with a "row" field): every
    entry is placed by its row's start in the whole matrix and its index
    within its row, in linear time (no sort of the whole)."""
    if not parts:
        raise ValueError("no partition to interleave")
    per_part = [np.bincount(p["row"], minlength=vocab_size) for p in parts]
    row_start = np.zeros(vocab_size + 1, dtype=np.int64)
    np.cumsum(np.sum(per_part, axis=0), out=row_start[1:])
    whole = np.empty(int(row_start[-1]), dtype=parts[0].dtype)
    for part, counts in zip(parts, per_part):
        if len(part) == 0:
            continue
        first_in_part = np.zeros(vocab_size, dtype=np.int64)
        np.cumsum(counts[:-1], out=first_in_part[1:])
        # a piece at a time: the positions take 8 bytes an entry (and their
        # temporaries as much again), more than the 12-byte entries themselves
        for begin in range(0, len(part), _INTERLEAVE_PIECE):
            piece = part[begin:begin + _INTERLEAVE_PIECE]
            rows = piece["row"]
            at = np.arange(begin, begin + len(piece), dtype=np.int64)
            at -= first_in_part[rows]
            at += row_start[rows]
            whole[at] = piece
    return whole


def gather_partitions(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, group: Group,
                      vocab_size: int, dst: int = 0
                      ) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The whole matrix on rank `dst` (rows, cols, values sorted by (row,
    col)), None on the others. Every partition goes to `dst` once."""
    entries = np.empty(len(rows), dtype=[("row", "<i4"), ("col", "<i4"), ("value", "<f4")])
    entries["row"], entries["col"], entries["value"] = rows, cols, values
    sizes = [0] * group.world_size
    sizes[dst] = entries.nbytes
    received = exchange_packed(entries, sizes, group)  # sent as it is, not copied again
    record = entries.dtype
    del entries
    if group.rank != dst:
        return None
    whole = interleave_partitions([np.ascontiguousarray(r).view(record) for r in received],
                                  vocab_size)
    del received  # the whole matrix is held twice at most: `whole`, then its columns
    return (np.ascontiguousarray(whole["row"]), np.ascontiguousarray(whole["col"]),
            np.ascontiguousarray(whole["value"]))
