"""GloVe: per-pair update and epoch against numpy oracles, shuffling, quality, API, bad input."""
import importlib
import os
import random

import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._native import core
from embforge.cooccurrence import Cooccurrence, cooccurrence
from embforge.glove import GloVe
from embforge.keyedvectors import KeyedVectors
from embforge.vocab import Vocabulary

from conftest import DATA, make_toy_corpus
from fake_device import GPU_DEVICES, device_kind, host, on_device

glove_module = importlib.import_module("embforge.glove")


def reference_update(W, G, vocab, row, col, log_x, weight, eta, clip):
    """glove.c's update of one pair, in float64 (glove_thread in glove.c)."""
    W64, G64 = W.astype(np.float64), G.astype(np.float64)
    d = W.shape[1] - 1
    w, c = W64[row], W64[vocab + col]
    diff = w[:d] @ c[:d] + w[d] + c[d] - log_x
    fdiff = weight * diff
    cost = 0.5 * fdiff * diff
    step = fdiff * eta
    grad_w = np.clip(step * c[:d], -clip, clip)  # both from the rows before the update
    grad_c = np.clip(step * w[:d], -clip, clip)
    new_w, new_c = w.copy(), c.copy()
    new_w[:d] -= grad_w / np.sqrt(G64[row, :d])
    new_c[:d] -= grad_c / np.sqrt(G64[vocab + col, :d])
    new_w[d] -= step / np.sqrt(G64[row, d])
    new_c[d] -= step / np.sqrt(G64[vocab + col, d])
    G64[row, :d] += grad_w ** 2
    G64[vocab + col, :d] += grad_c ** 2
    G64[row, d] += step ** 2
    G64[vocab + col, d] += step ** 2
    W64[row], W64[vocab + col] = new_w, new_c
    return W64, G64, cost


