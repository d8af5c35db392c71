"""pytest-benchmark timings of the CPU kernels on synthetic data (no ../shared needed).

    python3 -m pytest bench/test_bench_kernels.py --benchmark-only

Synthetic Zipf-distributed text, so the hash table and the noise sampler see
a realistic skew. Figures are per call; compare runs on the same machine.
"""
import numpy as np
import pytest

from embforge import encode
from embforge._native import core

N_TOKENS = 2_000_000
VOCAB = 50_000


@pytest.fixture(scope="module")
def zipf_text():
    rng = np.random.default_rng(0)
    ids = np.minimum(rng.zipf(1.1, N_TOKENS), VOCAB) - 1
    words = np.array([f"w{i}" for i in range(VOCAB)])
    lines = [" ".join(words[ids[i:i + 20]]) for i in range(0, N_TOKENS, 20)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def zipf_corpus(zipf_text, tmp_path_factory):
    path = tmp_path_factory.mktemp("k") / "zipf.txt"
    path.write_bytes(zipf_text)
    return encode(str(path), min_count=5)


def test_count_and_encode(benchmark, zipf_text):
    def run():
        builder = core.CorpusBuilder()
        builder.feed(zipf_text)
        builder.finish(5)
        return builder
    builder = benchmark(run)
    assert builder.raw_tokens == N_TOKENS


@pytest.mark.parametrize("skip_gram", [True, False], ids=["sgns", "cbow"])
@pytest.mark.parametrize("workers", [1, 2])
def test_word2vec_epoch(benchmark, zipf_corpus, skip_gram, workers):
    counts = zipf_corpus.vocab.counts
    rows, dim = len(counts), 100
    inp = np.empty((rows, dim), np.float32)
    core.init_word2vec_input(inp, 1)
    out = np.zeros_like(inp)
    keep = core.subsampling_thresholds(counts, 1e-3)
    noise_keep, noise_alias = core.build_alias_table(counts.astype(np.float64) ** 0.75)
    progress = core.Progress()

    def run():
        params = core.Word2VecParams(vector_size=inp.shape[1], skip_gram=skip_gram, window=5,
                                     negative=5, shrink_windows=True, alpha_start=0.025,
                                     alpha_end=0.02, seed=1, epoch=0, workers=workers)
        return core.train_word2vec_epoch(zipf_corpus.ids, zipf_corpus.offsets, inp, out, keep,
                                         noise_keep, noise_alias, params, progress=progress)
    stats = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["Mwords/s"] = zipf_corpus.raw_tokens / benchmark.stats["mean"] / 1e6
    assert stats["ids_processed"] == zipf_corpus.n_tokens


def test_alias_table(benchmark):
    weights = np.random.default_rng(0).pareto(1.0, 1_000_000) + 1e-3
    keep, alias = benchmark(core.build_alias_table, weights)
    assert len(keep) == len(weights)
