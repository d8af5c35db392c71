"""Rows each changed by one rank (GloVe's main rows; with strata, its context
rows), combined by gathering each row from its holder, across 3 real gloo
processes: every row its holder's value exactly, in pieces of any size, for
numpy arrays and torch tensors; rows handed on by `rotate` (in pieces of
any size) gathered from their new holder; no copy of such an array kept; offsets that leave a row
without a holder refused on every rank."""
from typing import Any, Dict, List

import numpy as np
import pytest

from distributed_harness import run_ranks, values

torch = pytest.importorskip("torch", reason="the sync runs on torch.distributed")

WORLD, ROWS, DIM = 3, 10, 2        # 10 rows: the ranks hold 4, 3 and 3 of them
OFFSETS = [2, 0, 1]                # rank r holds the rows OFFSETS[r] :: WORLD
PIECES = [1, 12, 1 << 20]          # bytes a rank sends at a time: a row, 1.5 rows, all
# bytes rotate passes at a time: a row; 3 rows (4 rows to pass: a short last
# piece, and ranks of 3 rows passing nothing in it); all
PASSES = [1, 24, 1 << 20]


def _filled(rank: int, kind: str) -> Any:
    """The array as rank `rank` holds it before the gather: its own rows hold
    100 * rank + the row, the others -1 - rank (stale)."""
    array = np.full((ROWS, DIM), -1.0 - rank, dtype=np.float32)
    mine = np.arange(ROWS)[OFFSETS[rank]::WORLD]
    array[mine] = (100 * rank + mine)[:, None]
    return torch.from_numpy(array) if kind == "torch" else array


def _expected() -> np.ndarray:
    holder = {offset: rank for rank, offset in enumerate(OFFSETS)}
    rows = np.arange(ROWS)
    values = np.array([100 * holder[row % WORLD] + row for row in rows], dtype=np.float32)
    return np.repeat(values[:, None], DIM, axis=1)


