"""Fixtures and helpers shared by the CUDA test files (test_cuda_*.py): the
toy corpus and its tables, CPU reference calls, topic separation, and the
host fake device. The device parameter list is conftest.DEVICES."""
import numpy as np
import pytest

from embforge._native import core

from conftest import make_leaky_toy_corpus, make_toy_corpus
from fake_device import emulation, install_fake_device

TOPICS = ("sea", "fire", "tree", "iron")
# Quality tolerances against the CPU on the toy corpus (topic separation; the
# spread over seeds is ~0.03). A default GPU launch runs ~160 warps at once on
# a 53-word vocabulary, Hogwild contention no real corpus has, so it gets the
# loose bound; launches of a few spans each ("calm") get the tight one.
# Never calibrated on hardware: both were set from CPU and emulated runs only,
# and real warps race differently (L1, scheduling, timing). Plan: on the first
# GPU lease, log the GPU-CPU differences of the tests using them over seeds 1-8
# and set each bound to their mean + 3 standard deviations (the rule of
# bench/gpu_stats.tolerance), saying so here with the GPU and the date.
TIGHT, LOOSE = 0.06, 0.15


@pytest.fixture(scope="module")
def toy():
    from embforge.corpus import encode
    corpus = encode(make_toy_corpus(), min_count=1)
    counts = corpus.vocab.counts
    keep = core.subsampling_thresholds(counts, 1e-3)
    noise_keep, noise_alias = core.build_alias_table(counts.astype(np.float64) ** 0.75)
    return corpus, (keep, noise_keep, noise_alias)


@pytest.fixture(scope="module")
def glove_pairs(tmp_path_factory):
    from embforge.corpus import encode
    # Leaky topics: without them GloVe's biases alone fit the toy corpus (conftest).
    corpus = encode(make_leaky_toy_corpus(), min_count=1)
    rows, cols, values, _ = cpu_cooccur(corpus.ids, corpus.offsets, len(corpus.vocab),
                                        tmp_path_factory.mktemp("cooc"), window=10, symmetric=True,
                                        distance_weighting=True)
    return corpus, (rows, cols, values), core.make_glove_pairs(rows, cols, values, len(corpus.vocab),
                                                               100.0, 0.75)


@pytest.fixture
def fake_device(monkeypatch):
    """backends.cuda_launch with _cuda's launchers replaced by the host stand-in."""
    pytest.importorskip("torch", reason="the emulated device keeps its memory in torch tensors")
    emulation()
    return install_fake_device(monkeypatch.setattr)


def topic_separation(vocab, vectors) -> float:
    """Mean cosine of same-topic word pairs minus that of cross-topic pairs."""
    words = [w for w in vocab.words if w.rstrip("0123456789") in TOPICS]
    topic = np.array([TOPICS.index(w.rstrip("0123456789")) for w in words])
    x = np.asarray(vectors, dtype=np.float64)[[vocab[w] for w in words]]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sim = x @ x.T
    same = topic[:, None] == topic[None, :]
    off = ~np.eye(len(words), dtype=bool)
    return float(sim[same & off].mean() - sim[~same].mean())


def w2v_kwargs(sg, epoch, epochs=5):
    a0, a1 = 0.025 * (1 - epoch / epochs), 0.025 * (1 - (epoch + 1) / epochs)
    return dict(skip_gram=sg, window=5, negative=5, shrink_windows=True, alpha_start=a0,
                alpha_end=max(a1, 1e-4), seed=1, epoch=epoch)


def init_w2v(vocab_size, dim=32):
    inp = np.empty((vocab_size, dim), np.float32)
    core.init_word2vec_input(inp, 1)
    return inp, np.zeros((vocab_size, dim), np.float32)


def cpu_word2vec_epoch(ids, offsets, inp, out, tables, workers=1, **kw):
    """_core.train_word2vec_epoch with w2v_kwargs-style keywords."""
    params = core.Word2VecParams(vector_size=inp.shape[1], workers=workers, **kw)
    return core.train_word2vec_epoch(ids, offsets, inp, out, *tables, params, progress=core.Progress())


def cpu_cooccur(ids, offsets, vocab_size, tmp_path, **kw):
    params = core.CooccurParams(workers=1, memory_bytes=1 << 24, temp_dir=str(tmp_path), **kw)
    return core.count_cooccurrences(ids, offsets, vocab_size, params)


def cpu_glove_epoch(pairs, order, weights, gradsq, **kw):
    """_core.train_glove_epoch on one worker with keyword parameters."""
    params = core.GloveParams(vector_size=weights.shape[1] - 1, workers=1, **kw)
    return core.train_glove_epoch(pairs, order, weights, gradsq, params, progress=core.Progress())


def small_corpus(toy, sentences=120):
    corpus, tables = toy
    end = int(corpus.offsets[sentences])
    return corpus.ids[:end], corpus.offsets[:sentences + 1], len(corpus.vocab), tables


def to_host(a):
    return a.cpu().numpy() if hasattr(a, "cpu") else (a.get() if hasattr(a, "get") else np.asarray(a))


def device_array_module():
    from embforge.backends import device_arrays
    return device_arrays.array_module()
