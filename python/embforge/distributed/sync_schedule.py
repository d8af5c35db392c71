"""When Word2Vec's replicas are combined across ranks, and which rows.

The most frequent words' rows (the first rows: the vocabulary is sorted by
count; after build_vocab(update=True), the first corpus's most frequent
words, see vocab_update.py) take most updates, so replicas drift there first,
by about a word's count times the ids between syncs. So the rows are synced
in tiers: the first `hot_sync_rows` every `hot_sync_interval` ids of a rank,
twice as many every second time, four times as many every fourth, ... (a row
of rank i about every i / hot_sync_rows intervals: under Zipf's law every row
then drifts by about as many updates, and each tier costs the same bytes),
the whole model when the tier reaches the vocabulary, every `sync_interval`
ids when given, and at the end of each epoch. 0 rows: no tiers, the whole
model only, every `sync_interval` ids (SYNC_INTERVAL by default).

How a sync combines the rows it sends (the sum of the ranks' changes, the
first rows' averaged) is replicas.py's. The numbers below were measured on
the bench corpus (gcide + kdocs, 8.7M tokens, skip-gram and CBOW, d = 100),
N ranks x 1 thread against one process x 2 threads; bench/RESULTS.md has
the tables.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

__all__ = ["SYNC_INTERVAL", "HOT_SYNC_ROWS", "HOT_SYNC_INTERVAL", "HOT_AVERAGE_ROWS",
           "HOT_AVERAGE_MOMENTUM", "MOMENTUM_PAST", "hot_interval_for", "hot_average_for",
           "hot_momentum_for", "SyncPlan"]

# Each rank's ids between syncs of the whole model when there are no tiers
# (hot_sync_rows=0; with tiers, by default, the whole model goes when the
# tiers reach it).
SYNC_INTERVAL = 2_200_000
# The first tier. At 2 ranks, 3 seeds: the first 1,024 rows every 65,536
# ids came within the quality targets on analogy and WS353 for both models
# and SimLex for CBOW (skip-gram's SimLex 0.024 short, until the averaged
# rows below), at 6-13% more time than the first 4,096 every 300k, which
# missed analogy on both models by up to 0.019.
HOT_SYNC_ROWS = 1024
# hot_sync_interval=None: 65,536 ids for two ranks, 65,536 (2 / W)^2 for W.
# With more ranks the hot rows' summed moves overshoot more, and the interval
# must shrink faster than 1 / W (seed 1: 3 ranks at 65,536 ids lost 0.05
# analogy, at 29,127 kept within 0.015; 4 ranks at 65,536 and 32,768
# collapsed, 0.007 and 0.078 analogy, at 16,384 kept within 0.01). At 8
# ranks (4,096) 2,048 or 8,192 moved analogy by less than 0.004: past 4
# ranks the interval is no longer what limits the quality.
HOT_SYNC_INTERVAL = 65_536
# The first rows whose changes are averaged over the ranks, not added, up to
# 4 ranks; hot_average_rows=None: HOT_AVERAGE_ROWS W / 4 past that. Each
# rank updates them hundreds of times between syncs, so each rank's copy
# settles where its gradients balance and the ranks' moves are estimates of
# one move; added, they overshoot. Averaging the first 64 brought skip-gram's
# SimLex from 0.024 to 0.010 below one process at 2 ranks, and every other
# score within 0.01 (16 rows: 0.015; 512: analogy 0.010 below); 64 also kept
# 3 and 4 ranks within the targets. At 8 ranks (3 seeds) 64 left CBOW's
# analogy 0.023 short and 128 brought it to 0.005; 16 rows lost 0.06
# analogy, 512 0.04.
HOT_AVERAGE_ROWS = 64
# Past MOMENTUM_PAST ranks the averaged rows move by a velocity that keeps
# HOT_AVERAGE_MOMENTUM of its last value (replicas.py): averaged, a row that
# all the ranks keep moving the same way moves W times slower than one
# process would move it; with momentum m it builds up to 1 / (1 - m) times
# the mean, while a move that reverses is damped. 16 ranks, 3 seeds,
# analogy below one process without it / with 0.5: skip-gram 0.032 / 0.020,
# CBOW 0.046 / 0.028 (WS353 and SimLex moved by at most 0.004 and stay
# within their targets); 0.75 collapsed (skip-gram analogy 0.10, seed 1).
# Neither averaging twice the input rows (454; analogy +0.0003, 3 seeds)
# nor fresher hot rows (every 512 ids, seed 1) closed the rest of the gap;
# one epoch more makes up for it (6 epochs scored as one process at 5,
# analogy 0.004 below; 3 seeds each model).
# Up to 8 ranks 0.5 changed no mean score by more than 0.0063 (2, 4, 8
# ranks, skip-gram and CBOW), so the vectors measured there stay as they
# were. hot_average_momentum=None: this rule (hot_momentum_for).
HOT_AVERAGE_MOMENTUM = 0.5
MOMENTUM_PAST = 8
# Averaged rows are at most this fraction of the vocabulary: in a small one
# every word is frequent and trains on steady gradients, and averaging all
# 50 rows of a toy corpus's vocabulary across two ranks halved their
# training (topic margin 0.86 against 0.35).
AVERAGED_SHARE = 256


def hot_interval_for(hot_sync_interval: Optional[int], world_size: int) -> int:
    """Each rank's ids between syncs of the hot rows: `hot_sync_interval` as
    given, or by default HOT_SYNC_INTERVAL (2 / world_size)^2 (see there)."""
    if hot_sync_interval is not None:
        return int(hot_sync_interval)
    return max(1, HOT_SYNC_INTERVAL * 4 // max(2, int(world_size)) ** 2)


def hot_average_for(hot_average_rows: Optional[int], world_size: int) -> int:
    """The first rows whose changes are averaged over `world_size` ranks:
    `hot_average_rows` as given, or by default HOT_AVERAGE_ROWS up to 4 ranks
    and HOT_AVERAGE_ROWS W / 4 past them (see there)."""
    if hot_average_rows is not None:
        return int(hot_average_rows)
    return HOT_AVERAGE_ROWS * max(4, int(world_size)) // 4


def hot_momentum_for(hot_average_momentum: Optional[float], world_size: int) -> float:
    """The averaged rows' momentum: `hot_average_momentum` as given, or by
    default HOT_AVERAGE_MOMENTUM past MOMENTUM_PAST ranks, 0 up to them."""
    if hot_average_momentum is not None:
        return float(hot_average_momentum)
    return HOT_AVERAGE_MOMENTUM if int(world_size) > MOMENTUM_PAST else 0.0


class SyncPlan:
    """The syncs of one Word2Vec training across `world_size` ranks, over a
    vocabulary of `vocabulary` words, from the model's settings (None: the
    defaults above):

    * ``interval``: each rank's ids between two syncs (how an epoch is
      sliced), and ``setting``, the option that sets it (what a divergence
      names);
    * ``averaged_rows``: the first rows whose changes are averaged, and
      ``momentum``, their velocity's;
    * ``epoch(slices)``: the rows each of an epoch's syncs combines."""

    def __init__(self, world_size: int, vocabulary: int, *, sync_interval: Optional[int] = None,
                 hot_sync_interval: Optional[int] = None, hot_sync_rows: int = HOT_SYNC_ROWS,
                 hot_average_rows: Optional[int] = None,
                 hot_average_momentum: Optional[float] = None) -> None:
        self.vocabulary = int(vocabulary)
        self.sync_interval = sync_interval
        self.hot_sync_rows = int(hot_sync_rows)
        hot_interval = hot_interval_for(hot_sync_interval, world_size)
        # tiers of frequent rows, unless there is one tier only or whole
        # syncs come at least as often
        self.tiers = (0 < self.hot_sync_rows < self.vocabulary
                      and (sync_interval is None or hot_interval < sync_interval))
        self.setting: Tuple[str, int] = (("hot_sync_interval", hot_interval) if self.tiers else
                                         ("sync_interval", sync_interval or SYNC_INTERVAL))
        self.averaged_rows = min(hot_average_for(hot_average_rows, world_size),
                                 self.vocabulary // AVERAGED_SHARE)
        self.momentum = hot_momentum_for(hot_average_momentum, world_size)

    @property
    def interval(self) -> int:
        """Each rank's ids between two syncs: the value of `setting`."""
        return self.setting[1]

    def rows(self, count: int) -> Optional[int]:
        """The rows of the `count`-th sync of an epoch (from 1) in the tiers:
        the first hot_sync_rows, twice as many every second sync, four times
        as many every fourth, ... (None: every row)."""
        rows = self.hot_sync_rows << ((count & -count).bit_length() - 1)
        return None if rows >= self.vocabulary else rows

    def epoch(self, slices: int) -> List[Optional[int]]:
        """The rows each of an epoch's `slices` syncs combines (None: every
        row). Without tiers every sync is whole. With them the k-th sync
        sends `rows(k)`; sync_interval, when given, makes every
        ceil(sync_interval / interval)-th whole too; and the epoch's last
        sync is always whole, so that the ranks start the next epoch (and
        end) with one model."""
        if not self.tiers:
            return [None] * slices
        # sync_interval None: no whole syncs but the tiers' own (every 2^L-th,
        # L = ceil(log2(V / hot_sync_rows))) and the epoch's last. Rare rows
        # change little between syncs, and a whole sync costs 8 V d bytes:
        # for a 1M x 300 model, one every 2.2M ids took two thirds of an
        # epoch's time on two 25 Gb/s nodes (bench/RESULTS.md, "On paper,
        # again"). 2 ranks, 3 seeds: whole syncs only through the tiers (rows
        # past 32k then sync only at each epoch's end) against every 2.2M ids
        # moved no mean score by more than 0.001 (skip-gram, CBOW), nor with
        # every word kept (min_count 1, 247k words: rows past 65k then sync
        # only at each epoch's end) by more than 0.004, and it sent 17-29%
        # fewer bytes.
        whole_every = (0 if self.sync_interval is None
                       else -(-self.sync_interval // self.interval))
        return [None if k == slices or (whole_every and k % whole_every == 0)
                else self.rows(k) for k in range(1, slices + 1)]
