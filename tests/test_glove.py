"""GloVe: per-pair update and epoch against numpy oracles, shuffling, quality, API, bad input."""
import importlib
import os
import types

import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._native import core
from embforge.cooccurrence import Cooccurrence, cooccurrence
from embforge.glove import GloVe
from embforge.glove_blocks import PairBlocks
from embforge.keyedvectors import KeyedVectors
from embforge.vocab import Vocabulary

from conftest import (DATA, GPU_DEVICES, interrupted_run_polled, make_leaky_toy_corpus,
                      save_without_setting, topic_margin, topic_sentences)
from fake_device import device_kind, host, on_device

glove_module = importlib.import_module("embforge.glove")


def glove_params(weights, **kw):
    """GloVe parameters for a model of these weights: glove.c's eta and clip, one worker."""
    return core.GloveParams(vector_size=weights.shape[1] - 1, **{
        "learning_rate": 0.05, "grad_clip": 100.0, "workers": 1, **kw})


def reference_update(W, G, vocab, row, col, log_x, weight, eta, clip, bias_rate=1.0):
    """Current glove.c's update of one pair, in float64 (glove_thread): the
    vector gradients are clipped, then scaled by eta; the bias step is
    bias_rate * fdiff (glove.c: no eta, bias_rate 1)."""
    W64, G64 = W.astype(np.float64), G.astype(np.float64)
    d = W.shape[1] - 1
    w, c = W64[row], W64[vocab + col]
    diff = w[:d] @ c[:d] + w[d] + c[d] - log_x
    fdiff = weight * diff
    cost = 0.5 * fdiff * diff
    grad_w = np.clip(fdiff * c[:d], -clip, clip) * eta  # both from the rows before the update
    grad_c = np.clip(fdiff * w[:d], -clip, clip) * eta
    bias = bias_rate * fdiff
    new_w, new_c = w.copy(), c.copy()
    new_w[:d] -= grad_w / np.sqrt(G64[row, :d])
    new_c[:d] -= grad_c / np.sqrt(G64[vocab + col, :d])
    new_w[d] -= bias / np.sqrt(G64[row, d])
    new_c[d] -= bias / np.sqrt(G64[vocab + col, d])
    G64[row, :d] += grad_w ** 2
    G64[vocab + col, :d] += grad_c ** 2
    G64[row, d] += bias ** 2
    G64[vocab + col, d] += bias ** 2
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
    bias_rate = np.float32(data.draw(st.sampled_from([1.0, 0.05])))

    ref_W, ref_G, ref_cost = reference_update(W, G, vocab, row, col, log_x, weight, eta, clip,
                                              bias_rate)
    params = core.GloveParams(vector_size=W.shape[1] - 1, learning_rate=float(eta),
                              grad_clip=float(clip), bias_learning_rate=float(bias_rate))
    cost = core.glove_pair_update(W, G, row, col, float(log_x), float(weight), params)
    # float32 kernel vs float64 reference: the dot product of up to 130 terms of
    # size `scale`^2 differs by ~1e-6 relative; vector steps are at most
    # eta * clip / 1, bias steps |fdiff| <= ~20.
    np.testing.assert_allclose(W, ref_W, rtol=2e-5, atol=2e-5 * max(1.0, float(eta)))
    np.testing.assert_allclose(G, ref_G, rtol=2e-4, atol=1e-4)
    assert cost == pytest.approx(ref_cost, rel=1e-4, abs=1e-6)


def test_bias_step_has_no_learning_rate_like_glove_c():
    """Regression: glove.c (since its gradient clipping) steps the biases by
    fdiff / sqrt(G_b) with no eta, and clips the vector gradient before eta.
    One pair from zero vectors: only the biases move, by f * diff exactly."""
    W = np.zeros((2, 3), np.float32)
    W[0, 2], W[1, 2] = 0.25, 0.5           # biases; diff = 0.75 - log_x
    G = np.ones_like(W)
    log_x, weight = np.float32(2.0), np.float32(0.5)
    fdiff = weight * (0.75 - log_x)          # -0.625
    core.glove_pair_update(W, G, 0, 0, float(log_x), float(weight), glove_params(W))
    assert W[0, 2] == pytest.approx(0.25 - fdiff) and W[1, 2] == pytest.approx(0.5 - fdiff)
    assert G[0, 2] == pytest.approx(1 + fdiff ** 2)
    # The clip acts on fdiff * c before eta: |g| = 0.5 * 2 = 1 > clip 0.1 -> 0.1 * eta.
    W = np.array([[2.0, 0.0], [2.0, 0.0]], np.float32)
    G = np.ones_like(W)
    core.glove_pair_update(W, G, 0, 0, 3.5, 0.5, glove_params(W, grad_clip=0.1))  # diff 0.5, fdiff 0.25
    assert W[0, 0] == pytest.approx(2.0 - 0.1 * 0.05) and G[0, 0] == pytest.approx(1 + 0.005 ** 2)


