"""Syncing only the rows some rank changed since the last sync, across 2 real
gloo processes: the same model as the dense sync, and untouched rows not sent."""
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from distributed_harness import run_ranks, values

pytest.importorskip("torch", reason="the sync runs on torch.distributed")

ROWS, DIM = 40, 6
EVERY: List[List[int]] = [[], []]   # every row, on both ranks
Key = Tuple[str, float, int]          # (combine, sparse_below, rows rank 0 touched)
Ranks = List[Dict[Key, Dict[str, Any]]]
FEW = [[1, 5, 30], [5, 9]]           # rank 0's rows, rank 1's rows: 4 rows in all
# (combine, sparse_below, rows each rank touches): 0.0 is the dense sync
CASES: List[Tuple[str, float, List[List[int]]]] = [
    (combine, below, touched) for combine in ("sum", "average", "changed")
    for below in (0.0, 0.05, 0.5, 1.0) for touched in (EVERY, FEW)]


def _synced(rank: int, world: int) -> Dict[Key, Dict[str, Any]]:
    """For each case: two arrays (input and output rows) started equal,
    changed by this rank on its rows (random steps), synced; twice."""
    import embforge.distributed as d
    from embforge.distributed.replicas import Replicas
    group = d.resolve_group(distributed=True)
    assert group is not None
    out: Dict[Key, Dict[str, Any]] = {}
    for combine, below, touched in CASES:
        replicas = Replicas(group, combine, sparse_below=below)
        start = np.random.default_rng(7)
        arrays = [start.standard_normal((ROWS, DIM)).astype(np.float32) for _ in range(2)]
        replicas.start(arrays)
        mine = np.random.default_rng(100 + rank)
        sent = []
        for _ in range(2):
            rows = touched[rank] or list(range(ROWS))
            for array in arrays:
                array[rows] += mine.standard_normal((len(rows), DIM)).astype(np.float32)
            replicas.sync(arrays, stop=False)
            sent.append((list(replicas.rows_sent), replicas.bytes_sent))
        out[combine, below, len(touched[0])] = {"arrays": [a.tobytes() for a in arrays],
                                                "sent": sent}
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: Any) -> Ranks:
    return values(run_ranks(_synced, tmp_path_factory.mktemp("sparse-sync")))


@pytest.mark.parametrize("combine", ["sum", "average", "changed"])
def test_a_sparse_sync_of_every_row_is_the_dense_sync(ranks: Ranks,
                                                      combine: str) -> None:
    sparse, dense = ranks[0][combine, 1.0, 0], ranks[0][combine, 0.0, 0]
    # every rank ends with the same model, and it is the dense sync's bit for bit
    assert sparse["arrays"] == ranks[1][combine, 1.0, 0]["arrays"] == dense["arrays"]
    # the sparse path was taken (every row sent as rows), after one byte a row of flags
    # (sent with the stop flag, one byte, in one all-reduce)
    assert [s[0] for s in sparse["sent"]] == [[ROWS, ROWS]] * 2
    per_sync = 1 + 2 * (ROWS + ROWS * DIM * 4)
    assert [s[1] for s in sparse["sent"]] == [per_sync, 2 * per_sync]
    dense_sync = 1 + 2 * ROWS * DIM * 4
    if combine == "changed":  # one byte a row of counts, whether sparse or dense
        assert [s[1] for s in dense["sent"]] == [dense_sync + 2 * ROWS, 2 * (dense_sync + 2 * ROWS)]
        return
    assert [s[1] for s in dense["sent"]] == [dense_sync, 2 * dense_sync]
    # at 0.5 every row changed is too many: sent dense, after the flags
    half = ranks[0][combine, 0.5, 0]
    assert half["arrays"] == dense["arrays"]
    assert [s[1] for s in half["sent"]] == [dense_sync + 2 * ROWS, 2 * (dense_sync + 2 * ROWS)]


@pytest.mark.parametrize("combine", ["sum", "average", "changed"])
def test_rows_no_rank_touched_are_not_sent(ranks: Ranks, combine: str) -> None:
    sparse, dense = ranks[0][combine, 0.5, 3], ranks[0][combine, 0.0, 3]
    assert sparse["arrays"] == ranks[1][combine, 0.5, 3]["arrays"] == dense["arrays"]
    # the union of the ranks' rows, 4 of 40, in each array; nothing else
    assert [s[0] for s in sparse["sent"]] == [[4, 4]] * 2
    assert sparse["sent"][0][1] == 1 + 2 * (ROWS + 4 * DIM * 4)
    # above `sparse_below` of the rows (0.05 x 40 = 2 < 4) the sync sends them all
    many = ranks[0][combine, 0.05, 3]
    assert [s[0] for s in many["sent"]] == [[ROWS, ROWS]] * 2
    assert many["arrays"] == dense["arrays"]
    # the rows nobody touched kept their start values
    start = np.random.default_rng(7).standard_normal((ROWS, DIM)).astype(np.float32)
    kept = np.frombuffer(sparse["arrays"][0], dtype=np.float32).reshape(ROWS, DIM)
    untouched = sorted(set(range(ROWS)) - {1, 5, 9, 30})
    assert np.array_equal(kept[untouched], start[untouched])


def oracle(combine: str) -> List[np.ndarray]:
    """What the two ranks' syncs of the FEW case must give, in numpy: the same
    float32 steps in the same order (a change is (row + step) - row)."""
    start = np.random.default_rng(7)
    arrays = [start.standard_normal((ROWS, DIM)).astype(np.float32) for _ in range(2)]
    draws = [np.random.default_rng(100 + rank) for rank in range(2)]
    for _ in range(2):
        changes = [[np.zeros((ROWS, DIM), np.float32) for _ in range(2)] for _ in range(2)]
        for rank in range(2):
            for index, array in enumerate(arrays):
                rows = FEW[rank]
                step = draws[rank].standard_normal((len(rows), DIM)).astype(np.float32)
                changes[rank][index][rows] = (array[rows] + step) - array[rows]
        for index, array in enumerate(arrays):
            total = changes[0][index] + changes[1][index]
            if combine == "changed":
                ranks = np.zeros(ROWS, np.float32)
                for rank in range(2):
                    ranks[FEW[rank]] += 1
                total /= np.maximum(ranks, 1)[:, None]
            array += total
    return arrays


@pytest.mark.parametrize("combine", ["sum", "changed"])
def test_the_sync_adds_the_changes_or_averages_them_over_the_ranks_that_made_them(
        ranks: Ranks, combine: str) -> None:
    # "sum": every rank's change added; "changed": row 5, which both ranks
    # changed, moves by the mean of their changes, the others by their one change
    expected = oracle(combine)
    for below in (0.0, 0.5):
        got = [np.frombuffer(b, dtype=np.float32).reshape(ROWS, DIM)
               for b in ranks[0][combine, below, 3]["arrays"]]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=0, atol=1e-6)
    summed, averaged = oracle("sum"), oracle("changed")
    assert not np.allclose(summed[0][5], averaged[0][5]) and np.array_equal(summed[0][1], averaged[0][1])