def _step(rank: int, k: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([rank, k, epoch]).standard_normal((ROWS, DIM)).astype(np.float32)


def _train_round(arrays: List[np.ndarray], rank: int, k: int, epoch: int) -> None:
    """What rank `rank` changes in step k: its own rows of array 0, the
    stratum (rank + k) % W of array 1 (the rows it holds then), every row of
    array 2."""
    step = _step(rank, k, epoch)
    arrays[0][rank::WORLD] += step[rank::WORLD]
    stratum = (rank + k) % WORLD
    arrays[1][stratum::WORLD] += 2 * step[stratum::WORLD]
    arrays[2] += 0.5 * step


def _start() -> List[np.ndarray]:
    draw = np.random.default_rng(7)
    return [draw.standard_normal((ROWS, DIM)).astype(np.float32) for _ in range(3)]


def _ranks_body(rank: int, world: int) -> Dict[str, Any]:
    import embforge.distributed as d
    from embforge.distributed.held_rows import gather_held_rows
    from embforge.distributed.replicas import Replicas
    group = d.resolve_group(distributed=True)
    assert group is not None
    out: Dict[str, Any] = {"gathered": {}}
    for kind in ("numpy", "torch"):
        for piece in PIECES:
            array = _filled(rank, kind)
            sent = gather_held_rows(array, OFFSETS, group, piece_bytes=piece)
            out["gathered"][kind, piece] = (np.asarray(array).tobytes(), sent)

    # two epochs of W steps: array 0 held by its owner, array 1 by the rank
    # training its stratum (handed on after each step, in pieces of any size),
    # array 2 summed
    from embforge.distributed import replicas as replicas_module
    out["trained"] = {}
    for piece in PASSES:
        replicas_module._PASS_PIECE_BYTES = piece
        replicas = Replicas(group, "sum")
        arrays = _start()
        replicas.start(arrays, held=(rank, rank, None))
        out["copies"] = [before is not None for before in replicas._before]
        for epoch in range(2):
            for k in range(WORLD):
                _train_round(arrays, rank, k, epoch)
                if k < WORLD - 1:
                    replicas.sync(arrays, False, only=())
                    stratum = (rank + k) % WORLD
                    replicas.rotate([1], slice(stratum, None, WORLD),
                                    slice((stratum + 1) % WORLD, None, WORLD))
            replicas.sync(arrays, False)
        out["trained"][piece] = [a.tobytes() for a in arrays]

    # offsets that give two ranks the same rows, an array held on some
    # ranks only: refused on every rank when training starts
    arrays = _start()
    for case, held in (("refused", (0,)), ("some", (rank,) if rank else (None,))):
        try:
            Replicas(group, "sum").start(arrays[:1], held=held)
            out[case] = None
        except ValueError as error:
            out[case] = str(error)
    # held rows are combined whole, not the first rows of them
    replicas = Replicas(group, "sum")
    replicas.start(arrays[:2], held=(rank, None))
    try:
        replicas.sync(arrays[:2], False, rows=4)
        out["rows"] = None
    except ValueError as error:
        out["rows"] = str(error)
    # handing on rows this rank does not hold, or rows that are not one
    # rank's: refused before anything is sent
    wrong = Replicas(group, "sum")
    wrong.start(arrays[:1], held=(rank,))
    plain = Replicas(group, "sum")
    plain.start(arrays[:1])  # rows any rank changes: only the step would tell
    for case, replicas, sent in (("rotate", wrong, slice((rank + 1) % WORLD, None, WORLD)),
                                 ("rotate step", wrong, slice(rank, None, 1)),
                                 ("rotate all", plain, slice(0, None))):
        try:
            replicas.rotate([0], sent, slice(rank, None, WORLD))
            out[case] = None
        except ValueError as error:
            out[case] = str(error)
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: Any) -> List[Dict[str, Any]]:
    return values(run_ranks(_ranks_body, tmp_path_factory.mktemp("held-rows"), WORLD,
                            timeout=120))


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("piece", PIECES)
def test_every_row_is_its_holder_s_exactly(ranks: List[Dict[str, Any]], kind: str,
                                           piece: int) -> None:
    expected = _expected()
    most = -(-ROWS // WORLD)  # 4 rows: what every rank sends, the short ones padded
    for rank in ranks:
        data, sent = rank["gathered"][kind, piece]
        np.testing.assert_array_equal(np.frombuffer(data, np.float32).reshape(ROWS, DIM),
                                      expected)
        assert sent == most * DIM * 4


def _oracle() -> List[np.ndarray]:
    """One process applying every rank's steps in turn: arrays 0 and 1 as
    the ranks change them (no two change the same row in a step), array 2
    as the sum of the ranks' changes since the last sync."""
    model = _start()
    for epoch in range(2):
        base = model[2].copy()
        copies = [model[2].copy() for _ in range(WORLD)]
        for k in range(WORLD):
            for rank in range(WORLD):
                arrays = [model[0], model[1], copies[rank]]
                _train_round(arrays, rank, k, epoch)
        model[2] = base + sum(copy - base for copy in copies)
    return model


@pytest.mark.parametrize("piece", PASSES)
def test_handed_on_rows_are_gathered_from_their_new_holder(ranks: List[Dict[str, Any]],
                                                           piece: int) -> None:
    oracle = _oracle()
    for rank in ranks:
        trained = [np.frombuffer(data, np.float32).reshape(ROWS, DIM)
                   for data in rank["trained"][piece]]
        np.testing.assert_array_equal(trained[0], oracle[0])  # its owner's, bit for bit
        np.testing.assert_array_equal(trained[1], oracle[1])  # its last stratum's rank's
        # the summed array: the ranks' changes added in the collective's order
        np.testing.assert_allclose(trained[2], oracle[2], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(trained[2], np.frombuffer(ranks[0]["trained"][piece][2],
                                                                np.float32).reshape(ROWS, DIM))


def test_no_copy_is_kept_of_an_array_of_held_rows(ranks: List[Dict[str, Any]]) -> None:
    for rank in ranks:
        assert rank["copies"] == [False, False, True]


def test_rows_without_a_holder_are_refused_on_every_rank(ranks: List[Dict[str, Any]]) -> None:
    for rank in ranks:
        assert rank["refused"] is not None and "[0, 0, 0]" in rank["refused"]
        assert rank["some"] == ("array 0 is held on some ranks only: offsets [-1, 1, 2] (rank "
                                "order; -1: not held)")


def test_held_rows_are_not_combined_in_part(ranks: List[Dict[str, Any]]) -> None:
    for rank in ranks:
        assert rank["rows"] == ("arrays [0] have held rows: they are combined whole, not their "
                                "first 4 rows")


def test_rows_this_rank_does_not_hold_cannot_be_handed_on(ranks: List[Dict[str, Any]]) -> None:
    for index, rank in enumerate(ranks):
        assert rank["rotate"] is not None and f"holds rows {index}::{WORLD}" in rank["rotate"]
        for case in ("rotate step", "rotate all"):
            assert rank[case] is not None and "rotate passes rows q::3" in rank[case], case


def test_held_offsets_are_checked_when_training_starts() -> None:
    import types
    from embforge.distributed.replicas import Alone, Replicas
    group = types.SimpleNamespace(rank=0, world_size=2)
    replicas = Replicas(group, "sum")  # type: ignore[arg-type]  # checked before any collective
    arrays = [np.zeros((4, 2), np.float32)]
    with pytest.raises(ValueError, match="one entry an array"):
        replicas.start(arrays, held=(0, 1))
    with pytest.raises(ValueError, match=r"in \[0, 2\), got 2"):
        replicas.start(arrays, held=(2,))
    Alone().start(arrays, held=(0,))  # one process: nothing to hold
