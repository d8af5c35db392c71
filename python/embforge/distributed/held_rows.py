"""Rows each changed by one rank, gathered to every rank.

Some arrays of a model have rows that one rank alone changes between two
syncs, and the job knows which: GloVe's main rows (rank r trains the rows
i with i % W == r, W ranks), and with strata its context rows too (rank r
holds the rows c with c % W == s for the stratum s it trains). Combining
such an array needs no copy to measure changes from: each row's value is
its holder's, exactly, with no rounding of w0 + (w1 - w0). Each rank sends
its own rows (an all-gather), a share 1 / W of the array, against the
changes of every row (an all-reduce, twice the traffic of an all-gather in
a ring), and keeps no copy of the model the changes would be measured from:
for GloVe four arrays of V x (d + 1) floats a rank.

The rows go a piece at a time (``_PIECE_BYTES`` a rank), so that what a
gather allocates stays small next to the array, whatever its size.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .collectives import all_gather, all_gather_ints
from .group import Group
from .tensors import nbytes

__all__ = ["gather_held_rows", "check_offsets", "check_held", "held_row_pieces"]

_PIECE_BYTES = 8 << 20  # rows a rank sends at a time, at most (a row more when larger)


def held_row_pieces(array: Any, world_size: int, piece_bytes: int) -> range:
    """Where each piece starts among a rank's rows q :: W of `array` (rows
    along axis 0), at most `piece_bytes` a piece (a row when larger): the
    same pieces on every rank, cut from the rows of offset 0, the most any
    rank holds, so that every rank takes part in as many collectives."""
    most = -(-int(array.shape[0]) // world_size)
    return range(0, most, max(1, int(piece_bytes) // max(1, nbytes(array[:1]))))


def check_offsets(offsets: Sequence[int], world_size: int) -> None:
    """Raises ValueError unless `offsets` (every rank's, in rank order) give
    each rank its own rows: one offset a rank, every one of 0 ... W - 1
    once, so that every row has one holder."""
    if sorted(int(q) for q in offsets) != list(range(world_size)):
        raise ValueError(f"the ranks' held rows must be distinct offsets 0 ... {world_size - 1}, "
                         f"one a rank; got {list(offsets)} (rank order)")


def check_held(held: Sequence[Optional[int]], group: Group) -> None:
    """Raises ValueError on every rank unless every rank holds the same
    arrays (`held`: per array, this rank's offset or None), each with
    offsets that give every row one holder. One all-gather, on every rank."""
    offsets = all_gather_ints([-1 if q is None else int(q) for q in held], group)
    for index, column in enumerate(offsets.T.tolist()):
        if (min(column) < 0) != (max(column) < 0):
            raise ValueError(f"array {index} is held on some ranks only: offsets {column} "
                             "(rank order; -1: not held)")
        if column[0] >= 0:
            check_offsets(column, group.world_size)


def gather_held_rows(array: Any, offsets: Sequence[int], group: Group,
                     piece_bytes: int = _PIECE_BYTES) -> int:
    """Writes into `array` (numpy, or a torch tensor; rows along axis 0) on
    every rank each rank r's rows ``offsets[r] :: W``, taken from that rank;
    returns the bytes this rank sent. `offsets`: every rank's offset, the
    same list on every rank (check_offsets)."""
    import torch

    world = group.world_size
    check_offsets(offsets, world)
    mine = int(offsets[group.rank])
    pieces = held_row_pieces(array, world, piece_bytes)
    as_numpy = isinstance(array, np.ndarray)
    shape = tuple(array.shape[1:])
    dtype = torch.from_numpy(array[:0]).dtype if as_numpy else array.dtype
    sent = 0
    for first in pieces:
        count = min(pieces.step, pieces.stop - first)
        # the last piece of a rank holding fewer rows is padded with zeros
        out = torch.zeros((count,) + shape, dtype=dtype, device=group.device)
        own = array[mine + first * world::world][:count]
        out[:len(own)] = torch.from_numpy(np.ascontiguousarray(own)) if as_numpy else own
        parts = all_gather(out, group, f"all_gather of {count} held rows of "
                                       f"{tuple(array.shape)} {dtype}")
        sent += nbytes(out)
        for rank, offset in enumerate(offsets):
            if rank == group.rank:
                continue
            target = array[int(offset) + first * world::world][:count]
            held = parts[rank][:len(target)]
            if as_numpy:
                target[...] = held.cpu().numpy()
            else:
                target.copy_(held)
    return sent
