"""The CUDA word2vec kernel: its shared code (csrc/cuda/w2v_core.cuh) run on
the CPU through the test-built emulation against a numpy oracle and the CPU
backend, the same checks on every device (conftest.DEVICES), real-GPU
checks, and the Python backend's word2vec plumbing on the host fake device.
"""
import json

import numpy as np
import pytest

from embforge._layout import SPARE_ROWS
from embforge._native import core

from conftest import needs_gpu
from cuda_common import (LOOSE, TIGHT, cpu_word2vec_epoch, init_w2v, small_corpus, to_host,
                         topic_separation, w2v_kwargs)
from fake_device import device_kind


# ------------------------------------------- word2vec window vs numpy oracle
def coefficient(dot, label, alpha):  # exact sigmoid with word2vec.c's saturation
    sig = 1.0 / (1.0 + np.exp(-np.clip(dot, -6.0, 6.0)))
    sig = np.where(dot > 6.0, 1.0, np.where(dot < -6.0, 0.0, sig))
    return (label - sig) * alpha


def loss_term(dot, label):
    x = np.clip(dot, -6.0, 6.0)
    return np.log1p(np.exp(-x if label else x))


def skip_gram_oracle(inp, out, contexts, targets, alpha):
    """HogBatch: every gradient from the rows as they were at the window start."""
    labels = np.array([1.0] + [0.0] * (len(targets) - 1))
    dots = inp[contexts].astype(np.float64) @ out[targets].astype(np.float64).T
    coef = coefficient(dots, labels, alpha)
    skip = np.array([k > 0 and targets[k] == targets[0] for k in range(len(targets))])
    coef[:, skip] = 0.0
    loss = sum(loss_term(dots[j, k], labels[k]) for j in range(len(contexts))
               for k in range(len(targets)) if not skip[k])
    d_in, d_out = coef @ out[targets], coef.T @ inp[contexts]
    np.add.at(inp, contexts, d_in.astype(np.float32))
    np.add.at(out, targets, d_out.astype(np.float32))
    return loss


def cbow_oracle(inp, out, contexts, targets, alpha):
    mean = inp[contexts].astype(np.float64).mean(axis=0)
    grad, loss = np.zeros_like(mean), 0.0
    for k, t in enumerate(targets):
        if k > 0 and t == targets[0]:
            continue
        d = float(mean @ out[t])
        g = coefficient(d, 1.0 if k == 0 else 0.0, alpha)
        loss += loss_term(d, k == 0)
        grad += g * out[t]
        out[t] += (g * mean).astype(np.float32)
    np.add.at(inp, contexts, np.broadcast_to(grad.astype(np.float32), (len(contexts), len(grad))))
    return loss


