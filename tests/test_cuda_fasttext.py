"""The CUDA FastText kernel: its shared code (csrc/cuda/ft_core.cuh) run on the
CPU through the test-built emulation against the numpy oracle of the CPU
kernel (test_fasttext_kernel.reference) and against the CPU backend; the
model on the host fake device; real-GPU checks (skipped without a GPU)."""
import numpy as np
import pytest

import embforge
from embforge._native import core

from conftest import needs_gpu, topic_margin, topic_sentences
from cuda_common import LOOSE, to_host
from test_cuda_word2vec import coefficient, loss_term
from test_fasttext_kernel import random_model, reference

gensim_fasttext = pytest.importorskip("gensim.models.fasttext")  # test_fasttext's fixtures need it
from test_fasttext import SMALL, TOPICS, unseen_margin  # noqa: E402


# ------------------------------------------------- one window vs the oracle
@pytest.mark.parametrize("skip_gram", [True, False])
@pytest.mark.parametrize("lanes,dim,pack", [(1, 17, 1), (1, 16, 4), (3, 17, 1), (32, 100, 4),
                                            (32, 130, 1), (5, 8, 4)])
@pytest.mark.parametrize("seed", [0, 1])
def test_emulated_window_matches_oracle(emulation, skip_gram, lanes, dim, pack, seed):
    """fasttext.h's order (all of a set's dots first, then target after
    target), with repeated noise words in a set and a noise draw of the
    positive: the oracle reads rows as they move, the kernel its staged
    copies, which it moves alike."""
    rng = np.random.default_rng(seed)
    vocab, bucket = 9, 6  # few buckets: words share n-gram rows
    inp, out, offsets, ids = random_model(rng, vocab, bucket, dim, 0.3)
    inputs = np.array([rng.integers(vocab)] if skip_gram else rng.integers(0, vocab, 5), np.uint32)
    n_sets = 4 if skip_gram else 1
    targets = rng.integers(0, vocab, (n_sets, 6)).astype(np.uint32)
    targets[0, 3] = targets[0, 1]  # a noise word twice in one set
    targets[0, 5] = targets[0, 0]  # a noise draw of the positive: skipped
    ref_in, ref_out = inp.copy(), out.copy()
    expected = reference(ref_in, ref_out, offsets, ids, inputs, targets, 0.1, coefficient, loss_term)
    loss = emulation.emulate_fasttext_window(inp, out, offsets, ids, bucket, inputs, targets, 0.1,
                                             lanes=lanes, pack=pack)
    assert loss == pytest.approx(expected, rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(inp, ref_in, atol=2e-5)
    np.testing.assert_allclose(out, ref_out, atol=2e-5)
    assert not np.array_equal(inp, random_model(np.random.default_rng(seed), vocab, bucket, dim, 0.3)[0])


@pytest.mark.parametrize("skip_gram", [True, False])
def test_emulated_window_is_the_cpu_kernels(emulation, skip_gram):
    """The same window through the CPU kernel (its tabulated sigmoid) and the
    emulated device code (the exact one): equal within the table's error.
    The table is off by <= 0.25 * 6 / 1024 = 1.5e-3 in the sigmoid, so each
    coefficient by <= 7.3e-5 at alpha 0.05, and a row (|values| <= 0.2) by
    <= 18 terms x 7.3e-5 x 0.2 = 2.6e-4 (seen: 7.2e-5); the update itself
    moves rows by ~1e-2."""
    rng = np.random.default_rng(7)
    inp, out, offsets, ids = random_model(rng, 12, 10, 32, 0.2)
    inputs = np.array([3] if skip_gram else [1, 4, 4, 9], np.uint32)
    targets = rng.integers(0, 12, (3 if skip_gram else 1, 6)).astype(np.uint32)
    cpu_in, cpu_out = inp.copy(), out.copy()
    cpu_loss = core.fasttext_window_update(cpu_in, cpu_out, offsets, ids, 10, inputs, targets, 0.05)
    before = inp.copy()
    loss = emulation.emulate_fasttext_window(inp, out, offsets, ids, 10, inputs, targets, 0.05, lanes=4)
    assert np.abs(inp - before).max() > 3e-3  # the window moved the rows far more than the bound
    assert loss == pytest.approx(cpu_loss, abs=6 / 1024 * targets.size)  # the loss table's step
    np.testing.assert_allclose(inp, cpu_in, atol=2.6e-4)
    np.testing.assert_allclose(out, cpu_out, atol=2.6e-4)


# ------------------------------------------------------- init and composing
@pytest.mark.parametrize("dim", [1, 7, 100])
def test_emulated_init_is_the_cpu_init(emulation, dim):
    """What CpuBackend.init_fasttext computes (word2vec's init times the
    scale), bit for bit."""
    expected = np.empty((60, dim), np.float32)
    core.init_word2vec_input(expected, 42)
    expected *= np.float32(embforge.fasttext.INIT_SCALE)
    got = np.empty((60, dim), np.float32)
    emulation.emulate_fasttext_init(got, 42, embforge.fasttext.INIT_SCALE)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("lanes,pack", [(1, 1), (1, 4), (32, 4), (7, 1)])
def test_emulated_word_vectors_are_the_cpu_ones(emulation, lanes, pack):
    rng = np.random.default_rng(3)
    inp, _, offsets, ids = random_model(rng, 40, 25, 12, 1.0)
    expected = np.zeros((40, 12), np.float32)
    core.fasttext_word_vectors(inp, offsets, ids, 25, expected, 1)
    got = np.zeros_like(expected)
    emulation.emulate_fasttext_word_vectors(inp, offsets, ids, 25, got, lanes=lanes, pack=pack)
    np.testing.assert_array_equal(got, expected)  # rows summed in the CPU's order


# --------------------------------------------------------- epochs, emulated
@pytest.fixture(scope="module")
def ft_corpus():
    """An encoded topic corpus, its sampling tables and subword lists."""
    from embforge.corpus import encode
    corpus = encode(topic_sentences(TOPICS, 300, seed=2), min_count=1)
    counts = corpus.vocab.counts
    keep = core.subsampling_thresholds(counts, 1e-3)
    noise_keep, noise_alias = core.build_alias_table(counts.astype(np.float64) ** 0.75)
    subwords = core.fasttext_subwords(corpus.vocab.words, 3, 6, 500)
    return corpus, (keep, noise_keep, noise_alias), subwords


def ft_kwargs(skip_gram: bool, epoch: int, epochs: int = 5) -> dict:
    a0, a1 = 0.05 * (1 - epoch / epochs), 0.05 * (1 - (epoch + 1) / epochs)
    return dict(skip_gram=skip_gram, window=5, negative=5, shrink_windows=True, alpha_start=a0,
                alpha_end=max(a1, 1e-4), seed=1, epoch=epoch)


def init_ft(vocab_size: int, bucket: int = 500, dim: int = 16) -> tuple:
    inp = np.empty((vocab_size + bucket, dim), np.float32)
    core.init_word2vec_input(inp, 1)
    inp *= np.float32(embforge.fasttext.INIT_SCALE)
    return inp, np.zeros((vocab_size, dim), np.float32)


@pytest.mark.parametrize("skip_gram", [True, False])
def test_emulated_epoch_independent_of_lanes_spans_and_ranges(emulation, ft_corpus, skip_gram):
    """Every random decision is a function of the stream position: the span
    length, cutting the epoch into ranges and the lane count change nothing
    but float rounding."""
    corpus, tables, (offsets, ids) = ft_corpus
    v = len(corpus.vocab)
    end = int(corpus.offsets[60])
    stream, sentences = corpus.ids[:end], corpus.offsets[:61]
    runs = []
    for lanes, span, cuts in [(1, 256, []), (1, 5, [100, 101, 377]), (4, 33, [250]), (32, 64, [])]:
        inp, out = init_ft(v)
        totals = {"loss": 0.0, "loss_terms": 0, "words_trained": 0}
        bounds = [0] + cuts + [end]
        for b, e in zip(bounds[:-1], bounds[1:]):
            s = emulation.emulate_fasttext_range(stream, sentences, inp, out, offsets, ids, *tables,
                                                 bucket=500, begin=b, end=e, lanes=lanes, span=span,
                                                 **ft_kwargs(skip_gram, 0))
            for key in totals:
                totals[key] += s[key]
        runs.append((lanes, inp, out, totals))
    _, inp0, out0, totals0 = runs[0]
    assert totals0["words_trained"] > 100  # subsampling keeps ~25 % of this small vocabulary
    for lanes, inp, out, totals in runs[1:]:
        assert totals["words_trained"] == totals0["words_trained"]
        assert totals["loss_terms"] == totals0["loss_terms"]
        assert totals["loss"] == pytest.approx(totals0["loss"], rel=1e-5)
        if lanes == 1:  # the same float operations in the same order
            np.testing.assert_array_equal(inp, inp0)
            np.testing.assert_array_equal(out, out0)
        else:
            np.testing.assert_allclose(inp, inp0, atol=1e-5)
            np.testing.assert_allclose(out, out0, atol=1e-5)


@pytest.mark.parametrize("skip_gram", [True, False])
def test_emulated_epoch_counts_match_cpu(emulation, ft_corpus, skip_gram):
    """Subsampling keeps the words the thresholds say: the kept count of 4
    epochs lies within 4 standard deviations (55 words, 1.3 %) of its
    expectation, the sum of the keep probabilities; and windows hold as
    many targets per kept word as the CPU kernel's (5 % apart at most: over
    seeds 1-4 the two ratios differed by 0.0-3.3 % for skip-gram, <= 0.4 %
    for CBOW; a window or noise-set bug moves them by 1/6 or more)."""
    corpus, tables, (offsets, ids) = ft_corpus
    v, epochs = len(corpus.vocab), 4
    keep = np.where(tables[0] == 0xFFFFFFFF, 1.0, tables[0] / 2.0**32)[corpus.ids]
    expected, spread = epochs * keep.sum(), np.sqrt(epochs * (keep * (1 - keep)).sum())
    totals = {"cpu": np.zeros(2), "gpu": np.zeros(2)}
    for epoch in range(epochs):
        kw = ft_kwargs(skip_gram, epoch, epochs)
        inp, out = init_ft(v)
        params = core.FastTextParams(vector_size=16, workers=1, bucket=500, **kw)
        s = core.train_fasttext_epoch(corpus.ids, corpus.offsets, inp, out, offsets, ids, *tables,
                                      params, progress=core.Progress())
        totals["cpu"] += [s["words_trained"], s["loss_terms"]]
        inp, out = init_ft(v)
        s = emulation.emulate_fasttext_range(corpus.ids, corpus.offsets, inp, out, offsets, ids,
                                             *tables, bucket=500, **kw)
        assert s["ids_processed"] == len(corpus.ids)
        totals["gpu"] += [s["words_trained"], s["loss_terms"]]
    assert abs(totals["gpu"][0] - expected) < 4 * spread
    ratio = {name: terms / words for name, (words, terms) in totals.items()}
    assert ratio["gpu"] == pytest.approx(ratio["cpu"], rel=0.05)


def test_emulated_epoch_draws_differ_by_epoch_and_seed(emulation, ft_corpus):
    corpus, tables, (offsets, ids) = ft_corpus
    losses = set()
    for seed, epoch in [(1, 0), (1, 1), (2, 0)]:
        inp, out = init_ft(len(corpus.vocab))
        kw = dict(ft_kwargs(True, epoch), seed=seed)
        losses.add(emulation.emulate_fasttext_range(corpus.ids[:2000], np.array([0, 2000], np.int64),
                                                    inp, out, offsets, ids, *tables, bucket=500,
                                                    **kw)["loss"])
    assert len(losses) == 3


# ------------------------------------------------------- the model, emulated
@pytest.fixture(scope="module")
def sentences():
    return topic_sentences(TOPICS, 1000, seed=1)


@pytest.mark.parametrize("sg", [1, 0], ids=["sg", "cbow"])
def test_fake_device_model_learns_like_the_cpu(fake_device, sentences, sg):
    """FastText(device="cuda") end to end on the host fake device (the
    kernels' emulated code behind the CUDA backend's launch loop): its
    rows are device (torch) arrays, and its topic margins, for vocabulary
    words and unseen variants, are the CPU model's within LOOSE. Measured
    with these settings: CPU sg 0.637 / unseen 0.613, CBOW 0.633 / 0.610;
    fake device within 0.011 of each (untrained margins are ~0)."""
    margins = {}
    for device in ("cpu", "cuda"):
        model = embforge.FastText(sg=sg, workers=1, device=device, **SMALL).fit(sentences)
        assert (device == "cuda") == (type(model._input).__name__ == "Tensor")
        margins[device] = (topic_margin(model.wv, TOPICS), unseen_margin(model.wv))
    assert margins["cpu"][0] > 0.4 and margins["cpu"][1] > 0.4
    for cpu, gpu in zip(margins["cpu"], margins["cuda"]):
        assert abs(gpu - cpu) < LOOSE


def test_fake_device_model_saves_loads_and_composes(fake_device, sentences, tmp_path):
    model = embforge.FastText(sg=1, workers=1, device="cuda", **dict(SMALL, epochs=1)).fit(sentences[:200])
    word = model.wv.index_to_key[5]
    # wv.vectors are the device kernel's composition of the trained rows
    rows = to_host(model._input)
    np.testing.assert_allclose(model.wv[word], rows[model.wv.subword_rows(word)].mean(axis=0),
                               rtol=1e-5, atol=1e-6)
    unseen = word + "zq"
    np.testing.assert_allclose(model.wv[unseen], rows[model.wv.ngram_rows(unseen)].mean(axis=0),
                               rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.ft")
    back = embforge.FastText.load(tmp_path / "m.ft")
    np.testing.assert_array_equal(back.wv[word], model.wv[word])
    model.save_facebook_model(tmp_path / "m.bin")
    np.testing.assert_allclose(embforge.load_facebook_vectors(tmp_path / "m.bin")[unseen],
                               model.wv[unseen], rtol=1e-6)


def test_fake_device_launch_loop_chunks_publishes_and_stops(fake_device, ft_corpus):
    """An epoch as launches of `chunk_ids` positions: the same weights as one
    launch (the draws are keyed by position; one emulated lane: bit for bit),
    every launch's work and loss published, and a requested stop honoured
    before the next launch."""
    from embforge.backends import cuda_fasttext
    from embforge._native import cuda_module
    corpus, tables, (offsets, ids) = ft_corpus
    v, n = len(corpus.vocab), len(corpus.ids)
    results = []
    for chunk in (None, 1000):
        inp, out, _ = cuda_fasttext.allocate_fasttext(v, 500, 8, 1, 1.0, "cuda")
        progress = core.Progress()
        launches = len(cuda_module().launches)
        stats = cuda_fasttext.train_fasttext_epoch(corpus.ids, corpus.offsets, inp, out, offsets, ids,
                                                   *tables, bucket=500, progress=progress,
                                                   chunk_ids=chunk, **ft_kwargs(True, 0))
        assert len(cuda_module().launches) - launches == (1 if chunk is None else -(-n // chunk))
        assert progress.work_done == n == stats["ids_processed"]
        assert progress.loss_count == stats["loss_terms"] > 0
        assert progress.loss_sum == pytest.approx(stats["loss"])
        results.append((to_host(inp), to_host(out), stats))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]
    progress = core.Progress()
    progress.request_stop()
    stats = cuda_fasttext.train_fasttext_epoch(corpus.ids, corpus.offsets, inp, out, offsets, ids, *tables,
                                               bucket=500, progress=progress, **ft_kwargs(True, 0))
    assert stats["stopped"] and stats["ids_processed"] == 0 and stats["words_trained"] == 0


def test_fake_device_refuses_bad_subword_lists(fake_device, ft_corpus):
    from embforge.backends import cuda_fasttext
    corpus, tables, (offsets, ids) = ft_corpus
    v = len(corpus.vocab)
    inp, out, _ = cuda_fasttext.allocate_fasttext(v, 500, 8, 1, 1.0, "cuda")
    bad = ids.copy()
    bad[3] = v + 500
    with pytest.raises(ValueError, match=f"subword lists: id {v + 500} is out of range"):
        cuda_fasttext.train_fasttext_epoch(corpus.ids, corpus.offsets, inp, out, offsets, bad, *tables,
                                           bucket=500, **ft_kwargs(True, 0))


# ----------------------------------------------------------------- real GPU
@needs_gpu
@pytest.mark.cuda
def test_gpu_init_is_the_cpu_init():
    from embforge.backends import cuda_fasttext
    inp, _, _ = cuda_fasttext.allocate_fasttext(50, 70, 100, 42, embforge.fasttext.INIT_SCALE, "cuda")
    expected = np.empty((120, 100), np.float32)
    core.init_word2vec_input(expected, 42)
    expected *= np.float32(embforge.fasttext.INIT_SCALE)
    np.testing.assert_array_equal(to_host(inp), expected)


@needs_gpu
@pytest.mark.cuda
@pytest.mark.parametrize("sg", [1, 0], ids=["sg", "cbow"])
def test_gpu_model_learns_like_the_cpu(sentences, sg):
    """Device FastText against the CPU on the topic fixture, vocabulary words
    and unseen variants. LOOSE is uncalibrated on hardware (cuda_common)."""
    margins = {}
    for device in ("cpu", "cuda"):
        model = embforge.FastText(sg=sg, workers=2, device=device, **SMALL).fit(sentences)
        margins[device] = (topic_margin(model.wv, TOPICS), unseen_margin(model.wv))
    for cpu, gpu in zip(margins["cpu"], margins["cuda"]):
        assert abs(gpu - cpu) < LOOSE, margins


@needs_gpu
@pytest.mark.cuda
def test_gpu_word_vectors_and_unseen_words(sentences, monkeypatch):
    monkeypatch.setenv("EMBFORGE_CUDA_SYNC", "1")  # every launch checked, named on failure
    model = embforge.FastText(sg=1, device="cuda", **dict(SMALL, epochs=1)).fit(sentences[:300])
    rows = to_host(model._input)
    expected = np.zeros((len(model.wv), model.vector_size), np.float32)
    offsets, ids = model._subwords
    core.fasttext_word_vectors(rows, offsets, ids, model.bucket, expected, 1)
    np.testing.assert_allclose(model.wv.vectors, expected, rtol=1e-5, atol=1e-7)
    unseen = model.wv.index_to_key[3] + "zq"
    assert not model.wv.has_index_for(unseen) and unseen in model.wv
    np.testing.assert_allclose(model.wv[unseen], rows[model.wv.ngram_rows(unseen)].mean(axis=0),
                               rtol=1e-5, atol=1e-7)
