"""The CUDA co-occurrence count: its chunk loop and pair code run on the CPU
through the test-built emulation against the CPU backend (bit for bit), the
same check on every device (conftest.DEVICES), and real-GPU checks.
"""
import numpy as np
import pytest

from conftest import needs_gpu
from cuda_common import cpu_cooccur, device_array_module, small_corpus, to_host


# ----------------------------------------------------- co-occurrence, emulated
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("distance_weighting", [True, False])
@pytest.mark.parametrize("window,capacity", [(1, 8), (3, 200), (10, 1000), (10, 1 << 20)])
def test_emulated_cooccur_equals_cpu(emulation, toy, tmp_path, symmetric, distance_weighting, window, capacity):
    """The chunk loop folds chunks into one matrix: bit for bit the CPU's,
    for any number of chunks (fixed-point sums)."""
    ids, offsets, vocab_size, _ = small_corpus(toy, 400)
    kw = dict(window=window, symmetric=symmetric, distance_weighting=distance_weighting)
    rows, cols, values, stats = cpu_cooccur(ids, offsets, vocab_size, tmp_path, **kw)
    capacity = max(capacity, 2 * len(rows) + 16 * window)  # the matrix must fit the budget
    r, c, v, s = emulation.emulate_cooccur(ids, offsets, vocab_size, capacity=capacity, **kw)
    np.testing.assert_array_equal(r, rows)
    np.testing.assert_array_equal(c, cols)
    np.testing.assert_array_equal(v.view(np.uint32), values.view(np.uint32))
    assert s["pair_updates"] == stats["pair_updates"]
    assert s["fraction_bits"] == stats["fraction_bits"]


def test_emulated_cooccur_edge_cases(emulation, tmp_path):
    # empty sentences, one-word sentences, a word next to itself
    ids = np.array([0, 0, 1, 2, 2, 2, 1], dtype=np.uint32)
    offsets = np.array([0, 0, 1, 1, 4, 7, 7], dtype=np.int64)
    for symmetric in (True, False):
        kw = dict(window=2, symmetric=symmetric, distance_weighting=True)
        expected = cpu_cooccur(ids, offsets, 3, tmp_path, **kw)
        got = emulation.emulate_cooccur(ids, offsets, 3, capacity=64, **kw)
        for a, b in zip(got[:3], expected[:3]):
            np.testing.assert_array_equal(a, b)
    empty = emulation.emulate_cooccur(np.zeros(0, np.uint32), np.zeros(1, np.int64), 3, window=2,
                                  symmetric=True, distance_weighting=True, capacity=64)
    assert all(len(a) == 0 for a in empty[:3])


@pytest.mark.parametrize("symmetric", [True, False])
def test_emulated_cooccur_fills_the_budget(emulation, toy, tmp_path, symmetric):
    """Chunks are merged into the matrix, so the matrix may fill the budget
    up to one position's slots (the symmetric one: twice L, for L + L^T):
    the count goes on with ever smaller chunks and stays the CPU's bit for bit."""
    ids, offsets, vocab_size, _ = small_corpus(toy, 400)
    window = 5
    kw = dict(window=window, symmetric=symmetric, distance_weighting=True)
    left = cpu_cooccur(ids, offsets, vocab_size, tmp_path, **dict(kw, symmetric=False))
    rows, cols, values, stats = cpu_cooccur(ids, offsets, vocab_size, tmp_path, **kw)
    capacity = 2 * len(left[0]) if symmetric else len(left[0]) + window
    r, c, v, s = emulation.emulate_cooccur(ids, offsets, vocab_size, capacity=capacity, **kw)
    np.testing.assert_array_equal(r, rows)
    np.testing.assert_array_equal(c, cols)
    np.testing.assert_array_equal(v.view(np.uint32), values.view(np.uint32))
    assert s["pair_updates"] == stats["pair_updates"] and s["chunks"] > 3
    with pytest.raises(RuntimeError, match="memory budget"):  # one entry less: too small
        emulation.emulate_cooccur(ids, offsets, vocab_size, capacity=capacity - 1, **kw)


