"""Syncs of some of the arrays only (`only=`, GloVe's context rows within an
epoch), across 2 real gloo processes: the arrays left out keep their
changes, unsent, until a sync that includes them, which then combines every
change since the last one; and a stop during a partial sync combines
everything, so every rank leaves with one model."""
from typing import Any, Dict, List

import numpy as np
import pytest

from distributed_harness import run_ranks, values

pytest.importorskip("torch", reason="the sync runs on torch.distributed")

ROWS, DIM, ARRAYS = 12, 3, 3
PARTIAL = 3   # syncs of array 1 only, then one of all three
ONLY = [1]


def _step(draw: np.random.Generator) -> np.ndarray:
    return draw.standard_normal((ROWS, DIM)).astype(np.float32)


def _synced(rank: int, world: int) -> Dict[str, Any]:
    import embforge.distributed as d
    from embforge.distributed.replicas import Replicas
    group = d.resolve_group(distributed=True)
    assert group is not None
    out: Dict[str, Any] = {}
    for case in ("partial", "stop"):
        replicas = Replicas(group, "sum", sparse_below=0.0)
        arrays = [_step(np.random.default_rng(7 + index)) for index in range(ARRAYS)]
        replicas.start(arrays)
        draw = np.random.default_rng(100 + rank)
        sent, stopped, middle = [], [], None
        for k in range(PARTIAL + 1):
            for array in arrays:
                array += _step(draw)
            ask = case == "stop" and rank == 1 and k == 1
            before = replicas.bytes_sent
            stopped.append(replicas.sync(arrays, ask, only=None if k == PARTIAL else ONLY))
            sent.append(replicas.bytes_sent - before)
            if k == PARTIAL - 1:
                middle = [a.tobytes() for a in arrays]
            if stopped[-1]:
                break
        out[case] = {"arrays": [a.tobytes() for a in arrays], "middle": middle, "sent": sent,
                     "stopped": stopped}
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: Any) -> List[Dict[str, Any]]:
    return values(run_ranks(_synced, tmp_path_factory.mktemp("partial-sync")))


def _as_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32).reshape(ROWS, DIM)


def _oracle(syncs: int) -> List[List[np.ndarray]]:
    """Each rank's arrays after `syncs` rounds of steps: array 1 summed over
    the ranks at every round, the others only at the last (round PARTIAL)."""
    start = [_step(np.random.default_rng(7 + index)) for index in range(ARRAYS)]
    copies = [[a.copy() for a in start] for _ in range(2)]
    base = [a.copy() for a in start]
    draws = [np.random.default_rng(100 + rank) for rank in range(2)]
    for k in range(syncs):
        for rank in range(2):
            for array in copies[rank]:
                array += _step(draws[rank])
        for index in (range(ARRAYS) if k == PARTIAL else ONLY):
            merged = (copies[0][index] - base[index]) + (copies[1][index] - base[index]) + base[index]
            for rank in range(2):
                copies[rank][index][...] = merged
            base[index] = merged
    return copies


def test_arrays_left_out_keep_their_changes_until_a_sync_includes_them(
        ranks: List[Dict[str, Any]]) -> None:
    middle = [[_as_array(b) for b in r["partial"]["middle"]] for r in ranks]
    expected = _oracle(PARTIAL)
    for rank in range(2):
        for index in range(ARRAYS):
            np.testing.assert_allclose(middle[rank][index], expected[rank][index], rtol=0, atol=1e-5)
    # mid-way only array 1 is the same on both ranks
    assert np.array_equal(middle[0][1], middle[1][1])
    assert not np.array_equal(middle[0][0], middle[1][0])
    final = [[_as_array(b) for b in r["partial"]["arrays"]] for r in ranks]
    assert ranks[0]["partial"]["arrays"] == ranks[1]["partial"]["arrays"]
    for index in range(ARRAYS):
        np.testing.assert_allclose(final[0][index], _oracle(PARTIAL + 1)[0][index], rtol=0, atol=1e-5)
    # the stop flag, then one array's values; the last sync all three
    one = ROWS * DIM * 4
    assert ranks[0]["partial"]["sent"] == [1 + one] * PARTIAL + [1 + ARRAYS * one]


def test_a_stop_in_a_partial_sync_combines_every_array(ranks: List[Dict[str, Any]]) -> None:
    for rank in ranks:
        assert rank["stop"]["stopped"] == [False, True]
    assert ranks[0]["stop"]["arrays"] == ranks[1]["stop"]["arrays"]
    # every array holds both ranks' changes of both rounds
    final = [_as_array(b) for b in ranks[0]["stop"]["arrays"]]
    start = [_step(np.random.default_rng(7 + index)) for index in range(ARRAYS)]
    draws = [np.random.default_rng(100 + rank) for rank in range(2)]
    steps = [[[_step(draws[rank]) for _ in range(ARRAYS)] for _ in range(2)] for rank in range(2)]
    for index in range(ARRAYS):
        total = start[index] + sum(steps[rank][k][index] for rank in range(2) for k in range(2))
        np.testing.assert_allclose(final[index], total, rtol=0, atol=1e-5)