@given(data=st.data())
def test_pair_update_matches_glove_c_formulas(data):
    vocab = data.draw(st.integers(1, 5))
    dim = data.draw(st.sampled_from([1, 3, 16, 17, 50, 100, 130]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    scale = data.draw(st.sampled_from([0.01, 0.5, 2.0]))
    W = rng.uniform(-scale, scale, (2 * vocab, dim + 1)).astype(np.float32)
    G = rng.uniform(1.0, 10.0, (2 * vocab, dim + 1)).astype(np.float32)
    row, col = data.draw(st.integers(0, vocab - 1)), data.draw(st.integers(0, vocab - 1))
    log_x = np.float32(data.draw(st.floats(-2.0, 8.0)))
    weight = np.float32(data.draw(st.floats(0.0, 1.0)))
    eta = np.float32(data.draw(st.sampled_from([0.05, 1.0, 30.0])))
    clip = np.float32(data.draw(st.sampled_from([0.001, 0.1, 100.0])))  # small: clipping active

    ref_W, ref_G, ref_cost = reference_update(W, G, vocab, row, col, log_x, weight, eta, clip)
    cost = core.glove_pair_update(W, G, row, col, float(log_x), float(weight), float(eta), float(clip))
    # float32 kernel vs float64 reference: the dot product of up to 130 terms of
    # size `scale`^2 differs by ~1e-6 relative; steps are at most clip / 1.
    np.testing.assert_allclose(W, ref_W, rtol=2e-5, atol=2e-5 * max(1.0, float(eta)))
    np.testing.assert_allclose(G, ref_G, rtol=2e-4, atol=1e-4)
    assert cost == pytest.approx(ref_cost, rel=1e-4, abs=1e-6)


def test_non_finite_pair_is_skipped_like_glove_c():
    W = np.full((2, 4), 0.1, np.float32)
    G = np.ones_like(W)
    before = W.copy()
    assert core.glove_pair_update(W, G, 0, 0, float("nan"), 1.0, 0.05, 100.0) == 0.0
    assert np.array_equal(W, before) and (G == 1).all()


def test_make_glove_pairs_precomputes_log_and_weighting():
    rows = np.array([0, 1, 2], np.int32)
    cols = np.array([2, 0, 1], np.int32)
    values = np.array([0.5, 100.0, 250.0], np.float32)
    pairs = core.make_glove_pairs(rows, cols, values, 3, 100.0, 0.75)
    assert pairs.shape == (3, 4) and pairs.dtype == np.uint32
    np.testing.assert_array_equal(pairs[:, 0], rows)
    np.testing.assert_array_equal(pairs[:, 1], cols)
    floats = pairs.view(np.float32)
    np.testing.assert_allclose(floats[:, 2], np.log(values.astype(np.float64)), rtol=1e-7)
    np.testing.assert_allclose(floats[:, 3], np.minimum(1.0, (values / 100.0) ** 0.75), rtol=1e-6)
    for bad_values, message in ((np.array([1.0, 0.0, 1.0], np.float32), "pair 1 has value 0"),
                                (np.array([1.0, 1.0, np.nan], np.float32), "pair 2 has value nan")):
        with pytest.raises(ValueError, match=message):
            core.make_glove_pairs(rows, cols, bad_values, 3, 100.0, 0.75)
    with pytest.raises(ValueError, match=r"pair 0 has ids \(0, 2\) out of range"):
        core.make_glove_pairs(rows, cols, values, 2, 100.0, 0.75)


def test_shuffle_is_a_permutation_independent_of_workers():
    n = 300_001
    one, two = np.empty(n, np.uint32), np.empty(n, np.uint32)
    core.glove_shuffle(one, 7, 3, 1)
    core.glove_shuffle(two, 7, 3, 4)
    assert np.array_equal(one, two)
    assert np.array_equal(np.sort(one), np.arange(n))
    core.glove_shuffle(two, 7, 4, 2)
    assert not np.array_equal(one, two)
    # Uniform enough: where the first 1000 indices land is spread over the
    # whole range (each decile holds 100 +- ~30 of them).
    landing = np.argsort(one)[:1000]
    histogram = np.bincount(landing * 10 // n, minlength=10)
    assert histogram.min() > 50 and histogram.max() < 150


def test_epoch_with_one_worker_equals_sequential_reference():
    rng = np.random.default_rng(11)
    vocab, dim, n = 9, 5, 60
    keys = rng.choice(vocab * vocab, n, replace=False)
    rows, cols = (keys // vocab).astype(np.int32), (keys % vocab).astype(np.int32)
    values = rng.uniform(0.2, 300.0, n).astype(np.float32)
    pairs = core.make_glove_pairs(rows, cols, values, vocab, 100.0, 0.75)
    W = np.empty((2 * vocab, dim + 1), np.float32)
    G = np.empty_like(W)
    core.init_glove(W, G, 5)
    order = np.empty(n, np.uint32)
    core.glove_shuffle(order, 5, 0, 1)
    ref_W, ref_G, ref_cost = W.copy(), G.copy(), 0.0
    floats = pairs.view(np.float32)
    for i in order:
        ref_W, ref_G, cost = reference_update(ref_W, ref_G, vocab, rows[i], cols[i], floats[i, 2],
                                              floats[i, 3], 0.05, 100.0)
        ref_W, ref_G = ref_W.astype(np.float32), ref_G.astype(np.float32)
        ref_cost += cost
    stats = core.train_glove_epoch(pairs, order, W, G, learning_rate=0.05, grad_clip=100.0,
                                   workers=1, progress=core.Progress())
    assert stats["pairs"] == n and stats["skipped"] == 0 and not stats["stopped"]
    assert stats["cost"] == pytest.approx(ref_cost, rel=1e-5)
    np.testing.assert_allclose(W, ref_W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(G, ref_G, rtol=1e-5)


def test_init_like_glove_c():
    W = np.empty((2000, 51), np.float32)
    G = np.empty_like(W)
    core.init_glove(W, G, 1)
    assert (G == 1.0).all()
    assert W.min() >= -0.5 / 51 and W.max() < 0.5 / 51
    assert abs(W.mean()) < 1e-4 and W.std() == pytest.approx(1 / 51 / np.sqrt(12), rel=0.02)
    W2 = np.empty_like(W)
    core.init_glove(W2, G, 1)
    assert np.array_equal(W, W2)


def test_training_arguments_are_validated():
    W = np.zeros((4, 3), np.float32)
    pairs = np.array([[0, 1, 0, 0]], np.uint32)
    with pytest.raises(ValueError, match=r"order\[0\] = 5 is out of range"):
        core.train_glove_epoch(pairs, np.array([5], np.uint32), W, np.ones_like(W), learning_rate=0.05,
                               grad_clip=100.0, workers=1, progress=core.Progress())
    with pytest.raises(ValueError, match="pair 0 has ids out of range"):
        core.train_glove_epoch(np.array([[0, 9, 0, 0]], np.uint32), np.array([0], np.uint32), W,
                               np.ones_like(W), learning_rate=0.05, grad_clip=100.0, workers=1,
                               progress=core.Progress())
    with pytest.raises(ValueError, match="gradsq has shape"):
        core.train_glove_epoch(pairs, np.array([0], np.uint32), W, np.ones((4, 2), np.float32),
                               learning_rate=0.05, grad_clip=100.0, workers=1, progress=core.Progress())


# ------------------------------------------------------------------ trainer
@pytest.fixture(scope="module")
def toy_matrix():
    return cooccurrence(make_toy_corpus(), window=5, min_count=1, workers=2, progress=False)


def topic_margin(wv):
    """Mean cosine of same-topic word pairs minus that of cross-topic pairs."""
    topics = [[f"{name}{i}" for i in range(12)] for name in ("sea", "fire", "tree", "iron")]
    unit = wv.get_normed_vectors()
    index = [[wv.get_index(w) for w in t] for t in topics]
    same = np.mean([unit[a] @ unit[b] for t in index for a in t for b in t if a != b])
    cross = np.mean([unit[a] @ unit[b] for i, t in enumerate(index) for u in index[i + 1:]
                     for a in t for b in u])
    return same - cross


def test_quality_on_toy_topics(toy_matrix, device, request):
    model = GloVe(vector_size=20, epochs=15, workers=2, seed=3, device=device,
                  progress=False).fit(toy_matrix)
    assert isinstance(model.wv, KeyedVectors) and len(model.wv) == len(toy_matrix.vocab)
    # Calibrated over seeds 1-10 at these settings: margin 0.32-0.65 (untrained
    # vectors: 0.01; GloVe never sees the absent cross-topic pairs, so it does
    # not push them apart much), topic precision@5 = 1.0 for every seed (the
    # emulated device: 0.32-0.56, 1.0). The thresholds leave room for Hogwild
    # noise and still fail for untrained or scrambled vectors. A real GPU runs
    # all ~1,000 pairs of an epoch at once on these 53 words (Hogwild's worst
    # case; test_cuda.py's bound for it is 0.1): its own, looser bounds.
    real_gpu = device_kind(request) == "cuda"
    assert topic_margin(model.wv) > (0.1 if real_gpu else 0.25)
    hits = [w.rstrip("0123456789") == n.rstrip("0123456789")
            for w in ("sea3", "fire7", "tree0", "iron11")
            for n, _ in model.wv.most_similar(w, topn=5)]
    assert np.mean(hits) >= (0.75 if real_gpu else 0.9)
    costs = model.cost_history
    assert len(costs) == 15
    assert costs[-1] < 0.5 * costs[0] if real_gpu else all(b < a for a, b in zip(costs, costs[1:]))


def test_fit_from_corpus_and_output_vectors(toy_corpus_path, device, request):
    main = GloVe(vector_size=8, epochs=2, window=3, min_count=1, workers=1, seed=2,
                 output_vectors="main", device=device, memory="64MB",
                 progress=False).fit(toy_corpus_path)
    assert main.cooccurrence.window == 3 and main.epochs_trained == 2
    assert main.cooccurrence.device == main.device  # counted where the model trains
    n, d = len(main.vocab), 8
    weights = host(main.weights)
    np.testing.assert_array_equal(main.wv.vectors, weights[:n, :d])
    for kind, expected in (("context", weights[n:, :d]),
                           ("sum", weights[:n, :d] + weights[n:, :d])):
        main.output_vectors = kind
        main._update_wv()
        np.testing.assert_array_equal(main.wv.vectors, expected)
    # One worker, same seed: the same vectors (the shuffle depends on seed and
    # epoch only). Not on a real GPU: Hogwild warps race in another order each run.
    if device_kind(request) != "cuda":
        again = GloVe(vector_size=8, epochs=2, window=3, min_count=1, workers=1, seed=2,
                      output_vectors="main", device=device, progress=False).fit(main.cooccurrence)
        np.testing.assert_array_equal(host(again.weights), weights)


def test_reshuffle_false_reuses_the_first_order(toy_matrix, monkeypatch):
    calls = []
    real = glove_module._native.core.glove_shuffle

    class Spy:
        def __getattr__(self, name):
            return getattr(core, name)

        @staticmethod
        def glove_shuffle(order, seed, epoch, workers):
            calls.append(epoch)
            real(order, seed, epoch, workers)

    monkeypatch.setattr(glove_module._native, "core", Spy())
    GloVe(vector_size=4, epochs=3, reshuffle=False, workers=1, progress=False).fit(toy_matrix)
    GloVe(vector_size=4, epochs=3, workers=1, progress=False).fit(toy_matrix)
    assert calls == [0, 0, 1, 2]


def test_save_load_round_trip_and_continue(tmp_path, toy_matrix, device):
    model = GloVe(vector_size=6, epochs=2, workers=1, device=device, progress=False).fit(toy_matrix)
    path = tmp_path / "glove.model"
    model.save(path)
    for where in {device, "cpu"}:  # a model saved on either side loads on either side
        back = GloVe.load(path, device=where)
        assert back.device == model.device if where == device else back.device == "cpu"
        np.testing.assert_array_equal(host(back.weights), host(model.weights))
        np.testing.assert_array_equal(host(back.gradsq), host(model.gradsq))
        np.testing.assert_array_equal(back.wv.vectors, model.wv.vectors)
        assert back.cost_history == model.cost_history and back.epochs_trained == 2
    back = GloVe.load(path, device=device)
    back.fit(toy_matrix, epochs=1)
    assert back.epochs_trained == 3 and back.cost_history[-1] < model.cost_history[-1]
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 nope")
    with pytest.raises(ValueError, match="not an embforge GloVe model"):
        GloVe.load(tmp_path / "junk")
    with pytest.raises(ValueError, match="another vocabulary"):
        back.fit(cooccurrence([["x", "y", "x"]], min_count=1, progress=False))


def test_tampered_model_is_rejected(tmp_path, toy_matrix):
    model = GloVe(vector_size=4, epochs=1, workers=1, progress=False).fit(toy_matrix)
    model.weights[0, 0] = np.nan
    path = tmp_path / "nan.model"
    model.save(path)
    with pytest.raises(ValueError, match="weights holds NaN"):
        GloVe.load(path)


def test_bad_arguments(toy_matrix):
    for kwargs, message in (({"vector_size": 0}, "vector_size"), ({"x_max": 0.0}, "x_max"),
                            ({"learning_rate": -1.0}, "learning_rate"), ({"epochs": 0}, "epochs"),
                            ({"window": 0}, "window"), ({"output_vectors": "both"}, "output_vectors"),
                            ({"memory": "1 potato"}, "memory"), ({"alpha": float("nan")}, "alpha")):
        with pytest.raises(ValueError, match=message):
            GloVe(**kwargs)
    with pytest.raises((ValueError, RuntimeError), match="cuda"):  # no such GPU, or none at all
        GloVe(device="cuda:99")
    with pytest.raises(ValueError, match="invalid device 'tpu'"):
        GloVe(device="tpu")
    empty = Cooccurrence(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32),
                         Vocabulary(["a"], [1]))
    with pytest.raises(ValueError, match="empty"):
        GloVe(progress=False).fit(empty)
    with pytest.raises(RuntimeError, match="fit"):
        GloVe(progress=False).train()


def test_ctrl_c_keeps_a_usable_model(toy_matrix, monkeypatch, device):
    real = glove_module.run_polled

    def interrupted(call, progress, on_poll=None):
        progress.request_stop()
        result, _ = real(call, progress, on_poll)
        return result, True

    monkeypatch.setattr(glove_module, "run_polled", interrupted)
    model = GloVe(vector_size=4, epochs=5, workers=2, device=device, progress=False).fit(toy_matrix)
    assert model.interrupted and model.epochs_trained == 0 and model.cost_history == []
    assert np.isfinite(model.wv.vectors).all()


# ------------------------------------------------------------------ devices
def topic_corpus(n_topics=30, n_words=40, n_sentences=15000, seed=0):
    """make_toy_corpus at a larger scale: 1,205 words, ~60k co-occurring pairs,
    enough that a GPU's warps rarely update the same row at once."""
    rng = random.Random(seed)
    topics = [[f"t{t}w{i}" for i in range(n_words)] for t in range(n_topics)]
    filler = ["the", "a", "of", "and", "to"]
    return [[rng.choice(topic) if rng.random() < 0.7 else rng.choice(filler)
             for _ in range(rng.randint(8, 20))] for topic in (rng.choice(topics) for _ in range(n_sentences))]


def corpus_margin(wv):
    """topic_margin for topic_corpus's words (t<topic>w<i>)."""
    words = [w for w in wv.index_to_key if w[0] == "t" and w[1].isdigit()]
    topic = np.array([w.split("w")[0] for w in words])
    x = wv.get_normed_vectors()[[wv.get_index(w) for w in words]].astype(np.float64)
    sim = x @ x.T
    same = topic[:, None] == topic[None, :]
    return float(sim[same & ~np.eye(len(words), dtype=bool)].mean() - sim[~same].mean())


@pytest.fixture(scope="module")
def topic_matrix():
    return cooccurrence(topic_corpus(), window=5, min_count=1, workers=2, progress=False)


def test_same_seed_same_quality_on_both(topic_matrix, device, request):
    """Tolerance: the margin within 0.02 and the last cost within 3% of the
    CPU's at the same seed. Calibrated on the emulated device over seeds 1-7
    (another pair order than the CPU's): margins 0.125-0.144, at most 0.002
    apart; costs at most 0.04% apart. A real GPU gets 0.03 and 10% for
    Hogwild (~8k warps in flight on 2,410 rows); not yet calibrated on one."""
    kw = dict(vector_size=32, epochs=15, workers=2, seed=4, progress=False)
    cpu = GloVe(**kw).fit(topic_matrix)
    other = GloVe(device=device, **kw).fit(topic_matrix)
    assert np.isfinite(host(other.weights)).all() and np.isfinite(host(other.gradsq)).all()
    margin, cost = (0.03, 0.10) if device_kind(request) == "cuda" else (0.02, 0.03)
    assert corpus_margin(cpu.wv) > 0.1
    assert abs(corpus_margin(other.wv) - corpus_margin(cpu.wv)) < margin
    assert other.cost_history[-1] == pytest.approx(cpu.cost_history[-1], rel=cost)
    assert len(other.cost_history) == 15 and other.cost_history[-1] < 0.5 * other.cost_history[0]


@pytest.mark.parametrize("device", GPU_DEVICES, indirect=True)
def test_device_model_stays_on_the_device(toy_matrix, device, request):
    """weights, gradsq and wv's storage are device arrays (never NaN); wv
    follows them after training; the progress counters saw every pair."""
    model = GloVe(vector_size=8, epochs=3, workers=1, device=device, progress=False).fit(toy_matrix)
    assert model.device == "cuda:0" and "device" not in model._config()
    for array in (model.weights, model.gradsq, model._cuda_storage, model._pairs):
        assert on_device(array)
    assert model._order is None  # the kernel draws the pair order itself
    n, d = len(model.vocab), 8
    weights = host(model.weights)
    assert np.isfinite(weights).all() and (host(model.gradsq) >= 1.0).all()
    np.testing.assert_array_equal(model.wv.vectors, weights[:n, :d] + weights[n:, :d])
    assert model._native_progress.work_done == toy_matrix.nnz  # the last epoch's pairs
    assert len(model.cost_history) == 3 and model.pairs_per_second > 0
    if device_kind(request) == "cuda":  # the PyTorch hand-off shares the device rows
        torch = pytest.importorskip("torch")
        assert model.wv.device == "cuda:0"
        assert bool(torch.isfinite(model.weights).all()) and bool(torch.isfinite(model.gradsq).all())
        assert model.wv.to_torch().data_ptr() == model._cuda_storage.data_ptr()


@pytest.mark.parametrize("device", GPU_DEVICES, indirect=True)
def test_device_pair_order_follows_reshuffle(toy_matrix, device, monkeypatch):
    """The kernel's permutation is keyed by (seed, epoch): a fresh one per
    epoch, or epoch 0's for every epoch with reshuffle=False (glove.c's)."""
    from embforge import cuda_backend
    seen = []
    real = cuda_backend.train_glove_epoch

    def spy(pairs, order, *args, **kw):
        seen.append((order, kw["seed"], kw["epoch"]))
        return real(pairs, order, *args, **kw)

    monkeypatch.setattr(cuda_backend, "train_glove_epoch", spy)
    model = GloVe(vector_size=4, epochs=3, seed=9, device=device, progress=True).fit(toy_matrix)
    model.train(epochs=1)
    GloVe(vector_size=4, epochs=2, seed=9, reshuffle=False, device=device,
          progress=False).fit(toy_matrix)
    assert seen == [(None, 9, 0), (None, 9, 1), (None, 9, 2), (None, 9, 3), (None, 9, 0), (None, 9, 0)]


def test_reads_a_glove_c_cooccurrence_file():
    """tests/data/glove_* is what vocab_count -min-count 2 and cooccur -window-size 2
    write for glove_corpus.txt (made by an independent transcription of cooccur.c,
    exact double sums; see the fixture's comment in the report)."""
    path = os.path.join(DATA, "glove_cooccurrence.bin")
    X = Cooccurrence.load_glove_binary(path, os.path.join(DATA, "glove_vocab.txt"))
    ours = cooccurrence(os.path.join(DATA, "glove_corpus.txt"), window=2, min_count=2, progress=False)
    assert ours.vocab == X.vocab
    assert np.array_equal(ours.rows, X.rows) and np.array_equal(ours.cols, X.cols)
    np.testing.assert_allclose(ours.values, X.values, rtol=1e-7)
    raw = np.fromfile(path, dtype=[("w1", "<i4"), ("w2", "<i4"), ("v", "<f8")])
    np.testing.assert_allclose(X.values, raw["v"], rtol=1e-7)  # float32 of glove's doubles


def test_cli_train_glove(tmp_path, toy_corpus_path, device):
    from embforge.cli import main
    out, model_path, cooc = tmp_path / "vectors.txt", tmp_path / "m.glove", tmp_path / "x.bin"
    assert main(["train", toy_corpus_path, "-o", str(out), "--model", "glove", "--size", "6",
                 "--epochs", "2", "--window", "4", "--min-count", "1", "--threads", "2",
                 "--save-model", str(model_path), "--save-cooccurrence", str(cooc),
                 "--vectors", "main", "--memory", "64MB", "--device", device, "--quiet"]) == 0
    model = GloVe.load(model_path)
    assert model.epochs_trained == 2 and model.window == 4 and model.output_vectors == "main"
    assert out.read_text().splitlines()[0].split()[0].isdigit()  # word2vec text header
    assert os.path.getsize(cooc) % 16 == 0 and os.path.getsize(cooc) > 0
    assert main(["train", toy_corpus_path, "-o", str(out), "--model", "glove", "--x-max", "0",
                 "--quiet"]) == 2
