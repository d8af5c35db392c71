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

One rank writes the whole matrix to a file (or gathers it in memory) a
range of rows at a time (``gathered_chunks``): the other ranks send their
entries of the range, and the writer places them by each row's count,
summed over the ranks once; the matrix is never held whole to be written.
"""
from __future__ import annotations

import contextlib
import os
from functools import partial
import shutil
import tempfile
from typing import IO, TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .._typing import StrPath
from .. import _native
from ..io.atomic import atomic_write
from .collectives import PeerError, all_reduce, barrier, check_rank
from .consistency import run_together
from .exchange import exchange_packed
from .group import Group

if TYPE_CHECKING:
    from ..corpus import EncodedCorpus

__all__ = ["count_partition", "gather_partitions", "gathered_chunks", "row_ranges",
           "range_positions", "owned_rows", "whole_row_counts", "writer_file"]

_ENTRY = np.dtype([("row", "<i4"), ("col", "<i4"), ("value", "<i8")])
# entries a piece of gathered_chunks: its arrays (the received columns,
# their placed copies, the positions: 28 bytes an entry for GloVe's records)
# stay small next to the matrix
_GATHER_PIECE = 1 << 20


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


def whole_row_counts(rows: np.ndarray, vocab_size: int, group: Group) -> np.ndarray:
    """Every row's nonzeros in the whole matrix, from each rank's partition
    (`rows`: its entries' rows; the ranks' rows are disjoint): int64."""
    counts: np.ndarray = all_reduce(np.bincount(rows, minlength=vocab_size).astype(np.int64),
                                    group)
    return counts


def gathered_chunks(rows: np.ndarray, columns: Sequence[np.ndarray], group: Group,
                    vocab_size: int, dst: int = 0, counts: Optional[np.ndarray] = None
                    ) -> Iterator[Optional[Tuple[np.ndarray, ...]]]:
    """The whole matrix on rank `dst`, a piece at a time, never held whole:
    (rows, *columns) of consecutive row ranges in (row, col) order, at most
    ``_GATHER_PIECE`` nonzeros each (or one row), yielded on `dst`; None on the other
    ranks, which send their part of each piece. `rows`, `columns`: this
    rank's partition (rows r % world_size == rank, sorted by (row, col)).
    Every rank must take every piece (each is an exchange) in step. Only the
    columns travel: every row's count, summed over the ranks once
    (`counts`, whole_row_counts, when the caller has them), tells `dst`
    which rows a piece holds and where each rank's entries go."""
    check_rank("dst", dst, group)
    mine = np.bincount(rows, minlength=vocab_size).astype(np.int64)
    if counts is None:  # the rows are disjoint: summed, every row's count
        counts = all_reduce(mine.copy(), group)
    own_start = np.zeros(vocab_size + 1, dtype=np.int64)
    np.cumsum(mine, out=own_start[1:])
    record = np.dtype([(f"c{index}", column.dtype) for index, column in enumerate(columns)])
    for a, b in row_ranges(counts, _GATHER_PIECE):
        lo, hi = int(own_start[a]), int(own_start[b])
        sizes = [0] * group.world_size
        received: List[np.ndarray] = []
        if columns:  # the rows themselves need not travel
            packed = np.empty(hi - lo, dtype=record)
            for index, column in enumerate(columns):
                packed[f"c{index}"] = column[lo:hi]
            sizes[dst] = packed.nbytes
            received = exchange_packed(packed, sizes, group)
            del packed
        else:
            # nothing to send, but the ranks keep in step with the writer a
            # piece at a time: none waits in one collective for the time it
            # takes to write the whole column (the group's timeout)
            barrier(group)
        if group.rank != dst:
            yield None
            continue
        total = int(counts[a:b].sum())
        piece_rows = np.repeat(np.arange(a, b, dtype=rows.dtype), counts[a:b])
        out = [np.empty(total, dtype=column.dtype) for column in columns]
        for rank, data in enumerate(received):
            part = data.view(record)
            at = range_positions(counts, a, b, rank, group.world_size)
            for index, column in enumerate(out):
                column[at] = part[f"c{index}"]
        del received
        yield (piece_rows, *out)


def gather_partitions(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, group: Group,
                      vocab_size: int, dst: int = 0
                      ) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The whole matrix on rank `dst` (rows, cols, values sorted by (row,
    col)), None on the others: `gathered_chunks` placed in arrays of the
    whole matrix's size, which `dst` holds once, besides its partition."""
    counts = whole_row_counts(rows, vocab_size, group)
    total = int(counts.sum())
    whole = None
    if group.rank == dst:
        whole = (np.empty(total, rows.dtype), np.empty(total, cols.dtype),
                 np.empty(total, values.dtype))
    at = 0
    for piece in gathered_chunks(rows, (cols, values), group, vocab_size, dst, counts):
        if piece is not None and whole is not None:
            for column, part in zip(whole, piece):
                column[at:at + len(part)] = part
            at += len(piece[0])
    return whole


@contextlib.contextmanager
def writer_file(path: StrPath, group: Group, dst: int, pieces: Sequence[Iterator[Any]]
                ) -> Iterator[Optional[IO[bytes]]]:
    """`path` opened to be written atomically on rank `dst` (None on the
    other ranks), which writes the `pieces` (gathered_chunks) it takes.
    On leaving, every rank takes what is left of them: the other ranks
    send their part of every piece there, and the writer after a failure
    of its own writing, so that no rank is left waiting in an exchange. A
    failure to open the file, or to write, flush or rename it (which
    leaves no file), then raises on every rank. The other ranks wait for
    the file's fsync in one collective: the group's timeout must cover it.
    (A failure within the pieces themselves, an exchange's, ends in a
    PeerError on the ranks left waiting, as any collective's.)"""
    check_rank("dst", dst, group)
    failure: Optional[Exception] = None
    try:
        with contextlib.ExitStack() as stack:
            out = run_together(group, f"opening {os.fspath(path)} to write the matrix",
                               lambda: stack.enter_context(atomic_write(path, "wb"))
                               if group.rank == dst else None)
            try:
                yield out
            except PeerError:
                raise  # the group is broken: no more exchanges
            except Exception:
                _take_all(pieces)
                raise
            _take_all(pieces)
    except PeerError:
        raise
    except Exception as error:
        failure = error
    run_together(group, f"writing {os.fspath(path)}", partial(_raise, failure))


def _take_all(pieces: Sequence[Iterator[Any]]) -> None:
    for chunks in pieces:
        for _ in chunks:
            pass


def _raise(failure: Optional[Exception]) -> None:
    if failure is not None:
        raise failure
