"""Changes sent as float16 (sync_dtype="float16"), across 2 real gloo
processes: on every path a sync can take (whole arrays, changed rows only,
a tier in one buffer) and with every combine, the model is the one the
float16-rounded changes give, in half the bytes; torch tensors (the CUDA
backend's arrays) get the very same model as numpy arrays; and a change past
float16's range is clipped, not turned into infinities."""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest

from distributed_harness import run_ranks, values

pytest.importorskip("torch", reason="the sync runs on torch.distributed")

ROWS, DIM, TIER = 40, 6, 8
FEW = [[1, 5, 30], [5, 9]]   # rows each rank changes in the "rows" path
STEP = 0.1                   # steps large enough that float16's rounding shows (ulp 6e-5 at 0.1)
HUGE = 1e6                   # a change past float16's range (65504)
# path: (sparse_below, rows synced, rows each rank changes)
PATHS: Dict[str, Tuple[float, Optional[int], Optional[List[List[int]]]]] = {
    "whole": (0.0, None, None),
    "rows": (0.5, None, FEW),
    "at once": (0.0, TIER, None),
}
CASES = [(combine, path) for combine in ("sum", "average", "changed") for path in PATHS
         if not (combine == "changed" and path == "at once")]  # "changed" needs the flags


def _touched(path: str, rank: int) -> List[int]:
    few = PATHS[path][2]
    rows = PATHS[path][1] or ROWS
    return few[rank] if few else list(range(rows))


def _synced(rank: int, world: int) -> Dict[Any, Any]:
    import embforge.distributed as d
    from embforge.distributed.replicas import Replicas
    group = d.resolve_group(distributed=True)
    assert group is not None
    out: Dict[Any, Any] = {}
    for dtype in ("float32", "float16"):
        for combine, path in CASES:
            below, rows, _ = PATHS[path]
            replicas = Replicas(group, combine, sparse_below=below, sync_dtype=dtype)
            arrays = [np.random.default_rng(7).standard_normal((ROWS, DIM)).astype(np.float32)
                      for _ in range(2)]
            replicas.start(arrays)
            mine = np.random.default_rng(100 + rank)
            touched = _touched(path, rank)
            for array in arrays:
                array[touched] += STEP * mine.standard_normal((len(touched), DIM)).astype(np.float32)
            replicas.sync(arrays, stop=False, rows=rows)
            out[dtype, combine, path] = {"arrays": [a.tobytes() for a in arrays],
                                         "bytes": replicas.bytes_sent}
    # the same steps on torch tensors (CPU here; the CUDA backend's are on
    # the GPU): the torch side of the casts, the buffer and the flag
    import torch
    for dtype in ("float32", "float16"):
        for path in ("whole", "at once"):
            below, rows, _ = PATHS[path]
            replicas = Replicas(group, "sum", sparse_below=below, sync_dtype=dtype)
            tensors = [torch.tensor(np.random.default_rng(7).standard_normal((ROWS, DIM)),
                                    dtype=torch.float32) for _ in range(2)]
            replicas.start(tensors)
            mine = np.random.default_rng(100 + rank)
            touched = _touched(path, rank)
            for tensor in tensors:
                step = STEP * mine.standard_normal((len(touched), DIM)).astype(np.float32)
                tensor[touched] += torch.from_numpy(step)
            replicas.sync(tensors, stop=False, rows=rows)
            out["torch", dtype, path] = [t.numpy().tobytes() for t in tensors]
    # a change far past float16's range, on rank 0's row 3 only
    replicas = Replicas(group, "sum", sparse_below=0.0, sync_dtype="float16")
    array = np.zeros((ROWS, DIM), np.float32)
    replicas.start([array])
    if rank == 0:
        array[3, 0] = HUGE
    replicas.sync([array], stop=False)
    out["huge"] = array.tobytes()
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: Any) -> List[Dict[Any, Any]]:
    return values(run_ranks(_synced, tmp_path_factory.mktemp("half-sync")))


