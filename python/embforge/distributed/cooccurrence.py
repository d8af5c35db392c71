"""The co-occurrence matrix of a corpus spread over ranks: each rank owns a partition of the rows.

Each rank counts its share of the corpus (its own memory budget, spilling as
one process does) in 64-bit fixed point with one number of fraction bits
that every rank agrees on (chosen from the whole corpus's size, so no sum can
overflow), cuts its partial matrix by the owner of each row (row % world
size: frequent and rare rows are dealt evenly), sends each piece to its
owner (all-to-alls: every entry travels once), and the owner merges the
pieces it received, summing equal (row, col) keys, then rounds to float32
as the single-process count does; a range of rows at a time, within the
rank's budget (partition_merge.py). Integer sums do not depend on their
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
from typing import IO, TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .._typing import StrPath
from .. import _native
from ..io.atomic import atomic_write
from .collectives import PeerError, all_reduce, barrier, check_rank
from .consistency import raise_together, run_together
from .exchange import exchange_packed
from .group import Group
from .partition_merge import merge_partition, partial_from_count
from .row_ranges import range_positions, row_ranges, sorted_row_starts

if TYPE_CHECKING:
    from ..corpus import EncodedCorpus

__all__ = ["count_partition", "gather_partitions", "gathered_chunks", "owned_rows",
           "whole_row_counts", "writer_file"]

# entries a piece of gathered_chunks: its arrays (the received columns,
# their placed copies, the positions: 28 bytes an entry for GloVe's records)
# stay small next to the matrix
_GATHER_PIECE = 1 << 20


def owned_rows(vocab_size: int, rank: int, world_size: int) -> np.ndarray:
    """The row ids rank `rank` owns."""
    return np.arange(rank, vocab_size, world_size, dtype=np.int64)


def count_partition(encoded: "EncodedCorpus", group: Group, *, window: int, symmetric: bool,
                    distance_weighting: bool, workers: int, memory_bytes: int, spill_dir: str,
                    max_product: int, progress: Any
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
    """This rank's partition of the matrix of the whole corpus: (rows, cols,
    values float32, stats), sorted by (row, col), rows ``owned_rows``. The
    count and the merge keep to `memory_bytes` (partition_merge): a
    partition that might not fit is left in `spill_dir`'s ``result``
    folder (result-0.rows, .cols, .values), the arrays then empty and its
    entries in stats["result_file_counts"], as the single-process count
    leaves its result files. `spill_dir`: an empty folder the caller
    removes."""
    total_ids = int(all_reduce(np.array([len(encoded.ids)], dtype=np.int64), group)[0])
    bits = _native.core.cooccurrence_fraction_bits(total_ids, window, symmetric, distance_weighting)
    partial_dir = os.path.join(spill_dir, "partial")
    result_dir = os.path.join(spill_dir, "result")
    os.mkdir(partial_dir)
    os.mkdir(result_dir)
    # the partial goes to files (mapped back) when it does not fit the budget
    params = _native.core.CooccurParams(
        window=window, symmetric=symmetric, distance_weighting=distance_weighting,
        workers=workers, memory_bytes=memory_bytes, temp_dir=spill_dir, max_product=max_product,
        fraction_bits=bits, fixed_point_output=True, result_dir=partial_dir)
    # a failure (a full disk for the spilled runs or the partial's files)
    # raises on every rank, none left waiting in the exchange
    rows, cols, fixed, stats = run_together(group, "counting its share", partial(
        _native.core.count_cooccurrences, encoded.ids, encoded.offsets, len(encoded.vocab),
        params, progress=progress))
    # Every rank takes part in the exchange even when stopped: the caller
    # learns of the stop from the flag all ranks agree on afterwards.
    stopped = int(all_reduce(np.array([1 if stats["stopped"] else 0], dtype=np.int64), group,
                             "max")[0])
    stats["stopped"] = bool(stopped)
    if stopped:
        empty = np.zeros(0, np.int32)
        stats["result_file_counts"] = []
        return empty, empty, np.zeros(0, np.float32), stats
    counted = run_together(group, "mapping its partial count", partial(
        partial_from_count, rows, cols, fixed, stats["result_file_counts"], partial_dir))
    del rows, cols, fixed
    stats["partial_on_disk"] = bool(stats["result_file_counts"])
    rows, cols, values, merged = merge_partition(
        counted, group, vocab_size=len(encoded.vocab), fraction_bits=bits,
        memory_bytes=memory_bytes, workers=workers, result_dir=result_dir)
    stats.update(merged, fraction_bits=bits, partition=(group.rank, group.world_size))
    return rows, cols, values, stats


def whole_row_counts(rows: np.ndarray, vocab_size: int, group: Group) -> np.ndarray:
    """Every row's nonzeros in the whole matrix, from each rank's partition
    (`rows`: its entries' rows, sorted, as a Cooccurrence holds them; the
    ranks' rows are disjoint): int64."""
    counts: np.ndarray = all_reduce(np.diff(sorted_row_starts(rows, vocab_size)), group)
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
    own_start = sorted_row_starts(rows, vocab_size)
    if counts is None:  # the rows are disjoint: summed, every row's count
        counts = all_reduce(np.diff(own_start), group)
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
    raise_together(group, f"writing {os.fspath(path)}", failure)


def _take_all(pieces: Sequence[Iterator[Any]]) -> None:
    for chunks in pieces:
        for _ in chunks:
            pass
