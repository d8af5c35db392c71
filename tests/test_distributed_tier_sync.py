"""Syncs of the first rows (Word2Vec's hot tiers) in one all-reduce, across 2
real gloo processes: after one look at the changed-row flags finds most of
the tier's rows changed, the next syncs of that tier send both arrays'
changes and the stop flag in one buffer, with the same result; every
_PROBE_EVERY-th sync of the tier looks at the flags again. The first rows
averaged instead of summed (Word2Vec's hot_average_rows), on every path,
and moved by a velocity (average_momentum) that a whole sync starts afresh."""
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from distributed_harness import run_ranks, values

pytest.importorskip("torch", reason="the sync runs on torch.distributed")

ROWS, DIM, TIER = 40, 6, 8
SYNCS = 18            # tier syncs, then one whole sync
STOP_AT = 5           # the tier sync at which rank 1 asks to stop (stop case)
OUTSIDE = [[20], [25]]  # rows past the tier each rank also changes
AVERAGED = 3          # rows averaged, not summed, in the "first averaged" case
MOMENTUM = 0.5        # their velocity's momentum in the "momentum" case ...
MIDDLE = 9            # ... which also syncs everything at this sync
CASES = ("sum", "average", "stop", "no flags", "sum, first averaged", "momentum")


def _rows(rank: int) -> List[int]:
    return list(range(TIER)) + OUTSIDE[rank]


def _synced(rank: int, world: int) -> Dict[str, Any]:
    import embforge.distributed as d
    from embforge.distributed import replicas as R
    group = d.resolve_group(distributed=True)
    assert group is not None
    out: Dict[str, Any] = {"probe_every": R._PROBE_EVERY}
    for case in CASES:
        combine = "average" if case == "average" else "sum"
        replicas = R.Replicas(group, combine, sparse_below=0.0 if case == "no flags" else 0.5,
                              average_first=AVERAGED if "averaged" in case or case == "momentum" else 0,
                              average_momentum=MOMENTUM if case == "momentum" else 0.0)
        start = np.random.default_rng(7)
        arrays = [start.standard_normal((ROWS, DIM)).astype(np.float32) for _ in range(2)]
        replicas.start(arrays)
        mine = np.random.default_rng(100 + rank)
        rounds, stopped, after_tiers = [], [], None
        for k in range(SYNCS + 1):
            for array in arrays:
                array[_rows(rank)] += mine.standard_normal((len(_rows(rank)), DIM)).astype(np.float32)
            used = replicas.all_reduces
            ask = case == "stop" and rank == 1 and k == STOP_AT
            whole = k == SYNCS or (case == "momentum" and k == MIDDLE)
            stopped.append(replicas.sync(arrays, ask, rows=None if whole else TIER))
            rounds.append(replicas.all_reduces - used)
            if k == SYNCS - 1:
                after_tiers = [a.tobytes() for a in arrays]
            if stopped[-1]:
                break
        out[case] = {"arrays": [a.tobytes() for a in arrays], "rounds": rounds,
                     "stopped": stopped, "after_tiers": after_tiers}
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: Any) -> List[Dict[str, Any]]:
    return values(run_ranks(_synced, tmp_path_factory.mktemp("tier-sync")))


def _oracle(combine: str, syncs: int, averaged: int = 0, momentum: float = 0.0,
            wholes: Tuple[int, ...] = (), reset: bool = True) -> List[np.ndarray]:
    """The same steps and syncs in numpy: a tier sync combines the first TIER
    rows (sum of the changes, the first `averaged` rows' halved and, with
    `momentum`, added to their velocity, which moves them; or the mean of the
    values), a whole sync (the last, and those in `wholes`) all rows, after
    which the velocities are zero (unless not `reset`); each rank keeps its own rows past the tier
    until then."""
    start = np.random.default_rng(7)
    base = [start.standard_normal((ROWS, DIM)).astype(np.float32) for _ in range(2)]
    copies = [[b.copy() for b in base] for _ in range(2)]
    draws = [np.random.default_rng(100 + rank) for rank in range(2)]
    velocity = [np.zeros((averaged, DIM), np.float32) for _ in range(2)]
    for k in range(syncs + 1):
        for rank in range(2):
            for array in copies[rank]:
                array[_rows(rank)] += draws[rank].standard_normal(
                    (len(_rows(rank)), DIM)).astype(np.float32)
        whole = k == syncs or k in wholes
        rows = slice(None) if whole else slice(0, TIER)
        for index in range(2):
            mine = [copies[rank][index][rows] for rank in range(2)]
            if combine == "average":
                merged = (mine[0] + mine[1]) / np.float32(2)
            else:
                was = base[index][rows]
                summed = (mine[0] - was) + (mine[1] - was)
                summed[:averaged] /= np.float32(2)
                if momentum:
                    velocity[index] = velocity[index] * np.float32(momentum) + summed[:averaged]
                    summed[:averaged] = velocity[index]
                merged = summed + was
            for rank in range(2):
                copies[rank][index][rows] = merged
            base[index][rows] = merged
        if whole and reset:
            velocity = [np.zeros_like(v) for v in velocity]
    return copies[0]