@pytest.mark.parametrize("skip_gram", [True, False])
@pytest.mark.parametrize("lanes,dim,pack", [(1, 17, 1), (1, 16, 4), (3, 17, 1), (32, 100, 4),
                                            (32, 100, 1), (32, 130, 1), (5, 8, 4)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_emulated_window_matches_oracle(emulation, skip_gram, lanes, dim, pack, seed):
    rng = np.random.default_rng(seed)
    vocab = 12
    inp = rng.uniform(-0.5, 0.5, (vocab, dim)).astype(np.float32)
    out = rng.uniform(-0.5, 0.5, (vocab, dim)).astype(np.float32)
    contexts = rng.integers(0, vocab, rng.integers(1, 11)).astype(np.uint32)
    # Distinct targets (the kernel reads a repeated negative after its first
    # update, the oracle before), plus a noise draw of the center to skip.
    targets = rng.permutation(vocab)[:5].astype(np.uint32)
    targets = np.append(targets, targets[0]).astype(np.uint32)
    ref_in, ref_out = inp.copy(), out.copy()
    oracle = skip_gram_oracle if skip_gram else cbow_oracle
    expected = oracle(ref_in, ref_out, contexts, targets, 0.1)
    loss = emulation.emulate_word2vec_window(inp, out, contexts, targets, 0.1, skip_gram,
                                         lanes=lanes, pack=pack)
    assert loss == pytest.approx(expected, rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(inp, ref_in, atol=2e-5)
    np.testing.assert_allclose(out, ref_out, atol=2e-5)


@pytest.mark.parametrize("batch", [1, 3])
def test_emulated_skip_gram_batches_are_sequential_hogbatch(emulation, batch):
    """With fewer scratch rows than contexts, each batch is a HogBatch step
    that sees the output rows the previous batch wrote."""
    rng = np.random.default_rng(5)
    inp = rng.uniform(-0.5, 0.5, (10, 12)).astype(np.float32)
    out = rng.uniform(-0.5, 0.5, (10, 12)).astype(np.float32)
    contexts = rng.integers(0, 10, 7).astype(np.uint32)
    targets = np.array([3, 1, 8, 5], dtype=np.uint32)
    ref_in, ref_out = inp.copy(), out.copy()
    expected = sum(skip_gram_oracle(ref_in, ref_out, contexts[j:j + batch], targets, 0.2)
                   for j in range(0, len(contexts), batch))
    loss = emulation.emulate_word2vec_window(inp, out, contexts, targets, 0.2, True, lanes=4,
                                         batch=batch)
    assert loss == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(inp, ref_in, atol=2e-5)
    np.testing.assert_allclose(out, ref_out, atol=2e-5)


# --------------------------------------------------- word2vec epoch, emulated
@pytest.mark.parametrize("skip_gram", [True, False])
def test_emulated_epoch_independent_of_lanes_spans_and_ranges(emulation, toy, skip_gram):
    """Every random decision is a function of the stream position, so the
    span length, splitting the epoch into ranges and the lane count change
    nothing but float rounding."""
    ids, offsets, vocab_size, tables = small_corpus(toy)
    kw = w2v_kwargs(skip_gram, 0)
    runs = []
    for lanes, span, cuts in [(1, 256, []), (1, 1, []), (1, 7, [100, 101, 555]), (4, 33, [300]),
                              (32, 64, [])]:
        inp, out = init_w2v(vocab_size)
        stats = {"loss": 0.0, "loss_terms": 0, "words_trained": 0, "ids_processed": 0}
        bounds = [0] + cuts + [len(ids)]
        for begin, end in zip(bounds[:-1], bounds[1:]):
            s = emulation.emulate_word2vec_range(ids, offsets, inp, out, *tables, begin=begin, end=end,
                                             lanes=lanes, span=span, **kw)
            for key in stats:
                stats[key] += s[key]
        runs.append((lanes, inp, out, stats))
    _, inp0, out0, stats0 = runs[0]
    assert stats0["ids_processed"] == len(ids)
    for lanes, inp, out, stats in runs[1:]:
        assert stats["words_trained"] == stats0["words_trained"]
        assert stats["loss_terms"] == stats0["loss_terms"]
        assert stats["loss"] == pytest.approx(stats0["loss"], rel=1e-5)
        if lanes == 1:  # same order of every float operation
            np.testing.assert_array_equal(inp, inp0)
            np.testing.assert_array_equal(out, out0)
        else:
            np.testing.assert_allclose(inp, inp0, atol=1e-5)
            np.testing.assert_allclose(out, out0, atol=1e-5)


def test_emulated_epoch_draws_differ_by_epoch_and_seed(emulation, toy):
    ids, offsets, vocab_size, tables = small_corpus(toy)
    results = []
    for seed, epoch in [(1, 0), (1, 1), (2, 0)]:
        inp, out = init_w2v(vocab_size)
        kw = dict(w2v_kwargs(True, epoch), seed=seed)
        results.append(emulation.emulate_word2vec_range(ids, offsets, inp, out, *tables, **kw))
    assert len({r["loss"] for r in results}) == 3


@pytest.mark.parametrize("skip_gram", [True, False])
def test_emulated_epoch_statistics_match_cpu(emulation, toy, skip_gram):
    """Subsampling keeps the same share of words, windows the same number of
    contexts: counts agree with the CPU's within sampling noise."""
    corpus, tables = toy
    vocab_size = len(corpus.vocab)
    totals = {"cpu": np.zeros(2), "gpu": np.zeros(2)}
    for epoch in range(3):
        kw = w2v_kwargs(skip_gram, epoch, 3)
        inp, out = init_w2v(vocab_size)
        s = cpu_word2vec_epoch(corpus.ids, corpus.offsets, inp, out, tables, **kw)
        totals["cpu"] += [s["words_trained"], s["loss_terms"]]
        inp, out = init_w2v(vocab_size)
        s = emulation.emulate_word2vec_range(corpus.ids, corpus.offsets, inp, out, *tables, **kw)
        assert s["ids_processed"] == len(corpus.ids)
        totals["gpu"] += [s["words_trained"], s["loss_terms"]]
    np.testing.assert_allclose(totals["gpu"], totals["cpu"], rtol=0.02)


@pytest.mark.parametrize("skip_gram", [True, False])
def test_emulated_training_quality_matches_cpu(emulation, toy, skip_gram):
    corpus, tables = toy
    vocab_size = len(corpus.vocab)
    quality = {}
    for backend in ("cpu", "emulated"):
        inp, out = init_w2v(vocab_size)
        for epoch in range(5):
            kw = w2v_kwargs(skip_gram, epoch)
            if backend == "cpu":
                cpu_word2vec_epoch(corpus.ids, corpus.offsets, inp, out, tables, **kw)
            else:
                emulation.emulate_word2vec_range(corpus.ids, corpus.offsets, inp, out, *tables, **kw)
        assert np.isfinite(inp).all() and np.isfinite(out).all()
        quality[backend] = topic_separation(corpus.vocab, inp)
    assert quality["cpu"] > 0.4
    assert abs(quality["emulated"] - quality["cpu"]) < 0.05


@pytest.mark.parametrize("dim", [1, 7, 100])
def test_emulated_init_is_the_cpu_init(emulation, dim):
    a = np.empty((50, dim), np.float32)
    b = np.empty((50, dim), np.float32)
    core.init_word2vec_input(a, 42)
    emulation.emulate_word2vec_init(b, 42)
    np.testing.assert_array_equal(a, b)
    w, g = np.empty((20, dim + 1), np.float32), np.empty((20, dim + 1), np.float32)
    w2, g2 = np.empty_like(w), np.empty_like(g)
    core.init_glove(w, g, 9)
    emulation.emulate_glove_init(w2, g2, 9)
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_array_equal(g, g2)


# ------------------------------------------------- cpu / cuda, same checks
def train_w2v(device, corpus, tables, sg, epochs=5, dim=32, chunk_ids=None):
    vocab_size = len(corpus.vocab)
    if device == "cpu":
        inp, out = init_w2v(vocab_size, dim)
    else:
        from embforge.backends import cuda_launch
        storage, out = cuda_launch.allocate_word2vec(vocab_size, dim, 1, "cuda")
        inp = storage[:vocab_size]
    for epoch in range(epochs):
        kw = w2v_kwargs(sg, epoch, epochs)
        if device == "cpu":
            stats = cpu_word2vec_epoch(corpus.ids, corpus.offsets, inp, out, tables, workers=2, **kw)
        else:
            from embforge.backends import cuda_launch
            stats = cuda_launch.train_word2vec_epoch(corpus.ids, corpus.offsets, inp, out, *tables,
                                                      progress=core.Progress(), chunk_ids=chunk_ids, **kw)
    return inp, out, stats


@pytest.mark.parametrize("sg", [True, False])
def test_word2vec_same_quality_on_both(request, toy, device, sg):
    corpus, tables = toy
    inp, out, stats = train_w2v(device, corpus, tables, sg)
    if device_kind(request) == "cuda":
        torch = pytest.importorskip("torch")
        assert inp.is_cuda and out.is_cuda
        assert bool(torch.isfinite(inp).all()) and bool(torch.isfinite(out).all())  # on the device
    assert stats["ids_processed"] == len(corpus.ids) and not stats["stopped"]
    quality = topic_separation(corpus.vocab, to_host(inp))
    if device == "cpu":
        assert quality > 0.4
        return
    reference = topic_separation(corpus.vocab, train_w2v("cpu", corpus, tables, sg)[0])
    # LOOSE/TIGHT: not calibrated on hardware yet (cuda_common.py says the plan)
    assert abs(quality - reference) < LOOSE
    calm = train_w2v(device, corpus, tables, sg, chunk_ids=2048)[0]  # 8 warps per launch
    assert abs(topic_separation(corpus.vocab, to_host(calm)) - reference) < TIGHT


@pytest.mark.cuda
@needs_gpu
def test_cuda_init_is_the_cpu_init():
    from embforge.backends import cuda_launch
    storage, out = cuda_launch.allocate_word2vec(300, 50, 7, "cuda")
    expected = np.empty((300, 50), np.float32)
    core.init_word2vec_input(expected, 7)
    np.testing.assert_array_equal(to_host(storage)[:300], expected)
    assert not to_host(storage)[300:].any() and not to_host(out).any()
    w, g = cuda_launch.allocate_glove(40, 10, 3, "cuda")
    w2, g2 = np.empty((80, 11), np.float32), np.empty((80, 11), np.float32)
    core.init_glove(w2, g2, 3)
    np.testing.assert_array_equal(to_host(w), w2)
    np.testing.assert_array_equal(to_host(g), g2)


@pytest.mark.cuda
@needs_gpu
def test_cuda_word2vec_odd_dimension_and_stop(toy):
    """dim % 4 != 0 takes the scalar path; a stop request before the call
    trains nothing and says so."""
    corpus, tables = toy
    inp, out, stats = train_w2v("cuda", corpus, tables, True, epochs=2, dim=33)
    assert np.isfinite(to_host(inp)).all()
    from embforge.backends import cuda_launch
    progress = core.Progress()
    progress.request_stop()
    s = cuda_launch.train_word2vec_epoch(corpus.ids, corpus.offsets, inp, out, *tables,
                                          progress=progress, **w2v_kwargs(True, 0))
    assert s["stopped"] and s["ids_processed"] == 0


@pytest.mark.cuda
@needs_gpu
def test_cuda_word2vec_copies_nothing_to_host(toy, tmp_path):
    """Only the per-launch scalars come back: device-to-host bytes stay tiny
    while the model is many kilobytes."""
    torch = pytest.importorskip("torch")
    from torch.profiler import ProfilerActivity, profile
    from embforge.backends import cuda_launch, device_arrays
    corpus, tables = toy
    storage, out = cuda_launch.allocate_word2vec(len(corpus.vocab), 64, 1, "cuda")
    inp = storage[:len(corpus.vocab)]
    ids = device_arrays.to_device(corpus.ids, "cuda:0")  # uploads happen before profiling
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        stats = cuda_launch.train_word2vec_epoch(
            ids, device_arrays.to_device(corpus.offsets, "cuda:0"), inp, out,
            *(device_arrays.to_device(t, "cuda:0") for t in tables), chunk_ids=8192,
            **w2v_kwargs(True, 0))
        torch.cuda.synchronize()
    trace = tmp_path / "trace.json"
    prof.export_chrome_trace(str(trace))
    events = json.loads(trace.read_text()).get("traceEvents", [])
    copies = [e for e in events if e.get("cat") == "gpu_memcpy"]
    if not copies:
        pytest.skip("the profiler recorded no memcpy activity (CUPTI unavailable)")
    to_host_bytes = sum(e.get("args", {}).get("bytes", 0) for e in copies if "DtoH" in e.get("name", ""))
    launches = -(-len(corpus.ids) // 8192)
    assert stats["ids_processed"] == len(corpus.ids)
    assert to_host_bytes <= 64 * (launches + 2) < inp.numel() * 4


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("sg", [1, 0])
def test_word2vec_trainer_on_cuda(toy_corpus_path, sg):
    """The trainer's device branch: vectors on the GPU, quality as on the CPU."""
    pytest.importorskip("embforge.keyedvectors")
    from embforge import Word2Vec
    models = {d: Word2Vec(sg=sg, vector_size=32, min_count=1, epochs=5, workers=2, device=d,
                          progress=False).fit(toy_corpus_path) for d in ("cpu", "cuda")}
    quality = {d: topic_separation(m.vocab, to_host(m._storage[:len(m.vocab)]) if d == "cuda"
                                   else m.wv.vectors) for d, m in models.items()}
    assert models["cuda"].syn1neg.is_cuda
    # LOOSE: not calibrated on hardware yet (cuda_common.py says the plan)
    assert abs(quality["cuda"] - quality["cpu"]) < LOOSE
    # the host view of the vectors follows the device buffer after training
    np.testing.assert_array_equal(models["cuda"].wv.vectors,
                                  to_host(models["cuda"]._storage[:len(models["cuda"].vocab)]))


# ------------------------------------------ the Python backend, fake device
@pytest.mark.parametrize("skip_gram", [True, False])
def test_backend_word2vec_plumbing(emulation, fake_device, toy, skip_gram):
    backend = fake_device
    corpus, tables = toy
    v = len(corpus.vocab)
    storage, out = backend.allocate_word2vec(v, 24, 1, "cuda")
    assert tuple(storage.shape) == (v + SPARE_ROWS, 24) and not storage[v:].any() and not out.any()
    expected_in = np.empty((v, 24), np.float32)
    core.init_word2vec_input(expected_in, 1)
    np.testing.assert_array_equal(storage[:v].numpy(), expected_in)
    expected_out = np.zeros((v, 24), np.float32)
    kw = w2v_kwargs(skip_gram, 1)
    progress = core.Progress()
    stats = backend.train_word2vec_epoch(corpus.ids, corpus.offsets, storage[:v], out, *tables,
                                         progress=progress, chunk_ids=5000, **kw)
    reference = emulation.emulate_word2vec_range(corpus.ids, corpus.offsets, expected_in, expected_out,
                                             *tables, **kw)
    assert set(stats) == set(cpu_word2vec_epoch(
        corpus.ids[:10], np.array([0, 10]), np.zeros((v, 4), np.float32), np.zeros((v, 4), np.float32),
        tables, **kw))
    # Chunks of 5000 positions cut spans differently: identical results
    # (positional randomness), up to float summation order.
    assert stats["words_trained"] == reference["words_trained"]
    assert stats["ids_processed"] == len(corpus.ids) and not stats["stopped"]
    assert stats["loss"] == pytest.approx(reference["loss"], rel=1e-6)
    np.testing.assert_allclose(storage[:v].numpy(), expected_in, atol=1e-6)
    assert progress.work_done == len(corpus.ids) and progress.loss_count == stats["loss_terms"]
    assert progress.learning_rate == pytest.approx(kw["alpha_end"])
    # the corpus and the tables were uploaded once, then reused
    from embforge.backends import device_arrays
    assert len(device_arrays._copies) == 5
    backend.train_word2vec_epoch(corpus.ids, corpus.offsets, storage[:v], out, *tables, **kw)
    assert len(device_arrays._copies) == 5
    progress.request_stop()
    stopped = backend.train_word2vec_epoch(corpus.ids, corpus.offsets, storage[:v], out, *tables,
                                           progress=progress, **kw)
    assert stopped["stopped"] and stopped["ids_processed"] == 0


def test_backend_word2vec_checks_arguments(fake_device, toy):
    backend = fake_device
    corpus, tables = toy
    v = len(corpus.vocab)
    storage, out = backend.allocate_word2vec(v, 8, 1, "cuda")
    with pytest.raises(ValueError, match="output has shape"):
        backend.train_word2vec_epoch(corpus.ids, corpus.offsets, storage[:v], out[:5], *tables,
                                     **w2v_kwargs(True, 0))
    with pytest.raises(ValueError, match="device array"):
        backend.train_word2vec_epoch(corpus.ids, corpus.offsets, np.zeros((v, 8), np.float32), out,
                                     *tables, **w2v_kwargs(True, 0))
    with pytest.raises(ValueError, match="int64"):
        backend.train_word2vec_epoch(corpus.ids, corpus.offsets.astype(np.int32), storage[:v], out,
                                     *tables, **w2v_kwargs(True, 0))


@pytest.mark.parametrize("sg", [1, 0])
def test_trainer_device_branch(fake_device, toy_corpus_path, sg):
    """Word2Vec(device="cuda") allocates through the backend and trains through it."""
    from embforge import Word2Vec
    kw = dict(sg=sg, vector_size=16, min_count=1, epochs=3, workers=1, progress=False)
    cuda = Word2Vec(device="cuda", **kw).fit(toy_corpus_path)
    cpu = Word2Vec(device="cpu", **kw).fit(toy_corpus_path)
    assert cuda.device == "cuda:0" and len(cuda.training_loss) == 3 and cuda.epochs_trained == 3
    vectors = cuda._storage[:len(cuda.vocab)].numpy()
    assert np.isfinite(vectors).all() and cuda.syn1neg.shape == (len(cuda.vocab), 16)
    q_cuda = topic_separation(cuda.vocab, vectors)
    q_cpu = topic_separation(cpu.vocab, cpu.wv.vectors)
    assert q_cpu > 0.3 and abs(q_cuda - q_cpu) < 0.08


# ------------------------------------------------ compute_loss=False (speed)
@pytest.mark.parametrize("skip_gram", [True, False])
def test_emulated_range_without_loss_trains_the_same(emulation, toy, skip_gram):
    """compute_loss=False skips the loss terms only: the same weights bit for
    bit, loss and loss terms 0, the same words trained."""
    ids, offsets, vocab, tables = small_corpus(toy, 60)
    kw = w2v_kwargs(skip_gram, 0)
    runs = []
    for compute_loss in (True, False):
        inp, out = init_w2v(vocab, 16)
        stats = emulation.emulate_word2vec_range(ids, offsets, inp, out, *tables, lanes=4,
                                                 compute_loss=compute_loss, **kw)
        runs.append((inp, out, stats))
    (inp, out, with_loss), (inp2, out2, without) = runs
    np.testing.assert_array_equal(inp2, inp)
    np.testing.assert_array_equal(out2, out)
    assert with_loss["loss"] > 0 and with_loss["loss_terms"] > 0
    assert without["loss"] == 0 and without["loss_terms"] == 0
    assert without["words_trained"] == with_loss["words_trained"]


# ------------------------------------------- speed variants (Launch.variant)
PIPELINED, BOUNDED, SPAN_QUEUE = 4, 8, 16  # launch.h: kPipelinedLoads, kBoundedRegisters, kSpanQueue


@pytest.mark.parametrize("skip_gram", [True, False])
@pytest.mark.parametrize("lanes,dim,pack,batch", [(1, 16, 4, 0), (1, 17, 1, 3), (4, 16, 4, 0),
                                                  (3, 17, 1, 0), (32, 40, 4, 9)])
def test_emulated_pipelined_loads_train_the_same(emulation, toy, skip_gram, lanes, dim, pack, batch):
    """kPipelinedLoads moves loads, never arithmetic: the same weights bit for
    bit and the same counts as the default path (window 6: up to 12 contexts,
    more than one load group of 8; batch 3 and 9 cut them into passes)."""
    ids, offsets, vocab, tables = small_corpus(toy, 40)
    kw = dict(w2v_kwargs(skip_gram, 0), window=6)
    runs = []
    for variant in (0, PIPELINED):
        inp, out = init_w2v(vocab, dim)
        stats = emulation.emulate_word2vec_range(ids, offsets, inp, out, *tables, lanes=lanes, pack=pack,
                                                 batch=batch, span=50, variant=variant, **kw)
        runs.append((inp, out, stats))
    (inp, out, default), (inp2, out2, pipelined) = runs
    assert default["words_trained"] > 0
    for key in ("words_trained", "loss_terms", "loss"):
        assert pipelined[key] == default[key]
    np.testing.assert_array_equal(inp2, inp)
    np.testing.assert_array_equal(out2, out)


@pytest.mark.parametrize("lanes", [1, 4])
def test_emulated_pipelined_prefetches_the_next_centres_rows(emulation, toy, lanes):
    """With every word kept, the next centre after p is p + 1 in the same
    span: while p trains, its output row and its noise words' are prefetched
    (one group of 1 + negative rows per centre that has a successor in its
    span), whole rows, all inside the output matrix (the emulation refuses
    any other address)."""
    ids, offsets, vocab, (_, noise_keep, noise_alias) = small_corpus(toy, 30)
    keep_all = np.full(vocab, 0xFFFFFFFF, np.uint32)
    dim, span, negative = 12, 37, 5
    inp, out = init_w2v(vocab, dim)
    kw = dict(w2v_kwargs(True, 0), negative=negative)
    stats = emulation.emulate_word2vec_range(ids, offsets, inp, out, keep_all, noise_keep, noise_alias,
                                             lanes=lanes, span=span, variant=PIPELINED, trace_prefetch=True,
                                             **kw)
    assert stats["words_trained"] == len(ids)
    successors = [p + 1 for b in range(0, len(ids), span) for p in range(b, min(b + span, len(ids)) - 1)]
    rows = stats["prefetched"]
    assert len(rows) == (1 + negative) * len(successors)
    assert all(floats == dim for _, floats in rows)
    if lanes == 1:  # one lane prefetches the centre's row, then its noise words', in order
        assert [r for r, _ in rows[::1 + negative]] == [int(ids[q]) for q in successors]
    else:
        centres = sorted(int(ids[q]) for q in successors)
        counts = np.bincount([r for r, _ in rows], minlength=vocab)
        assert all(counts[w] >= centres.count(w) for w in set(centres))
    plain = emulation.emulate_word2vec_range(ids, offsets, *init_w2v(vocab, dim), keep_all, noise_keep,
                                             noise_alias, span=span, trace_prefetch=True, **kw)
    assert plain["prefetched"] == []  # the default path prefetches nothing


@pytest.mark.parametrize("skip_gram", [True, False])
@pytest.mark.parametrize("workers,lanes,span", [(1, 1, 13), (4, 1, 13), (3, 2, 64), (8, 1, 1)])
def test_emulated_span_queue_trains_every_span_exactly_once(emulation, toy, skip_gram, workers, lanes,
                                                            span):
    """kSpanQueue: warps (here threads, each an emulated warp) take span
    indices from one counter. Every span is taken exactly once, so the words
    trained and loss terms (positional draws, independent of the weights) are
    the static split's; one worker takes the spans in order and trains the
    same weights bit for bit. Several workers race on the model like warps
    (Hogwild): their weights differ only in rounding and lost updates."""
    ids, offsets, vocab, tables = small_corpus(toy, 80)
    kw = w2v_kwargs(skip_gram, 0)
    begin, end = 7, len(ids) - 5  # a range that cuts spans at both ends
    inp, out = init_w2v(vocab, 16)
    static = emulation.emulate_word2vec_range(ids, offsets, inp, out, *tables, begin=begin, end=end,
                                              lanes=lanes, span=span, **kw)
    assert "span_claims" not in static
    inp2, out2 = init_w2v(vocab, 16)
    queued = emulation.emulate_word2vec_range(ids, offsets, inp2, out2, *tables, begin=begin, end=end,
                                              lanes=lanes, span=span, variant=SPAN_QUEUE, workers=workers,
                                              **kw)
    claims = queued["span_claims"]
    assert len(claims) == -(-(end - begin) // span) and (claims == 1).all()
    assert queued["words_trained"] == static["words_trained"] > 0
    assert queued["loss_terms"] == static["loss_terms"]
    if workers == 1:
        np.testing.assert_array_equal(inp2, inp)
        np.testing.assert_array_equal(out2, out)
    else:
        assert np.isfinite(inp2).all() and np.isfinite(out2).all()
        np.testing.assert_allclose(inp2, inp, atol=0.05)


def test_emulated_span_queue_refuses_workers_without_it(emulation, toy):
    ids, offsets, vocab, tables = small_corpus(toy, 10)
    with pytest.raises(ValueError, match="workers=3"):
        emulation.emulate_word2vec_range(ids, offsets, *init_w2v(vocab, 8), *tables, workers=3,
                                         **w2v_kwargs(True, 0))


@pytest.mark.parametrize("variant", [PIPELINED, SPAN_QUEUE, PIPELINED | BOUNDED | SPAN_QUEUE])
def test_backend_word2vec_passes_the_variant(emulation, fake_device, toy, variant):
    """train_word2vec_epoch(variant=...) reaches the launcher's Launch; the
    fake device runs the variant's emulated path (the queue on 4 workers):
    the same counts as the default path, the queue's counter in counts[2]."""
    backend = fake_device
    corpus, tables = toy
    v = len(corpus.vocab)
    kw = w2v_kwargs(True, 0)
    results = []
    for run_variant in (0, variant):
        storage, out = backend.allocate_word2vec(v, 16, 1, "cuda")
        stats = backend.train_word2vec_epoch(corpus.ids, corpus.offsets, storage[:v], out, *tables,
                                             chunk_ids=3000, variant=run_variant, **kw)
        results.append((storage[:v].numpy().copy(), stats))
    (default_in, default), (variant_in, stats) = results
    from embforge import _native
    assert _native.cuda_module().launches[-1].variant == variant
    assert stats["words_trained"] == default["words_trained"] and stats["loss_terms"] == default["loss_terms"]
    if not variant & SPAN_QUEUE:
        np.testing.assert_array_equal(variant_in, default_in)
