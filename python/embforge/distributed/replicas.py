"""Keeping the ranks' copies of a model close: what happens between slices of an epoch.

Each rank trains its own replica of the model (Hogwild threads inside, as in
one process) on its share of the corpus, in slices; after every slice the
replicas are combined so that every rank holds the same model again:

* ``combine="sum"`` (the default): every rank's change since the last sync
  is added to the model they all held then, ``w = w0 + sum_r (w_r - w0)``:
  what one process with all the ranks' threads would have applied, each
  update computed from a model at most one slice old. GloVe's AdaGrad sums
  need exactly this (squared gradients add up), and so do its context rows,
  which every rank updates.
* ``combine="average"``: ``w = mean_r w_r`` (model averaging, as in Ji et al.):
  each rank's step counts 1/N, so the effective learning rate on rows that
  every rank trains drops by N between syncs.

``Alone`` is the same interface for a process training by itself (no group):
one slice per epoch, nothing to combine, so single-process training is the
code it always was. Only scalars and the model cross the wire; the corpus
never does.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Union

import numpy as np

from . import collectives
from .group import Group

__all__ = ["Alone", "Replicas", "replicas_for", "rank_seed"]

COMBINES = ("sum", "average")
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

    def start(self, arrays: Sequence[Any]) -> None:
        pass

    def job_fractions(self, fractions: Sequence[float], items: int) -> List[Any]:
        return list(fractions)

    def sync(self, arrays: Sequence[Any], stop: bool, rows: Any = None) -> bool:
        return bool(stop)

    def total(self, value: float) -> float:
        return float(value)

    def check_same(self, what: str, value: Any) -> None:
        pass


class Replicas:
    """The model replicas of one Group (see the module doc)."""

    def __init__(self, group: Group, combine: str = "sum") -> None:
        if combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}")
        self.group = group
        self.combine = combine
        self.rank, self.world_size = group.rank, group.world_size
        self.is_leader = group.rank == 0
        self._before: List[Any] = []  # the model at the last sync (combine="sum")

    def slices(self, items: int, sync_interval: int, can_slice: bool = True) -> int:
        """Slices per epoch: the most items (ids, pairs) any rank holds, in
        pieces of about `sync_interval`, so that every rank syncs the same
        number of times; 1 when any rank cannot train in slices."""
        most, cannot = collectives.all_reduce(
            np.array([items, 0 if can_slice else 1], dtype=np.int64), self.group, "max")
        if cannot:
            return 1
        return max(1, math.ceil(int(most) / max(1, int(sync_interval))))

    def start(self, arrays: Sequence[Any]) -> None:
        """Call before the first slice: makes the replicas equal (rank 0's)
        and, for combine="sum", remembers them."""
        for array in arrays:
            collectives.broadcast(array, self.group, src=0)
        if self.combine == "sum":
            self._before = [array.copy() if isinstance(array, np.ndarray) else array.clone()
                            for array in arrays]

    def job_fractions(self, fractions: Sequence[float], items: int) -> List[Any]:
        """The whole job's progress through an epoch at each slice boundary:
        this rank's `fractions` of its own `items` (0 ... 1), weighted by
        every rank's items and summed. The learning rate follows it, so it
        decays with the words the job has processed, the same on every rank
        even when the shares differ in size."""
        done = collectives.all_reduce(np.asarray(fractions, dtype=np.float64) * float(items),
                                      self.group)
        total = float(done[-1])
        return (done / total).tolist() if total > 0 else list(fractions)

    def sync(self, arrays: Sequence[Any], stop: bool, rows: Any = None) -> bool:
        """Combines the replicas in place, all their rows or only the first
        `rows` (the most frequent words: vocabularies are sorted by count);
        returns True when any rank asked to stop (Ctrl-C, stop()), so that
        every rank stops after the same slice."""
        flag = collectives.all_reduce(np.array([1 if stop else 0], dtype=np.int64), self.group)
        if flag[0]:
            rows = None  # the last sync before stopping: every rank leaves with the same model
        for index, whole in enumerate(arrays):
            array = whole if rows is None else whole[:rows]
            if self.combine == "average":
                collectives.all_reduce(array, self.group)
                array /= self.world_size
                continue
            before = self._before[index] if rows is None else self._before[index][:rows]
            array -= before                              # this rank's change ...
            collectives.all_reduce(array, self.group)    # ... summed over the ranks
            array += before
            before[...] = array
        return bool(flag[0])

    def total(self, value: float) -> float:
        """`value` summed over the ranks (losses, counts)."""
        return float(collectives.all_reduce(np.array([value], dtype=np.float64), self.group)[0])

    def check_same(self, what: str, value: Any) -> None:
        from .consistency import check_same
        check_same(self.group, what, value)


def replicas_for(group: Any, combine: str = "sum") -> Union[Alone, Replicas]:
    """``Alone()`` without a group or in a group of one (nothing to combine:
    torchrun with one process trains exactly as one process), else
    ``Replicas(group, combine)``."""
    return Alone() if group is None or group.world_size == 1 else Replicas(group, combine)