def test_emulated_cooccur_budget_too_small_says_so(emulation, toy):
    ids, offsets, vocab_size, _ = small_corpus(toy, 400)
    with pytest.raises(RuntimeError, match="memory budget"):
        emulation.emulate_cooccur(ids, offsets, vocab_size, window=10, symmetric=True,
                                  distance_weighting=True, capacity=400)


def test_emulated_cooccur_honours_stop(emulation, toy):
    ids, offsets, vocab_size, _ = small_corpus(toy, 400)
    r, c, v, s = emulation.emulate_cooccur(ids, offsets, vocab_size, window=5, symmetric=True,
                                           distance_weighting=True, capacity=1 << 16, stop=True)
    assert s["stopped"] and len(r) == 0 and s["ids_processed"] == 0


# ------------------------------------- speed variants (Launch.variant), emulated
NARROW, COMPACT = 32, 64  # launch.h: kNarrowKeys, kCompactPairs


def assert_same_matrix(got, expected):
    for a, b in zip(got[:3], expected[:3]):
        np.testing.assert_array_equal(np.asarray(a).view(np.uint32), np.asarray(b).view(np.uint32))


@pytest.mark.parametrize("variant", [NARROW, COMPACT, NARROW | COMPACT])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("window,capacity", [(1, 8), (4, 300), (10, 1 << 20)])
def test_emulated_cooccur_variants_equal_cpu(emulation, toy, tmp_path, variant, symmetric, window, capacity):
    """32-bit keys (the toy vocabulary's keys fit) and compacted pairs change
    the sort's input, never the matrix: the CPU's bit for bit, over one or
    many chunks, with as many pair updates."""
    ids, offsets, vocab_size, _ = small_corpus(toy, 400)
    kw = dict(window=window, symmetric=symmetric, distance_weighting=True)
    expected = cpu_cooccur(ids, offsets, vocab_size, tmp_path, **kw)
    capacity = max(capacity, 2 * len(expected[0]) + 16 * window)
    got = emulation.emulate_cooccur(ids, offsets, vocab_size, capacity=capacity, variant=variant, **kw)
    assert_same_matrix(got, expected)
    assert got[3]["pair_updates"] == expected[3]["pair_updates"]
    assert got[3]["narrow_keys"] == bool(variant & NARROW)
    if capacity < 1000:
        assert got[3]["chunks"] > 3


@pytest.mark.parametrize("vocab_size,narrow", [(65535, True), (65536, False), (100_000, False)])
@pytest.mark.parametrize("variant", [NARROW, NARROW | COMPACT])
def test_emulated_cooccur_narrow_keys_only_where_they_fit(emulation, tmp_path, vocab_size, narrow, variant):
    """32-bit keys need vocab^2 (the empty key) < 2^32: up to 65,535 words.
    The largest ids there give the largest keys (65534 * 65535 + 65534);
    beyond it the count keeps 64-bit keys. Either way the CPU's matrix."""
    rng = np.random.default_rng(vocab_size)
    ids = np.concatenate([np.full(6, vocab_size - 1), rng.integers(vocab_size - 40, vocab_size, 300),
                          rng.integers(0, vocab_size, 300)]).astype(np.uint32)
    offsets = np.array([0, 6, 6, 7, 250, 600, 606], dtype=np.int64)
    for symmetric in (True, False):
        kw = dict(window=3, symmetric=symmetric, distance_weighting=True)
        expected = cpu_cooccur(ids, offsets, vocab_size, tmp_path, **kw)
        got = emulation.emulate_cooccur(ids, offsets, vocab_size, capacity=4000, variant=variant, **kw)
        assert got[3]["narrow_keys"] is narrow
        assert_same_matrix(got, expected)
        assert got[0][-1] == vocab_size - 1  # the largest row made it through


