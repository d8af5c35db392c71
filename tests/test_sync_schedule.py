"""When Word2Vec's replicas are combined across ranks, and which rows
(embforge.distributed.sync_schedule): the defaults by the number of ranks,
the tiers, and the whole syncs."""
import pytest

from embforge import Word2Vec
from embforge.distributed.sync_schedule import (SyncPlan, hot_average_for, hot_interval_for,
                                                hot_momentum_for)


def test_the_hot_rows_sync_more_often_the_more_ranks_there_are() -> None:
    # measured: 65,536 ids a rank for 2 ranks, 16,384 for 4 (32,768 collapsed)
    assert [hot_interval_for(None, w) for w in (1, 2, 3, 4, 8)] == [65536, 65536, 29127, 16384, 4096]
    assert hot_interval_for(300_000, 4) == 300_000  # as given
    assert SyncPlan(4, 10_000).interval == 16384
    assert SyncPlan(4, 10_000).setting == ("hot_sync_interval", 16384)  # what a divergence names
    assert Word2Vec(vector_size=8).hot_sync_interval is None
    with pytest.raises(ValueError, match="hot_sync_interval must be >= 1, got 0"):
        Word2Vec(hot_sync_interval=0)


def test_more_rows_are_averaged_past_four_ranks() -> None:
    # measured: 64 rows kept 2-4 ranks within the targets; at 8 ranks 128
    # closed CBOW's analogy gap (0.023 -> 0.005)
    assert [hot_average_for(None, w) for w in (1, 2, 4, 6, 8, 32)] == [64, 64, 64, 96, 128, 512]
    assert hot_average_for(0, 8) == 0 and hot_average_for(100, 8) == 100  # as given
    for words, averaged in ((256 * 100, 100), (256 * 200, 128)):  # capped at 1/256 of them
        assert SyncPlan(8, words).averaged_rows == averaged
    assert SyncPlan(8, 256 * 200, hot_average_rows=7).averaged_rows == 7


def test_distributed_syncs_come_in_tiers_by_frequency() -> None:
    # the k-th sync of an epoch (from 1) combines the first hot_sync_rows rows,
    # twice as many every second sync, four times every fourth, ...; all rows
    # (None) once the tier reaches the vocabulary
    plan = SyncPlan(2, 20, hot_sync_rows=3)
    assert [plan.rows(k) for k in range(1, 10)] == [3, 6, 3, 12, 3, 6, 3, None, 3]


def test_the_whole_model_waits_for_the_tiers_unless_an_interval_is_given() -> None:
    # by default (sync_interval=None) whole syncs come only from the tiers
    # (the 8th here: 3 * 8 rows reach the 20 words) and at the epoch's end;
    # measured on the bench corpus: as good as whole syncs every 2.2M ids
    tiers = [3, 6, 3, 12, 3, 6, 3, None, 3, 6, 3, 12]
    plan = SyncPlan(2, 20, hot_sync_rows=3, hot_sync_interval=100)
    assert plan.epoch(12) == tiers[:11] + [None]
    assert plan.epoch(1) == [None]
    # given, sync_interval adds a whole sync every ceil(250 / 100) = 3rd
    plan = SyncPlan(2, 20, hot_sync_rows=3, hot_sync_interval=100, sync_interval=250)
    assert plan.epoch(12) == [3, 6, None, 12, 3, None, 3, None, None, 6, 3, None]
    assert plan.interval == 100


@pytest.mark.parametrize("settings", [dict(hot_sync_rows=0), dict(hot_sync_rows=20),
                                      dict(sync_interval=100, hot_sync_interval=100)])
def test_without_tiers_every_sync_is_whole(settings) -> None:
    # no tiers: no hot rows, one tier as large as the vocabulary, or whole
    # syncs at least as often as the hot ones would come
    plan = SyncPlan(2, 20, **settings)
    assert not plan.tiers and plan.epoch(4) == [None] * 4
    assert plan.setting == ("sync_interval", settings.get("sync_interval", 2_200_000))


def test_word2vec_plans_with_its_own_settings() -> None:
    model = Word2Vec(vector_size=8, min_count=1, hot_sync_rows=3, hot_sync_interval=100,
                     sync_interval=250, workers=1, progress=False)
    model.build_vocab([[f"w{i}" for i in range(20)]])
    assert model._sync_plan().epoch(12) == [3, 6, None, 12, 3, None, 3, None, None, 6, 3, None]
    with pytest.raises(ValueError, match="sync_interval must be >= 1, got 0"):
        Word2Vec(sync_interval=0)


def test_the_averaged_rows_take_momentum_past_eight_ranks() -> None:
    # measured: 16 ranks, skip-gram, 3 seeds: analogy gap 0.032 -> 0.020
    # with 0.5; up to 8 ranks no mean score moved by more than 0.0063
    assert [hot_momentum_for(None, w) for w in (1, 2, 4, 8, 9, 16, 32)] == [0, 0, 0, 0, .5, .5, .5]
    assert hot_momentum_for(0.25, 2) == 0.25 and hot_momentum_for(0.0, 16) == 0.0  # as given
    assert SyncPlan(16, 100_000).momentum == 0.5
    assert SyncPlan(16, 100_000, hot_average_momentum=0.0).momentum == 0.0
