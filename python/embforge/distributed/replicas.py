"""Keeping the ranks' copies of a model close: what happens between slices of an epoch.

Each rank trains its own replica of the model (Hogwild threads inside, as in
one process) on its share of the corpus, in slices; after every slice the
replicas are combined so that every rank holds the same model again:

* ``combine="sum"`` (the default): every rank's change since the last sync
  is added to the model they all held then, ``w = w0 + sum_r (w_r - w0)``:
  what one process with all the ranks' threads would have applied, each
  update computed from a model at most one slice old. GloVe's AdaGrad sums
  need exactly this (squared gradients add up), and so do its context rows,
  which every rank updates. Except the first ``average_first`` rows
  (Word2Vec's most frequent words), whose changes are averaged,
  ``w = w0 + mean_r (w_r - w0)``: each rank updates such a row hundreds of
  times between syncs, so its copy settles where that rank's gradients
  balance, and the ranks' moves are estimates of one move, not steps to
  add (summed, they overshoot: see bench/RESULTS.md). With
  ``average_momentum`` m > 0 those rows move by a velocity that keeps m of
  its last value, ``v = m v + mean_r (w_r - w0)``, ``w = w0 + v``: a move
  the ranks keep agreeing on builds up to 1 / (1 - m) times the mean, one
  that reverses is damped. After every whole sync (each epoch's last among
  them) the velocities start afresh, so a checkpoint written after it
  holds all the training state.
* ``combine="average"``: ``w = mean_r w_r`` (model averaging, as in Ji et al.):
  each rank's step counts 1/N, so the effective learning rate on rows that
  every rank trains drops by N between syncs.
* ``combine="changed"``: each row's changes averaged over the ranks that
  changed it, ``w = w0 + sum_r (w_r - w0) / n`` (n: ranks whose row
  changed): a row one rank trained keeps all of that rank's progress (as
  with "sum"), a row every rank trained moves by the mean of their steps
  (as with "average"), not by the sum of N steps each computed from the
  same stale row.

A sync sends only the rows that some rank changed since the last sync when
they are at most ``sparse_below`` of the rows (one byte a row finds them: a
max all-reduce of each rank's changed-row flags, computed by comparing with
the copy kept at the last sync); rows nobody changed are equal everywhere
already. With a large vocabulary most rare words' rows sit still between
syncs, so most of the model stays off the wire.

A sync of a few hot rows (Word2Vec's frequent ones, synced often) is bound by
latency, not bytes: each all-reduce costs 0.2-1.8 ms on two processes of one
machine whatever its size below ~400 KB, and such a sync took three (flags,
then each array). When the last sync of the same rows found most of them
changed (as every rank saw: the union is all-reduced), the next ones skip the
flags and send every array's change and the stop flag in one buffer, one
all-reduce; every ``_PROBE_EVERY``-th sync of those rows looks at the flags
again, in case the rows went quiet.

A sync may combine some of the arrays only (``only=``), leaving the others'
changes for the next sync that includes them: GloVe's main rows are each
trained by one rank and read by no other, so only its context rows need
combining within an epoch.

Arrays whose rows each have one holder (``held=`` in start(): rank r alone
changes the rows ``q_r :: W`` until they are combined; GloVe's main rows,
and with strata its context rows) are combined by gathering each row from
its holder (held_rows.py): exact, half an all-reduce's traffic, and no copy
of the array kept to measure changes from. ``rotate`` hands such rows on
to another rank, which then holds them.

``sync_dtype="float16"`` sends each rank's changes (never the values
themselves, whatever the combine: a weight near 1 in float16 would drop
any step under 5e-4) as float16: half the bytes of every sync. gloo and
NCCL sum float16 in float16, so a sum carries about one rounding a rank
(5e-4 of the largest change on 2 ranks, 1e-3 on 8, measured with gloo;
bfloat16 was 8-10 times coarser), which Word2Vec's quality did not see
(bench/RESULTS.md). The changes are clipped to +-60,000 / N first, so that
N of them sum to a finite float16: a change that large means training
diverged anyway, and Word2Vec's divergence check still sees the weights
grow.

``Alone`` is the same interface for a process training by itself (no group):
one slice per epoch, nothing to combine, so single-process training is the
code it always was. Only scalars and the model cross the wire; the corpus
never does.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

from .._checks import check_number
from . import collectives
from .group import Group
from .held_rows import check_held, gather_held_rows, held_row_pieces
from .tensors import concat, copy_into, empty_like, like, nbytes, to_half

__all__ = ["Alone", "Replicas", "replicas_for", "rank_seed", "COMBINES", "SYNC_DTYPES"]

COMBINES = ("sum", "average", "changed")
SYNC_DTYPES = ("float32", "float16")
_HALF_SUM_LIMIT = 60000.0  # under float16's largest finite value, 65504, with room for rounding
# A sync sends only the rows some rank changed since the last one when they
# are at most this fraction of the rows; above it the gathering and
# scattering of rows costs more than sending them all.
SPARSE_BELOW = 0.5
_COMPARE_BYTES = 16 << 20  # rows compared at a time when looking for changed rows
# Syncs of at most this many bytes of rows may go in one buffer (a copy of
# the rows' changes); larger ones are bound by bytes, not round trips, and
# are combined in place, array by array.
_AT_ONCE_BYTES = 16 << 20
# rows passed along the ring at a time (rotate): each pass allocates this
# much twice, whatever the array
_PASS_PIECE_BYTES = 8 << 20
_PROBE_EVERY = 16  # a sync sent at once looks at the changed rows again after this many
_SEED_STRIDE = 0x9E3779B97F4A7C15  # odd: distinct ranks get distinct seeds mod 2**64


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a rank's random draws (subsampling, windows, negatives,
    chunk order): the model's seed on rank 0 (so one rank trains exactly as
    one process), a different one on every other rank."""
    return (int(seed) + int(rank) * _SEED_STRIDE) % (1 << 64)


