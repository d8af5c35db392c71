"""bench/sync_projection.py's closed form for the rows of the average sync,
against the schedule Word2Vec actually follows (SyncPlan.rows over a cycle)."""
import os
import sys

import pytest

from embforge.distributed.sync_schedule import SyncPlan

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import sync_projection  # noqa: E402


@pytest.mark.parametrize("vocabulary, hot", [(58_362, 1024), (1_000_000, 1024), (5000, 64),
                                             (4096, 1024), (1500, 1024), (700, 1024)])
def test_average_tier_rows_is_the_mean_of_the_schedule(vocabulary, hot):
    plan = SyncPlan(2, vocabulary, hot_sync_rows=hot)
    cycle = 1 << 12  # a multiple of every cycle here (2^L syncs)
    sent = [plan.rows(k) for k in range(1, cycle + 1)]
    mean = sum(vocabulary if rows is None else rows for rows in sent) / cycle
    assert sync_projection.average_tier_rows(vocabulary, hot) == pytest.approx(mean, rel=1e-12)
