"""bench/sync_projection.py's closed form for the rows of the average sync,
against the schedule Word2Vec actually follows (_sync_rows over a cycle)."""
import os
import sys

import pytest

from embforge import Word2Vec

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import sync_projection  # noqa: E402


@pytest.mark.parametrize("vocabulary, hot", [(58_362, 1024), (1_000_000, 1024), (5000, 64),
                                             (4096, 1024), (1500, 1024), (700, 1024)])
def test_average_tier_rows_is_the_mean_of_the_schedule(vocabulary, hot):
    model = Word2Vec(hot_sync_rows=hot)
    model.vocab = list(range(vocabulary))  # _sync_rows reads only its length
    cycle = 1 << 12  # a multiple of every cycle here (2^L syncs)
    sent = [model._sync_rows(k) for k in range(1, cycle + 1)]
    mean = sum(vocabulary if rows is None else rows for rows in sent) / cycle
    assert sync_projection.average_tier_rows(vocabulary, hot) == pytest.approx(mean, rel=1e-12)