@pytest.mark.parametrize("case", ["sum", "average", "no flags", "sum, first averaged"])
def test_tier_syncs_after_the_first_go_in_one_all_reduce_with_the_same_model(
        ranks: List[Dict[str, Any]], case: str) -> None:
    got = ranks[0][case]
    assert got["arrays"] == ranks[1][case]["arrays"]
    expected = _oracle("average" if case == "average" else "sum", SYNCS,
                       AVERAGED if case == "sum, first averaged" else 0)
    for g, e in zip(got["arrays"], expected):
        np.testing.assert_allclose(np.frombuffer(g, dtype=np.float32).reshape(ROWS, DIM), e,
                                   rtol=0, atol=1e-6)
    probe = ranks[0]["probe_every"]
    assert 1 < probe < SYNCS  # the test sees a second look at the flags
    if case == "no flags":  # nothing to look at: every tier sync is one all-reduce
        tiers = [1] * SYNCS
    else:  # the flags with the stop flag, then one per array; the tier was busy: at once
        tiers = [3 if k % probe == 0 else 1 for k in range(SYNCS)]
    # the whole model: the flags (or the stop flag alone), then array by array
    assert got["rounds"] == ranks[1][case]["rounds"] == tiers + [3]
    assert not any(got["stopped"])


def test_the_first_rows_averaged_move_by_the_mean_of_the_changes(
        ranks: List[Dict[str, Any]]) -> None:
    # through every path: the flags then whole arrays (first tier sync), one
    # buffer (the next ones), changed rows only (the whole sync: 10 of 40)
    summed, averaged = _oracle("sum", SYNCS), _oracle("sum", SYNCS, AVERAGED)
    got = np.frombuffer(ranks[0]["sum, first averaged"]["arrays"][0],
                        dtype=np.float32).reshape(ROWS, DIM)
    assert not np.allclose(got[:AVERAGED], summed[0][:AVERAGED])
    np.testing.assert_allclose(got, averaged[0], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(averaged[0][AVERAGED:TIER], summed[0][AVERAGED:TIER])


def test_rows_past_the_tier_wait_for_the_whole_sync(ranks: List[Dict[str, Any]]) -> None:
    for case in ("sum", "no flags"):
        tiers = [np.frombuffer(r[case]["after_tiers"][0], dtype=np.float32).reshape(ROWS, DIM)
                 for r in ranks]
        assert np.array_equal(tiers[0][:TIER], tiers[1][:TIER])
        assert not np.array_equal(tiers[0][20], tiers[1][20])
        assert not np.array_equal(tiers[0][25], tiers[1][25])
        assert np.array_equal(tiers[0][TIER:20], tiers[1][TIER:20])  # nobody changed those


def test_a_stop_asked_in_a_one_all_reduce_sync_stops_every_rank_with_equal_models(
        ranks: List[Dict[str, Any]]) -> None:
    for rank in ranks:
        got = rank["stop"]
        # the tier sync at STOP_AT went at once, saw rank 1's stop, then every row went
        assert got["stopped"] == [False] * STOP_AT + [True]
        assert got["rounds"][1:STOP_AT] == [1] * (STOP_AT - 1)
        assert got["rounds"][STOP_AT] == 1 + 3
    assert ranks[0]["stop"]["arrays"] == ranks[1]["stop"]["arrays"]


def test_the_first_rows_averaged_with_momentum_move_by_their_velocity(
        ranks: List[Dict[str, Any]]) -> None:
    # tier syncs at once and through the flags, a whole sync in the middle
    # (changed rows only) that starts the velocities afresh, and the last
    got = [np.frombuffer(ranks[0]["momentum"]["arrays"][i], dtype=np.float32).reshape(ROWS, DIM)
           for i in range(2)]
    assert ranks[0]["momentum"]["arrays"] == ranks[1]["momentum"]["arrays"]
    expected = _oracle("sum", SYNCS, AVERAGED, MOMENTUM, wholes=(MIDDLE,))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5)
    # the velocity mattered, and so did starting it afresh
    plain = _oracle("sum", SYNCS, AVERAGED, wholes=(MIDDLE,))
    kept = _oracle("sum", SYNCS, AVERAGED, MOMENTUM, wholes=(MIDDLE,), reset=False)
    assert np.abs(got[0][:AVERAGED] - plain[0][:AVERAGED]).max() > 0.1
    assert np.abs(expected[0][:AVERAGED] - kept[0][:AVERAGED]).max() > 0.1
    np.testing.assert_array_equal(expected[0][AVERAGED:], plain[0][AVERAGED:])