def test_emulated_cooccur_compact_edge_cases(emulation, tmp_path):
    """Compaction with positions that emit nothing (empty and one-word
    sentences, sentence ends) and a chunk of nothing but those."""
    ids = np.array([0, 0, 1, 2, 2, 2, 1, 1], dtype=np.uint32)
    offsets = np.array([0, 0, 1, 2, 2, 5, 8], dtype=np.int64)
    for variant in (COMPACT, NARROW | COMPACT):
        for capacity in (16, 64):
            kw = dict(window=2, symmetric=True, distance_weighting=True)
            got = emulation.emulate_cooccur(ids, offsets, 3, capacity=capacity, variant=variant, **kw)
            assert_same_matrix(got, cpu_cooccur(ids, offsets, 3, tmp_path, **kw))


def test_backend_cooccur_passes_the_variant(emulation, fake_device, toy, tmp_path):
    """count_cooccurrences(variant=...) reaches the launcher's Launch and the
    matrix stays the CPU's."""
    from embforge import _native
    ids, offsets, vocab_size, _ = small_corpus(toy, 200)
    kw = dict(window=5, symmetric=True, distance_weighting=True)
    rows, cols, values, stats = fake_device.count_cooccurrences(ids, offsets, vocab_size,
                                                                variant=NARROW | COMPACT, **kw)
    assert _native.cuda_module().launches[-1].variant == NARROW | COMPACT
    assert_same_matrix((to_host(rows), to_host(cols), to_host(values)),
                       cpu_cooccur(ids, offsets, vocab_size, tmp_path, **kw))


# ------------------------------------------------- cpu / cuda, same checks
@pytest.mark.parametrize("symmetric,distance_weighting", [(True, True), (True, False), (False, True)])
def test_cooccur_same_on_both(toy, tmp_path, device, symmetric, distance_weighting):
    """Exact for unweighted counts, and bit for bit for 1/d as well (fixed point)."""
    corpus, _ = toy
    kw = dict(window=10, symmetric=symmetric, distance_weighting=distance_weighting)
    expected = cpu_cooccur(corpus.ids, corpus.offsets, len(corpus.vocab), tmp_path, **kw)
    if device == "cpu":
        got = cpu_cooccur(corpus.ids, corpus.offsets, len(corpus.vocab), tmp_path, **kw)
    else:
        from embforge.backends import cuda_launch
        got = cuda_launch.count_cooccurrences(corpus.ids, corpus.offsets, len(corpus.vocab),
                                               memory_bytes=4 << 20, **kw)
        assert all(device_array_module().is_device_array(a) for a in got[:3])
        got = tuple(to_host(a) for a in got[:3]) + (got[3],)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2].view(np.uint32), expected[2].view(np.uint32))
    assert got[3]["pair_updates"] == expected[3]["pair_updates"]


@pytest.mark.cuda
@needs_gpu
def test_cuda_cooccur_many_chunks_and_budget_error(toy, tmp_path):
    from embforge.backends import cuda_launch
    corpus, _ = toy
    kw = dict(window=5, symmetric=True, distance_weighting=True)
    expected = cpu_cooccur(corpus.ids, corpus.offsets, len(corpus.vocab), tmp_path, **kw)
    # a workspace just big enough for the matrix: many chunks
    budget = 32 * (4 * len(expected[0]) + 64) + (1 << 20)
    got = cuda_launch.count_cooccurrences(corpus.ids, corpus.offsets, len(corpus.vocab),
                                           memory_bytes=budget, **kw)
    assert got[3]["chunks"] > 1
    np.testing.assert_array_equal(to_host(got[2]).view(np.uint32), expected[2].view(np.uint32))
    with pytest.raises((RuntimeError, ValueError), match="budget|too small"):
        cuda_launch.count_cooccurrences(corpus.ids, corpus.offsets, len(corpus.vocab),
                                         memory_bytes=64 << 10, **kw)