def test_non_finite_pair_is_skipped_like_glove_c():
    W = np.full((2, 4), 0.1, np.float32)
    G = np.ones_like(W)
    before = W.copy()
    assert core.glove_pair_update(W, G, 0, 0, float("nan"), 1.0, glove_params(W)) == 0.0
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
    stats = core.train_glove_epoch(pairs, order, W, G, glove_params(W), progress=core.Progress())
    assert stats["pairs"] == n and stats["skipped"] == 0 and not stats["stopped"]
    assert stats["cost"] == pytest.approx(ref_cost, rel=1e-5)
    np.testing.assert_allclose(W, ref_W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(G, ref_G, rtol=1e-5)


def test_init_like_glove_c():
    W = np.empty((2000, 51), np.float32)
    G = np.empty_like(W)
    core.init_glove(W, G, 1)
    assert (G == 1.0).all()
    # glove.c: uniform in [-0.5, 0.5) / d (d = 50 here), biases included.
    assert W.min() >= -0.5 / 50 and W.max() < 0.5 / 50
    assert abs(W.mean()) < 1e-4 and W.std() == pytest.approx(1 / 50 / np.sqrt(12), rel=0.02)
    W2 = np.empty_like(W)
    core.init_glove(W2, G, 1)
    assert np.array_equal(W, W2)


def test_training_arguments_are_validated():
    W = np.zeros((4, 3), np.float32)
    pairs = np.array([[0, 1, 0, 0]], np.uint32)
    with pytest.raises(ValueError, match=r"order\[0\] = 5 is out of range"):
        core.train_glove_epoch(pairs, np.array([5], np.uint32), W, np.ones_like(W), glove_params(W))
    with pytest.raises(ValueError, match="pair 0 has ids out of range"):
        core.train_glove_epoch(np.array([[0, 9, 0, 0]], np.uint32), np.array([0], np.uint32), W,
                               np.ones_like(W), glove_params(W))
    with pytest.raises(ValueError, match="gradsq has shape"):
        core.train_glove_epoch(pairs, np.array([0], np.uint32), W, np.ones((4, 2), np.float32),
                               glove_params(W))
    with pytest.raises(ValueError, match="weights have 2 vector columns, params.vector_size is 5"):
        core.train_glove_epoch(pairs, np.array([0], np.uint32), W, np.ones_like(W),
                               core.GloveParams(vector_size=5))


# ------------------------------------------------------------------ trainer
@pytest.fixture(scope="module")
def toy_matrix():
    return cooccurrence(make_leaky_toy_corpus(), window=5, min_count=1, workers=2, progress=False)



def test_quality_on_toy_topics(toy_matrix, device, request):
    model = GloVe(vector_size=20, epochs=15, workers=2, seed=3, device=device,
                  progress=False).fit(toy_matrix)
    assert isinstance(model.wv, KeyedVectors) and len(model.wv) == len(toy_matrix.vocab)
    # The leaky toy corpus on every device (conftest: the leak-free one is fit
    # by glove.c's bias steps alone). Calibrated at these settings (2 workers)
    # after the merge of glove-ooc's update rule with cuda-glove:
    #   cpu (seeds 1-20, 3 runs each): margin 1.3242-1.3251 of at most 4/3
    #     (same-topic cosine ~1, cross-topic ~-1/3), precision@5 1.0, last/first
    #     cost 0.0116-0.0154; the cost rises in 3 of 60 runs by up to 0.39%
    #     once (Hogwild; seeds 10, 19), so a 1% rise per epoch is allowed;
    #   cuda-emulated (seeds 1-20, deterministic): margin 1.3241-1.3248,
    #     precision@5 1.0, last/first 0.0122-0.0146, worst rise 0.01% (seed 6);
    #   untrained vectors: margin -0.02.
    # The thresholds leave room for Hogwild noise and still fail for untrained
    # or scrambled vectors. A real GPU runs all ~1,400 pairs of an epoch at
    # once on these 53 words (Hogwild's worst case) and could not be
    # calibrated here (no GPU): it keeps its earlier bounds, all looser than
    # the emulated device's (margin 0.1 < 1.0, precision 0.75 < 0.9, cost
    # halved instead of / 20 with no rise).
    real_gpu = device_kind(request) == "cuda"
    assert topic_margin(model.wv) > (0.1 if real_gpu else 1.0)
    hits = [w.rstrip("0123456789") == n.rstrip("0123456789")
            for w in ("sea3", "fire7", "tree0", "iron11")
            for n, _ in model.wv.most_similar(w, topn=5)]
    assert np.mean(hits) >= (0.75 if real_gpu else 0.9)
    costs = model.cost_history
    assert len(costs) == 15
    if real_gpu:
        assert costs[-1] < 0.5 * costs[0]
    else:
        assert costs[-1] < 0.05 * costs[0] and all(b < 1.01 * a for a, b in zip(costs, costs[1:]))


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


def test_the_sync_dtype_is_kept_and_older_files_synced_float32(tmp_path, toy_matrix,
                                                                monkeypatch):
    model = GloVe(vector_size=4, epochs=1, workers=1, progress=False,
                  sync_dtype="float16").fit(toy_matrix)
    model.save(tmp_path / "m.model")
    assert GloVe.load(tmp_path / "m.model").sync_dtype == "float16"
    save_without_setting(model, tmp_path / "old.model", "sync_dtype", monkeypatch)
    assert GloVe.load(tmp_path / "old.model").sync_dtype == "float32"


def test_stratify_is_kept_and_older_files_trained_without_strata(tmp_path, toy_matrix,
                                                                  monkeypatch):
    model = GloVe(vector_size=4, epochs=1, workers=1, progress=False).fit(toy_matrix)
    assert model.stratify  # the default
    model.save(tmp_path / "m.model")
    assert GloVe.load(tmp_path / "m.model").stratify
    model.stratify = False
    model.save(tmp_path / "off.model")
    assert not GloVe.load(tmp_path / "off.model").stratify
    save_without_setting(model, tmp_path / "old.model", "stratify", monkeypatch)
    assert not GloVe.load(tmp_path / "old.model").stratify


class _TwoRanks:
    """What GloVe._epoch_steps asks of the replicas, as rank 0 of 2 sees it."""
    world_size, rank, is_leader = 2, 0, True

    def everyone(self, flag):
        return flag

    def slices(self, items, interval, can_slice=True):
        return -(-items // interval) if can_slice else 1


def test_the_epoch_goes_in_strata_only_when_the_pairs_are_in_strata(caplog):
    model = GloVe(vector_size=4, workers=1, progress=False, sync_interval=60)
    model._pairs = types.SimpleNamespace(strata=2, stratum_sizes=[100, 90], sliceable=True)
    # rank 0 trains stratum 0 then 1, each in 2 parts of <= 60 pairs: the
    # first stratum's rows pass on after its last part, the last stratum's
    # go with the epoch's last sync
    assert model._epoch_steps(_TwoRanks(), 190) == [
        (0, 0, 2, (), False), (0, 1, 2, (), True), (1, 0, 2, (), False), (1, 1, 2, (), False)]
    model._pairs.strata = 1  # pairs not in strata: summed syncs of the context rows, and a warning
    with caplog.at_level("WARNING", logger="embforge.glove"):
        assert model._epoch_steps(_TwoRanks(), 190) == [
            (None, part, 4, (1, 3), False) for part in range(4)]
    assert "without strata" in caplog.text
    caplog.clear()
    model.stratify = False  # asked for: no warning
    with caplog.at_level("WARNING", logger="embforge.glove"):
        model._epoch_steps(_TwoRanks(), 190)
    assert not caplog.text


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
                            ({"memory": "1 potato"}, "memory"), ({"alpha": float("nan")}, "alpha"),
                            ({"sync_dtype": "float64"}, "sync_dtype must be one of")):
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
    monkeypatch.setattr(glove_module, "run_polled", interrupted_run_polled)
    model = GloVe(vector_size=4, epochs=5, workers=2, device=device, progress=False).fit(toy_matrix)
    assert model.interrupted and model.epochs_trained == 0 and model.cost_history == []
    assert np.isfinite(model.wv.vectors).all()


# ------------------------------------------------------------------ devices
def topic_corpus(n_topics=30, n_words=40, n_sentences=15000, seed=0, leak=0.2):
    """make_leaky_toy_corpus at a larger scale: 1,205 words, ~381k co-occurring
    pairs, enough that a GPU's warps rarely update the same row at once. A
    fraction `leak` of the words comes from a random topic (conftest: without
    leaks glove.c's bias steps fit the matrix and the vectors learn little)."""
    return topic_sentences(corpus_topics(n_topics, n_words), n_sentences, seed, leak)


def corpus_topics(n_topics=30, n_words=40):
    return [[f"t{t}w{i}" for i in range(n_words)] for t in range(n_topics)]


def corpus_margin(wv):
    return topic_margin(wv, corpus_topics())



@pytest.fixture(scope="module")
def topic_matrix():
    return cooccurrence(topic_corpus(), window=5, min_count=1, workers=2, progress=False)


def test_same_seed_same_quality_on_both(topic_matrix, device, request):
    """Tolerance: the margin within 0.02 and the last cost within 1% of the
    CPU's at the same seed. Recalibrated on the leaky topic corpus after the
    merge of glove-ooc's update rule (the leak-free one gave the CPU a margin
    of 0.046 under glove.c's bias steps), seeds 1-8, 2 workers:
    cpu margins 0.858-0.886 (3 runs of seeds 1, 4, 7: within 0.0011),
    untrained -0.001; cuda-emulated (another pair order than the CPU's) at
    most 0.0015 from the CPU's margin and 0.05% from its last cost; the cost
    falls steadily, last/first 0.919-0.920 (the biases fit most of it in the
    first epoch). A real GPU (~8k warps in flight on 2,410 rows) could not be
    calibrated here (no GPU) and keeps looser bounds than the emulated
    device's: margin within 0.03, cost within 10%, any decrease of the cost."""
    kw = dict(vector_size=32, epochs=15, workers=2, seed=4, progress=False)
    cpu = GloVe(**kw).fit(topic_matrix)
    other = GloVe(device=device, **kw).fit(topic_matrix)
    assert np.isfinite(host(other.weights)).all() and np.isfinite(host(other.gradsq)).all()
    real_gpu = device_kind(request) == "cuda"
    margin, cost, fall = (0.03, 0.10, 1.0) if real_gpu else (0.02, 0.01, 0.95)
    assert corpus_margin(cpu.wv) > 0.7
    assert abs(corpus_margin(other.wv) - corpus_margin(cpu.wv)) < margin
    assert other.cost_history[-1] == pytest.approx(cpu.cost_history[-1], rel=cost)
    assert len(other.cost_history) == 15 and other.cost_history[-1] < fall * other.cost_history[0]


@pytest.mark.parametrize("device", GPU_DEVICES, indirect=True)
def test_device_model_stays_on_the_device(toy_matrix, device, request):
    """weights, gradsq and wv's storage are device arrays (never NaN); wv
    follows them after training; the progress counters saw every pair."""
    model = GloVe(vector_size=8, epochs=3, workers=1, device=device, progress=False).fit(toy_matrix)
    assert model.device == "cuda:0" and "device" not in model._config()
    for array in (model.weights, model.gradsq, model._storage, model._pairs.pairs):
        assert on_device(array)
    assert not hasattr(model._pairs, "order")  # the kernel draws the pair order itself
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
        assert model.wv.to_torch().data_ptr() == model._storage.data_ptr()


@pytest.mark.parametrize("device", GPU_DEVICES, indirect=True)
def test_device_pair_order_follows_reshuffle(toy_matrix, device, monkeypatch):
    """The kernel's permutation is keyed by (seed, epoch): a fresh one per
    epoch, or epoch 0's for every epoch with reshuffle=False (glove.c's)."""
    from embforge.backends import cuda_launch
    seen = []
    real = cuda_launch.train_glove_epoch

    def spy(pairs, order, *args, **kw):
        seen.append((order, kw["seed"], kw["epoch"]))
        return real(pairs, order, *args, **kw)

    monkeypatch.setattr(cuda_launch, "train_glove_epoch", spy)
    model = GloVe(vector_size=4, epochs=3, seed=9, device=device, progress=True).fit(toy_matrix)
    model.train(epochs=1)
    GloVe(vector_size=4, epochs=2, seed=9, reshuffle=False, device=device,
          progress=False).fit(toy_matrix)
    assert seen == [(None, 9, 0), (None, 9, 1), (None, 9, 2), (None, 9, 3), (None, 9, 0), (None, 9, 0)]


@pytest.mark.parametrize("device", GPU_DEVICES, indirect=True)
def test_out_of_core_and_bias_rate_are_cpu_only(tmp_path, toy_matrix, device):
    """Out-of-core training is CPU-only: forcing it on a GPU is an error, and
    a matrix on disk (which the CPU trains out of core) is uploaded whole;
    `memory` bounds counting only there. The CUDA kernel has glove.c's bias
    rule only, so another bias_learning_rate is refused, not ignored."""
    with pytest.raises(ValueError, match="out_of_core=True: out-of-core training is CPU-only"):
        GloVe(device=device, out_of_core=True)
    with pytest.raises(ValueError, match="bias_learning_rate=0.05: the CUDA kernel"):
        GloVe(device=device, bias_learning_rate=0.05)
    toy_matrix.save(tmp_path / "x.npz")
    on_disk = Cooccurrence.load(tmp_path / "x.npz", mmap=True)
    kw = dict(vector_size=4, epochs=2, workers=1, memory="1MB", progress=False)
    assert isinstance(GloVe(**kw).fit(on_disk)._pairs, PairBlocks)  # the CPU: out of core
    for choice in (None, False):
        model = GloVe(device=device, out_of_core=choice, **kw).fit(on_disk)
        assert on_device(model._pairs.pairs) and model.epochs_trained == 2  # in device memory
        assert np.isfinite(host(model.weights)).all()
    model.save(tmp_path / "m.glove")
    assert GloVe.load(tmp_path / "m.glove", device=device).bias_learning_rate == 1.0


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