class Alone:
    """No other ranks: one slice per epoch, combining is a no-op."""

    rank = 0
    world_size = 1
    is_leader = True

    def slices(self, items: int, sync_interval: int, can_slice: bool = True) -> int:
        return 1

    def start(self, arrays: Sequence[Any], average_first: Optional[int] = None,
              average_momentum: Optional[float] = None,
              held: Optional[Sequence[Optional[int]]] = None) -> None:
        pass

    def job_fractions(self, fractions: Sequence[float], items: int) -> List[float]:
        return list(fractions)

    def sync(self, arrays: Sequence[Any], stop: bool, rows: Optional[int] = None,
             only: Optional[Sequence[int]] = None) -> bool:
        return bool(stop)

    def total(self, value: float) -> float:
        return float(value)

    def everyone(self, flag: bool) -> bool:
        return bool(flag)

    def rotate(self, indices: Sequence[int], sent: slice, received: slice) -> None:
        raise RuntimeError("one process has no other rank to pass rows to")

    def check_same(self, what: str, value: Any) -> None:
        pass


class Replicas:
    """The model replicas of one Group (see the module doc)."""

    def __init__(self, group: Group, combine: str = "sum",
                 sparse_below: float = SPARSE_BELOW, average_first: int = 0,
                 sync_dtype: str = "float32", average_momentum: float = 0.0) -> None:
        check_combine(combine, sync_dtype)
        if not 0.0 <= sparse_below <= 1.0:
            raise ValueError(f"sparse_below must be in [0, 1], got {sparse_below!r}")
        self.group = group
        self.combine = combine
        # rows whose summed changes are divided by the world size (combine="sum")
        self.average_first = self._averaged(average_first)
        self.average_momentum = _momentum(average_momentum)
        # per array index: the averaged rows' velocities (average_momentum > 0)
        self._velocities: Dict[int, Any] = {}
        self.sparse_below = float(sparse_below)
        self.rank, self.world_size = group.rank, group.world_size
        self.half = sync_dtype == "float16"  # changes go as float16 (see the module doc)
        # values are sent as such (not as changes) only by a float32 "average"
        self._deltas = combine != "average" or self.half
        self.is_leader = group.rank == 0
        self._arrays: List[Any] = []  # what start() was given
        self._before: List[Any] = []  # the model at the last sync (None: an array of held rows)
        # per array: the offset q of the rows q :: W this rank alone changes
        # (None: any rank changes any row), as start() gave it and now
        self._held_start: List[Optional[int]] = []
        self._held: List[Optional[int]] = []
        # what the last sync sent: rows of each array it combined (its row
        # count when dense), the summed arrays first, then the held ones
        self.rows_sent: List[int] = []
        # bytes this rank put into the syncs' collectives since start():
        # all-reduced buffers (row flags included), rows passed on or gathered
        self.bytes_sent = 0
        self.syncs = 0  # sync() calls since start()
        # all-reduces of the syncs since start(), and all-gathers of held
        # rows (one an array, whatever its pieces)
        self.all_reduces = 0
        # per (row count, arrays) synced (None: whole, all): (most rows
        # changed at the last look at the flags, syncs since that look); the
        # same on every rank
        self._density: Dict[Any, Tuple[bool, int]] = {}

    def _averaged(self, average_first: int) -> int:
        if int(average_first) < 0:
            raise ValueError(f"average_first must be >= 0, got {average_first!r}")
        return int(average_first) if self.combine == "sum" else 0

    def slices(self, items: int, sync_interval: int, can_slice: bool = True) -> int:
        """Slices per epoch: the most items (ids, pairs) any rank holds, in
        pieces of about `sync_interval`, so that every rank syncs the same
        number of times; 1 when any rank cannot train in slices."""
        most, cannot = collectives.all_reduce(
            np.array([items, 0 if can_slice else 1], dtype=np.int64), self.group, "max")
        if cannot:
            return 1
        return max(1, math.ceil(int(most) / max(1, int(sync_interval))))

    def start(self, arrays: Sequence[Any], average_first: Optional[int] = None,
              average_momentum: Optional[float] = None,
              held: Optional[Sequence[Optional[int]]] = None) -> None:
        """Call before the first slice: makes the replicas equal (rank 0's)
        and remembers them (what the changes since the last sync are measured
        from: the sum's base, and how a sync finds the rows it must send).
        `average_first`, `average_momentum`: replace the constructor's, for
        this training. `held`: per array, None, or the offset q of the rows
        q, q + W, ... that this rank alone changes between syncs (each rank
        its own q; see the module doc): such an array is combined by
        gathering every row from its holder (whole: not in a sync of the
        first `rows`; nor are its rows averaged), keeps no copy, and after
        each sync that combines it its rows are held as given here again.
        The ranks' offsets are compared here, so that held rows without a
        holder, or arrays held on some ranks only, fail every rank before
        training."""
        held = [None] * len(arrays) if held is None else list(held)
        if len(held) != len(arrays):
            raise ValueError(f"held needs one entry an array ({len(arrays)}), got {len(held)}")
        for offset in held:
            if offset is not None and not 0 <= int(offset) < self.world_size:
                raise ValueError(f"a held offset must be in [0, {self.world_size}), got {offset!r}")
        check_held(held, self.group)  # on every rank, held arrays or not: one small all-gather
        if average_first is not None:
            self.average_first = self._averaged(average_first)
        if average_momentum is not None:
            self.average_momentum = _momentum(average_momentum)
        self._velocities = {}
        for array in arrays:
            collectives.broadcast(array, self.group, src=0)
        self._arrays = list(arrays)
        self._held_start = [None if offset is None else int(offset) for offset in held]
        self._held = list(self._held_start)
        self._before = [None if offset is not None
                        else array.copy() if isinstance(array, np.ndarray) else array.clone()
                        for array, offset in zip(arrays, self._held)]
        self.bytes_sent = self.syncs = self.all_reduces = 0
        self._density = {}

    def job_fractions(self, fractions: Sequence[float], items: int) -> List[float]:
        """The whole job's progress through an epoch at each slice boundary:
        this rank's `fractions` of its own `items` (0 ... 1), weighted by
        every rank's items and summed. The learning rate follows it, so it
        decays with the words the job has processed, the same on every rank
        even when the shares differ in size."""
        done = collectives.all_reduce(np.asarray(fractions, dtype=np.float64) * float(items),
                                      self.group)
        total = float(done[-1])
        return [float(x) for x in done / total] if total > 0 else [float(x) for x in fractions]

    def sync(self, arrays: Sequence[Any], stop: bool, rows: Optional[int] = None,
             only: Optional[Sequence[int]] = None) -> bool:
        """Combines the replicas in place, all their rows or only the first
        `rows` (the most frequent words: vocabularies are sorted by count),
        of every array or `only` those of these indices in `arrays` (the
        same arrays, in the same order, as start() was given; the others
        keep their changes until a sync that includes them); returns True
        when any rank asked to stop (Ctrl-C, stop()), so that every rank
        stops after the same slice."""
        self.syncs += 1
        self.rows_sent = []
        stopped = self._combine(arrays, stop, rows, only)
        if stopped and (rows is not None or only is not None):
            # the last sync before stopping: everything, so that every rank
            # leaves with the same model
            self._combine(arrays, False, None, None)
        return stopped

    def _combine(self, arrays: Sequence[Any], stop: bool, rows: Optional[int],
                 only: Optional[Sequence[int]]) -> bool:
        """One round of sync(): a first all-reduce carries the stop flag and
        every array's changed-row flags together (one round trip for them
        all), then each array's changes go, as rows or whole; or, for a few
        rows found busy at the last look, all of it in one all-reduce
        (`_at_once`). Returns whether any rank asked to stop."""
        chosen = range(len(arrays)) if only is None else sorted(set(only))
        held = [index for index in chosen if self._held[index] is not None]
        if held and rows is not None:
            # the rows past `rows` would lose track of their holder
            raise ValueError(f"arrays {held} have held rows: they are combined whole, "
                             f"not their first {rows} rows")
        chosen = [index for index in chosen if self._held[index] is None]
        views = [(arrays[index] if rows is None else arrays[index][:rows],
                  self._before[index] if rows is None else self._before[index][:rows])
                 for index in chosen]
        key = (rows, None if only is None else tuple(chosen))  # what _density remembers
        if self._at_once(views, rows, key):  # never with held arrays: they need rows=None
            return self._combine_at_once(views, list(chosen), stop, key)
        counting = self.combine == "changed"
        changed = [self._changed(array, before) for array, before in views]
        kind = np.uint8 if self.world_size < 256 else np.int32  # sums of flags up to world_size
        header = np.concatenate([np.array([1 if stop else 0], dtype=kind)]
                                + [c.astype(kind) for c in changed if c is not None])
        collectives.all_reduce(header, self.group, "sum" if counting else "max")
        self.all_reduces += 1
        self.bytes_sent += header.nbytes
        dense = True  # every array's changed rows above sparse_below (or not looked for)
        offset = 1
        for (array, before), mine, index in zip(views, changed, chosen):
            touched: Optional[np.ndarray] = None
            ranks: Optional[np.ndarray] = None
            if mine is not None:
                union = header[offset:offset + len(array)]
                offset += len(array)
                ranks = union if counting else None
                count = int(np.count_nonzero(union))
                if count == 0:  # nobody changed a row: equal everywhere already
                    self.rows_sent.append(0)
                    dense = False
                    continue
                if count <= self.sparse_below * len(array):
                    touched = np.flatnonzero(union)
                    dense = False
            if touched is not None:
                self._combine_rows(array, before, touched, ranks, index)
            else:
                self._combine_all(array, before, ranks, index)
        self._density[key] = (dense, 0)
        self._gather_held(arrays, held)
        if rows is None and only is None:
            self._velocities = {}  # after a whole sync the velocities start afresh (module doc)
        return bool(header[0])

    def _gather_held(self, arrays: Sequence[Any], indices: Sequence[int]) -> None:
        """Combines the arrays `indices` (of held rows, whole): every rank's
        offsets first, in one all-gather, then each array's rows from their
        holders. Their rows are then held as start() gave them again."""
        if not indices:
            return
        offsets = collectives.all_gather_ints([cast(int, self._held[index]) for index in indices],
                                              self.group)
        self.all_reduces += 1
        self.bytes_sent += 8 * len(indices)
        for column, index in enumerate(indices):
            array = arrays[index]
            self.bytes_sent += gather_held_rows(array, offsets[:, column].tolist(), self.group)
            self.all_reduces += 1
            self._held[index] = self._held_start[index]
            self.rows_sent.append(len(array))

    def _at_once(self, views: Sequence[Tuple[Any, Any]], rows: Optional[int], key: Any) -> bool:
        """Whether this sync goes in one all-reduce (see the module doc):
        a sync of the first rows (not the whole model), small, summed or
        averaged (counting the ranks that changed a row needs the flags), in
        one dtype, and either no array has flags to look at or the last look
        at these rows found most of them changed, not too long ago."""
        if rows is None or self.combine == "changed" or not views:
            return False
        if len({str(array.dtype) for array, _ in views}) != 1 or any(
                getattr(array, "ndim", 0) != 2 for array, _ in views):
            return False
        if sum(nbytes(array) for array, _ in views) > _AT_ONCE_BYTES:
            return False
        if not any(self._has_flags(array) for array, _ in views):
            return True
        dense, since = self._density.get(key, (False, 0))
        return dense and since + 1 < _PROBE_EVERY

    def _combine_at_once(self, views: Sequence[Tuple[Any, Any]], indices: Sequence[int],
                         stop: bool, key: Any) -> bool:
        """`_combine_all` of every view, with the stop flag, in one buffer and
        one all-reduce: the same arithmetic on the same values."""
        parts = [array - before if self._deltas else array for array, before in views]
        flag = like(parts[0], [1.0 if stop else 0.0])
        buffer = concat([part.reshape(-1) for part in parts] + [flag])
        self.bytes_sent += self._sum(buffer)
        offset = 0
        for (array, before), part, index in zip(views, parts, indices):
            size = part.shape[0] * part.shape[1]
            total = buffer[offset:offset + size].reshape(part.shape)
            offset += size
            if self.combine == "average":
                total /= self.world_size
            else:
                self._average_first_rows(total, index)
            if self._deltas:
                total += before
            array[...] = total
            before[...] = total
            self.rows_sent.append(len(array))
        dense, since = self._density.get(key, (True, 0))
        self._density[key] = (dense, since + 1)
        return bool(buffer[-1] > 0)

    def _sum(self, values: Any) -> int:
        """Sums `values` (an array or tensor this sync owns) over the ranks,
        in place: as they are, or through a float16 copy (sync_dtype
        "float16", where they are changes). Returns the bytes sent."""
        if not self.half:
            collectives.all_reduce(values, self.group)
        else:
            wire = to_half(values, _HALF_SUM_LIMIT / self.world_size)
            collectives.all_reduce(wire, self.group)
            copy_into(values, wire)
            values = wire
        self.all_reduces += 1
        return nbytes(values)

    def _average_first_rows(self, summed: Any, index: int, ids: Optional[np.ndarray] = None) -> None:
        """The summed changes of array `index`'s rows `ids` (sorted; None:
        rows 0, 1, ...), in `summed`, made their mean for the rows among the
        first average_first, and with average_momentum, those rows' velocity
        (see the module doc)."""
        count = (min(len(summed), self.average_first) if ids is None
                 else int(np.searchsorted(ids, self.average_first)))
        if not count:
            return
        head = summed[:count]
        head /= self.world_size
        if self.average_momentum:
            velocity = self._velocities.get(index)
            if velocity is None:
                velocity = self._velocities[index] = empty_like(summed, self.average_first)
                velocity[...] = 0
            where = slice(0, count) if ids is None else ids[:count]
            moved = velocity[where] * self.average_momentum + head
            velocity[where] = moved
            head[...] = moved

    def _has_flags(self, array: Any) -> bool:
        """Whether a sync looks for this array's changed rows (see `_changed`)."""
        return not ((self.sparse_below <= 0.0 and self.combine != "changed")
                    or not isinstance(array, np.ndarray) or array.ndim != 2 or len(array) == 0)

    def _changed(self, array: Any, before: Any) -> Optional[np.ndarray]:
        """Which rows this rank changed since the last sync (bool a row), or
        None when the sync sends the array whole anyway. Rows no rank changed
        are equal on every rank already (they were after the last sync), so
        the sync can leave them out: when the union of the ranks' changed
        rows is at most `sparse_below` of the rows, only those are sent. The
        rows are found by comparing with the last sync's copy (exact, and no
        help from the native kernels); the union costs one byte a row (a max
        all-reduce; a sum for combine="changed", which needs the count),
        next to 4 d bytes a row for the values."""
        if not self._has_flags(array):
            return None
        changed = np.zeros(len(array), dtype=np.bool_)
        step = max(1, _COMPARE_BYTES // max(1, array.shape[1] * array.itemsize))
        for start in range(0, len(array), step):  # in blocks: the comparison's temporary stays small
            end = min(len(array), start + step)
            np.any(array[start:end] != before[start:end], axis=1, out=changed[start:end])
        return changed

    def _combine_rows(self, array: np.ndarray, before: np.ndarray, rows: np.ndarray,
                      ranks: Optional[np.ndarray], index: int) -> None:
        """`_combine_all` on the rows `rows` only: the same arithmetic on the
        same values, so the same result for those rows."""
        part = array[rows]
        base = before[rows] if self._deltas else None
        if base is not None:
            part -= base                     # this rank's change ...
        self.bytes_sent += self._sum(part)   # ... summed over the ranks
        if self.combine == "average":
            part /= self.world_size
        elif ranks is not None:              # ... averaged over those that changed it
            part /= ranks[rows, None].astype(part.dtype)
        # rows are sorted: those among the first average_first lead
        self._average_first_rows(part, index, rows)
        if base is not None:
            part += base
        array[rows] = part
        before[rows] = part
        self.rows_sent.append(len(rows))

    def _combine_all(self, array: Any, before: Any, ranks: Optional[np.ndarray], index: int) -> None:
        if self._deltas:
            array -= before                          # this rank's change ...
        self.bytes_sent += self._sum(array)          # ... summed over the ranks
        if self.combine == "average":
            array /= self.world_size
        elif ranks is not None:                      # ... averaged over those that changed it
            array /= np.maximum(ranks, 1)[:, None].astype(array.dtype)
        self._average_first_rows(array, index)
        if self._deltas:
            array += before
        before[...] = array
        self.rows_sent.append(len(array))

    def total(self, value: float) -> float:
        """`value` summed over the ranks (losses, counts)."""
        return float(collectives.all_reduce(np.array([value], dtype=np.float64), self.group)[0])

    def rotate(self, indices: Sequence[int], sent: slice, received: slice) -> None:
        """Passes rows along the ring of ranks: the rows `sent` of the arrays
        start() was given at `indices` (2-d arrays of one dtype and kind:
        numpy, or torch tensors on the group's device) go to
        the previous rank (rank - 1), which overwrites its rows `sent` with
        them, as this rank overwrites its rows `received` with those the next
        rank sends. In an array of held rows (start's `held`), `sent` must
        be the rows this rank holds (q :: W), and it holds `received` after.
        In any other, this rank's own rows `sent` go back to their value at
        the last sync: this rank trained them, the previous rank carries its
        changes on, and a later sync must not add them twice (each row
        changes on the one rank that holds it, so the sum of the changes is
        its holder's). For rows that one rank at a time trains (GloVe's
        strata): V / W rows a step instead of an all-reduce of all of them.
        `sent` and `received` are one rank's rows each: q::W, step W."""
        from .exchange import pass_along
        world = self.world_size
        for rows in (sent, received):
            if not (rows.step == world and rows.stop is None and 0 <= (rows.start or 0) < world):
                raise ValueError(f"rotate passes rows q::{world} with 0 <= q < {world} (one "
                                 f"rank's), got {sent} for {received}")
        for index in indices:
            offset = self._held[index]
            if offset is not None and (sent.start or 0) != offset:
                raise ValueError(f"array {index}: rank {self.rank} holds rows {offset}::{world}, "
                                 f"and cannot pass on {sent} for {received}")
        for index in indices:
            array = self._arrays[index]
            sending, receiving = array[sent], array[received]
            # a piece of rows at a time: what a pass allocates (the rows
            # sent, made contiguous, and those received) stays small next
            # to the array; every rank makes as many passes
            pieces = held_row_pieces(array, world, _PASS_PIECE_BYTES)
            for first in pieces:
                target = receiving[first:first + pieces.step]
                into = empty_like(target, len(target))
                out = sending[first:first + pieces.step]
                pass_along(out, (self.rank - 1) % world, into, (self.rank + 1) % world, self.group)
                self.bytes_sent += nbytes(out)
                target[...] = into
            if self._held[index] is not None:
                self._held[index] = int(received.start or 0)
            else:
                self._arrays[index][sent] = self._before[index][sent]

    def everyone(self, flag: bool) -> bool:
        """Whether `flag` holds on every rank."""
        return bool(collectives.all_reduce(np.array([1 if flag else 0], dtype=np.int64),
                                           self.group, "min")[0])

    def check_same(self, what: str, value: Any) -> None:
        from .consistency import check_same
        check_same(self.group, what, value)


def _momentum(value: float) -> float:
    """`value` checked: a momentum in [0, 0.999] (1 would never forget a move)."""
    return float(check_number("average_momentum", value, 0.0, 0.999))


def check_combine(combine: str, sync_dtype: str) -> None:
    """Raises ValueError unless `combine` and `sync_dtype` are known."""
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}")
    if sync_dtype not in SYNC_DTYPES:
        raise ValueError(f"sync_dtype must be one of {SYNC_DTYPES}, got {sync_dtype!r}")


def replicas_for(group: Optional[Group], combine: str = "sum",
                 sync_dtype: str = "float32") -> Union[Alone, Replicas]:
    """``Alone()`` without a group or in a group of one (nothing to combine:
    torchrun with one process trains exactly as one process), else
    ``Replicas(group, combine, sync_dtype=sync_dtype)``. Checks both
    settings either way, so that a bad value fails alone too."""
    check_combine(combine, sync_dtype)
    return (Alone() if group is None or group.world_size == 1
            else Replicas(group, combine, sync_dtype=sync_dtype))
