"""pytest-benchmark timings of the co-occurrence and GloVe kernels on synthetic data.

    nice -n 5 python -m pytest bench/bench_glove_kernels.py --benchmark-only -q

A Zipf-distributed id stream (1M ids, 50k words, sentences of 20) stands in
for text, so the dense table, the runs and the AdaGrad rows see a realistic
skew; no ../shared data needed. Figures are per call; compare runs on the
same machine (see bench/bench_glove.py for the real corpus).
"""
import tempfile

import numpy as np
import pytest

from embforge._native import core

N_IDS = 1_000_000
VOCAB = 50_000


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(0)
    ids = (np.minimum(rng.zipf(1.1, N_IDS), VOCAB) - 1).astype(np.uint32)
    offsets = np.arange(0, N_IDS + 1, 20, dtype=np.int64)
    return ids, offsets


def count(stream, workers, memory, max_product=-1):
    ids, offsets = stream
    with tempfile.TemporaryDirectory() as spill:
        params = core.CooccurParams(window=10, symmetric=True, distance_weighting=True,
                                    workers=workers, memory_bytes=memory, temp_dir=spill,
                                    max_product=max_product)
        return core.count_cooccurrences(ids, offsets, VOCAB, params)


@pytest.fixture(scope="module")
def matrix(stream):
    return count(stream, 2, 1 << 30)


@pytest.mark.parametrize("workers", [1, 2])
def test_count_in_memory(benchmark, stream, workers):
    rows, _, _, stats = benchmark(count, stream, workers, 1 << 30)
    assert stats["spilled_runs"] == 0 and len(rows) > 0


def test_count_without_dense_table(benchmark, stream):
    _, _, _, stats = benchmark(count, stream, 2, 1 << 30, 0)
    assert stats["dense_updates"] == 0


def test_count_spilling(benchmark, stream):
    _, _, _, stats = benchmark(count, stream, 2, 8 << 20)
    assert stats["spilled_runs"] > 0


def test_make_pairs(benchmark, matrix):
    rows, cols, values, _ = matrix
    pairs = benchmark(core.make_glove_pairs, rows, cols, values, VOCAB, 100.0, 0.75, 2)
    assert pairs.shape == (len(rows), 4)


def test_shuffle(benchmark, matrix):
    order = np.empty(len(matrix[0]), np.uint32)
    benchmark(core.glove_shuffle, order, 1, 0, 2)


@pytest.mark.parametrize("workers", [1, 2])
def test_train_epoch_d100(benchmark, matrix, workers):
    rows, cols, values, _ = matrix
    pairs = core.make_glove_pairs(rows, cols, values, VOCAB, 100.0, 0.75, 2)
    order = np.empty(len(rows), np.uint32)
    core.glove_shuffle(order, 1, 0, 2)
    weights = np.empty((2 * VOCAB, 101), np.float32)
    gradsq = np.empty_like(weights)
    core.init_glove(weights, gradsq, 1)
    progress = core.Progress()
    params = core.GloveParams(vector_size=100, learning_rate=0.05, grad_clip=100.0, workers=workers)
    stats = benchmark.pedantic(core.train_glove_epoch, args=(pairs, order, weights, gradsq, params),
                               kwargs=dict(progress=progress), rounds=3, iterations=1)
    assert stats["pairs"] == len(rows)
    benchmark.extra_info["pairs"] = len(rows)