def _oracle(combine: str, path: str, half: bool) -> np.ndarray:
    """The first array after the sync, in numpy: each rank's change (rounded
    to float16 when `half`), summed (in float16: one rounding), then divided
    as the combine says and added to the start."""
    start = np.random.default_rng(7).standard_normal((ROWS, DIM)).astype(np.float32)
    changes = []
    for rank in range(2):
        draw = np.random.default_rng(100 + rank)
        touched = _touched(path, rank)
        mine = start.copy()
        mine[touched] += STEP * draw.standard_normal((len(touched), DIM)).astype(np.float32)
        changes.append(mine - start)
    rows = PATHS[path][1] or ROWS
    if half:
        total = (changes[0].astype(np.float16) + changes[1].astype(np.float16)).astype(np.float32)
    else:
        total = changes[0] + changes[1]
    if combine == "average":
        total /= np.float32(2)
    elif combine == "changed":
        count = sum((c != 0).any(axis=1).astype(np.float32) for c in changes)
        total /= np.maximum(count, 1)[:, None]
    merged = start.copy()
    merged[:rows] = start[:rows] + total[:rows]
    return merged


@pytest.mark.parametrize("combine,path", CASES)
def test_float16_changes_give_the_model_their_rounding_gives(
        ranks: List[Dict[Any, Any]], combine: str, path: str) -> None:
    got = ranks[0]["float16", combine, path]
    assert got["arrays"] == ranks[1]["float16", combine, path]["arrays"]  # one model on every rank
    first = np.frombuffer(got["arrays"][0], dtype=np.float32).reshape(ROWS, DIM)
    # float32 arithmetic around the float16 sum: a few float32 ulps of values ~1
    np.testing.assert_allclose(first, _oracle(combine, path, half=True), rtol=0, atol=1e-6)
    # and not the float32 sync's model: the rounding of the changes shows
    exact = np.frombuffer(ranks[0]["float32", combine, path]["arrays"][0],
                          dtype=np.float32).reshape(ROWS, DIM)
    np.testing.assert_allclose(exact, _oracle(combine, path, half=False), rtol=0, atol=1e-6)
    assert np.abs(first - exact).max() > 1e-5
    # three float16 roundings (each rank's change, their sum) of changes under 1: at most 3 x 2^-12
    assert np.abs(first - exact).max() < 1e-3


@pytest.mark.parametrize("combine,path", CASES)
def test_float16_changes_take_half_the_bytes(ranks: List[Dict[Any, Any]], combine: str,
                                             path: str) -> None:
    half, full = ranks[0]["float16", combine, path]["bytes"], ranks[0]["float32", combine, path]["bytes"]
    if path == "rows":  # one byte a row of flags (both arrays), then the 4 rows' values
        flags = 1 + 2 * ROWS
        assert (full - flags, half - flags) == (2 * 4 * DIM * 4, 2 * 4 * DIM * 2)
    elif path == "at once":  # both arrays' tier and the stop flag, in one buffer
        assert (full, half) == ((2 * TIER * DIM + 1) * 4, (2 * TIER * DIM + 1) * 2)
    else:  # the stop flag (with counts for "changed") then both arrays whole
        flags = 1 + (2 * ROWS if combine == "changed" else 0)
        assert (full - flags, half - flags) == (2 * ROWS * DIM * 4, 2 * ROWS * DIM * 2)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("path", ["whole", "at once"])
def test_torch_tensors_sync_to_the_same_model_as_numpy_arrays(
        ranks: List[Dict[Any, Any]], dtype: str, path: str) -> None:
    for rank in ranks:
        assert rank["torch", dtype, path] == rank[dtype, "sum", path]["arrays"]


def test_a_change_past_float16s_range_is_clipped_not_infinite(ranks: List[Dict[Any, Any]]) -> None:
    for rank in ranks:
        array = np.frombuffer(rank["huge"], dtype=np.float32).reshape(ROWS, DIM)
        assert np.isfinite(array).all()
        # clipped to 60,000 / 2 ranks, so that the two ranks' changes sum to a finite float16
        assert array[3, 0] == 30000.0
        assert np.count_nonzero(array) == 1
