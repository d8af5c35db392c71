"""The CUDA GloVe kernels: the pair records, the keyed visiting order and the
update (csrc/cuda/glove_core.cuh) run on the CPU through the test-built
emulation against the CPU backend, the same training check on every device
(conftest.DEVICES), and the Python backend's co-occurrence -> pairs -> epoch
plumbing on the host fake device.
"""
import numpy as np
import pytest

from embforge._native import core

from conftest import needs_gpu
from cuda_common import cpu_cooccur, cpu_glove_epoch, to_host, topic_separation
from fake_device import device_kind


# ------------------------------------------------------------ GloVe, emulated
TIGHT_ORDER, STAGED_UPDATE = 2, 1  # Launch.variant bits (launch.h)


@pytest.mark.parametrize("variant", [0, TIGHT_ORDER])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 17, 64, 65, 1000, 4097])
def test_glove_order_is_a_permutation(emulation, n, variant):
    order = emulation.emulate_glove_order(n, 7, 3, variant)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))


@pytest.mark.parametrize("variant", [0, TIGHT_ORDER])
def test_glove_order_looks_shuffled(emulation, variant):
    n = 20000
    a, b = emulation.emulate_glove_order(n, 1, 0, variant), emulation.emulate_glove_order(n, 1, 1, variant)
    assert not np.array_equal(a, b)
    steps = np.arange(n)
    assert abs(np.corrcoef(steps, a)[0, 1]) < 0.05      # not the identity
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.05          # epochs independent
    # the first tenth of the steps visits all parts of the pair array alike
    hist = np.bincount(a[: n // 10] * 10 // n, minlength=10)
    assert hist.min() > 0.7 * hist.mean()


@pytest.mark.parametrize("n", [4097, 70000, 300000])
def test_tight_order_walks_at_most_two_steps(emulation, n):
    """Cycle walking's cost, in network evaluations per step: the tight
    order's domain is below 2n; the balanced one's up to 4n (n just above a
    power of 4: ~4 steps)."""
    tight = emulation.glove_order_evaluations(n, 1, 0, TIGHT_ORDER) / n
    balanced = emulation.glove_order_evaluations(n, 1, 0) / n
    domain = 1 << max(1, (n - 1).bit_length())
    assert tight == pytest.approx(domain / n, rel=0.05) and tight < 2.05
    assert balanced >= tight


@pytest.mark.parametrize("lanes,dim", [(32, 20), (32, 100), (6, 20), (32, 300), (1, 4)])
def test_staged_update_is_the_default_update(emulation, glove_pairs, lanes, dim):
    """The staged variant loads first and prefetches, nothing else: the same
    weights bit for bit (dim 300 > 4 per lane x 32 lanes falls back)."""
    corpus, _, pairs = glove_pairs
    v = len(corpus.vocab)
    results = []
    for variant in (0, STAGED_UPDATE, STAGED_UPDATE | TIGHT_ORDER, TIGHT_ORDER):
        w, g = np.empty((2 * v, dim + 1), np.float32), np.empty((2 * v, dim + 1), np.float32)
        emulation.emulate_glove_init(w, g, 1)
        s = emulation.emulate_glove_range(pairs, None, w, g, learning_rate=0.05, grad_clip=100.0,
                                          seed=1, epoch=0, lanes=lanes, variant=variant)
        results.append((w, g, s))
    for (w0, g0, s0), (w1, g1, s1) in (results[:2], results[2:]):  # staged vs not, per order
        np.testing.assert_array_equal(w1, w0)
        np.testing.assert_array_equal(g1, g0)
        assert s1 == s0
    assert not np.array_equal(results[0][0], results[2][0])  # the tight order is another order


def test_emulated_glove_pairs_equal_cpu(emulation, glove_pairs):
    corpus, (rows, cols, values), pairs = glove_pairs
    got, invalid = emulation.emulate_glove_pairs(rows, cols, values, len(corpus.vocab), 100.0, 0.75)
    np.testing.assert_array_equal(got, pairs)
    assert invalid == 0
    bad_values = values.copy()
    bad_values[:3] = [0.0, -1.0, np.nan]
    _, invalid = emulation.emulate_glove_pairs(rows, cols, bad_values, len(corpus.vocab), 100.0, 0.75)
    assert invalid == 3


@pytest.mark.parametrize("lanes", [1, 6, 32])
def test_emulated_glove_epoch_matches_cpu(emulation, glove_pairs, lanes):
    """Given the CPU's order, the kernel's pair loop is the CPU's update."""
    corpus, _, pairs = glove_pairs
    v, dim = len(corpus.vocab), 20
    w, g = np.empty((2 * v, dim + 1), np.float32), np.empty((2 * v, dim + 1), np.float32)
    core.init_glove(w, g, 3)
    w2, g2 = w.copy(), g.copy()
    order = np.empty(len(pairs), np.uint32)
    core.glove_shuffle(order, len(pairs), 1, 0)
    cpu = cpu_glove_epoch(pairs, order, w, g, learning_rate=0.05, grad_clip=100.0)
    got = emulation.emulate_glove_range(pairs, order, w2, g2, learning_rate=0.05, grad_clip=100.0,
                                    seed=1, epoch=0, lanes=lanes)
    assert got["pairs"] == cpu["pairs"] and got["skipped"] == cpu["skipped"]
    assert got["cost"] == pytest.approx(cpu["cost"], rel=1e-5)
    np.testing.assert_allclose(w2, w, atol=1e-5)
    np.testing.assert_allclose(g2, g, rtol=1e-5)


@pytest.mark.parametrize("variant", [0, TIGHT_ORDER])
def test_emulated_glove_device_order_trains(emulation, glove_pairs, variant):
    corpus, _, pairs = glove_pairs
    v, dim = len(corpus.vocab), 16
    w, g = np.empty((2 * v, dim + 1), np.float32), np.empty((2 * v, dim + 1), np.float32)
    emulation.emulate_glove_init(w, g, 1)
    costs = [emulation.emulate_glove_range(pairs, None, w, g, learning_rate=0.05, grad_clip=100.0,
                                       seed=1, epoch=e, variant=variant)["cost"] for e in range(10)]
    assert costs[-1] < 0.5 * costs[0]
    assert np.isfinite(w).all()


# ------------------------------------------------- cpu / cuda, same checks
@pytest.mark.parametrize("chunk_pairs", [None, 64])
def test_glove_trains_on_both(request, glove_pairs, device, chunk_pairs):
    if device == "cpu" and chunk_pairs:
        pytest.skip("chunk_pairs sizes CUDA launches; the CPU epoch is one call")
    corpus, (rows, cols, values), pairs = glove_pairs
    v, dim = len(corpus.vocab), 16
    if device == "cpu":
        w, g = np.empty((2 * v, dim + 1), np.float32), np.empty((2 * v, dim + 1), np.float32)
        core.init_glove(w, g, 1)
    else:
        from embforge.backends import cuda_launch
        w, g = cuda_launch.allocate_glove(v, dim, 1, "cuda")
        device_pairs = cuda_launch.make_glove_pairs(rows, cols, values, v, 100.0, 0.75)
        np.testing.assert_array_equal(to_host(device_pairs).view(np.uint32), pairs)
    costs = []
    for epoch in range(10):
        if device == "cpu":
            order = np.empty(len(pairs), np.uint32)
            core.glove_shuffle(order, len(pairs), 1, epoch)
            s = cpu_glove_epoch(pairs, order, w, g, learning_rate=0.05, grad_clip=100.0)
        else:
            s = cuda_launch.train_glove_epoch(device_pairs, None, w, g, learning_rate=0.05,
                                               grad_clip=100.0, seed=1, epoch=epoch,
                                               progress=core.Progress(), chunk_pairs=chunk_pairs)
        assert s["pairs"] == len(pairs) and s["skipped"] == 0
        costs.append(s["cost"])
    # halving the cost in 10 epochs: from CPU and emulated runs, not yet seen on a GPU
    assert costs[-1] < 0.5 * costs[0]
    assert np.isfinite(to_host(w)).all() and np.isfinite(to_host(g)).all()
    main = to_host(w)[:v, :dim] + to_host(w)[v:, :dim]
    # CPU: 1.328-1.329 for init seeds 1-8 (of at most 4/3); a default CUDA launch
    # races ~1000 warps on 53 words (thresholds there not recalibrated since the
    # leaky corpus: no GPU at hand, so kept as loose as before). The real-GPU
    # bounds (0.1 default launch, 0.3 with chunk_pairs) were never calibrated on
    # hardware; plan: from the first GPU lease, log this separation over init
    # seeds 1-8 per launch kind and set each bound to mean - 3 standard deviations.
    real_gpu = device_kind(request) == "cuda"
    assert topic_separation(corpus.vocab, main) > (0.1 if real_gpu and not chunk_pairs
                                                   else 0.3 if real_gpu else 1.0)


# ------------------------------------------ the Python backend, fake device
def test_backend_cooccur_and_glove_plumbing(emulation, fake_device, toy, tmp_path):
    backend = fake_device
    corpus, _ = toy
    v = len(corpus.vocab)
    kw = dict(window=8, symmetric=True, distance_weighting=True)
    expected = cpu_cooccur(corpus.ids, corpus.offsets, v, tmp_path, **kw)
    rows, cols, values, stats = backend.count_cooccurrences(corpus.ids, corpus.offsets, v, **kw)
    np.testing.assert_array_equal(rows.numpy(), expected[0])
    np.testing.assert_array_equal(cols.numpy(), expected[1])
    np.testing.assert_array_equal(values.numpy().view(np.uint32), expected[2].view(np.uint32))
    cpu_only = {"result_file_counts", "nnz"}  # the CPU count's result-to-files report
    assert set(expected[3]) - cpu_only <= set(stats)
    assert stats["pair_updates"] == expected[3]["pair_updates"]

    pairs = backend.make_glove_pairs(rows, cols, values, v, 100.0, 0.75)
    np.testing.assert_array_equal(pairs.numpy().view(np.uint32),
                                  core.make_glove_pairs(*expected[:3], v, 100.0, 0.75))
    with pytest.raises(ValueError, match="entries"):
        backend.make_glove_pairs(rows, cols, -values, v, 100.0, 0.75)
    weights, gradsq = backend.allocate_glove(v, 12, 5, "cuda")
    w2, g2 = np.empty((2 * v, 13), np.float32), np.empty((2 * v, 13), np.float32)
    core.init_glove(w2, g2, 5)
    np.testing.assert_array_equal(weights.numpy(), w2)
    progress = core.Progress()
    s = backend.train_glove_epoch(pairs, None, weights, gradsq, learning_rate=0.05, grad_clip=100.0,
                                  seed=1, epoch=0, progress=progress, chunk_pairs=700)
    reference = emulation.emulate_glove_range(pairs.numpy().view(np.uint32), None, w2, g2,
                                          learning_rate=0.05, grad_clip=100.0, seed=1, epoch=0)
    assert s["cost"] == pytest.approx(reference["cost"], rel=1e-9)  # summed per chunk
    assert (s["pairs"], s["skipped"], s["stopped"]) == (reference["pairs"], reference["skipped"], False)
    np.testing.assert_array_equal(weights.numpy(), w2)
    assert progress.work_done == len(rows) and progress.loss_sum == pytest.approx(s["cost"])
    order = np.empty(len(rows), np.uint32)
    core.glove_shuffle(order, len(rows), 1, 1)
    s = backend.train_glove_epoch(pairs, order, weights, gradsq, learning_rate=0.05, grad_clip=100.0)
    assert s["pairs"] == len(rows)
    # the speed variants reach the kernel (here: its emulation) through Launch.variant
    w2, g2 = weights.numpy().copy(), gradsq.numpy().copy()
    reference = emulation.emulate_glove_range(pairs.numpy().view(np.uint32), None, w2, g2, learning_rate=0.05,
                                              grad_clip=100.0, seed=1, epoch=2, lanes=32, variant=3)
    s = backend.train_glove_epoch(pairs, None, weights, gradsq, learning_rate=0.05, grad_clip=100.0,
                                  seed=1, epoch=2, chunk_pairs=700, variant=3)
    assert s["pairs"] == reference["pairs"] and s["cost"] == pytest.approx(reference["cost"], rel=1e-9)
    np.testing.assert_array_equal(weights.numpy(), w2)


@pytest.mark.cuda
@needs_gpu
def test_cuda_trainers_launch_on_the_callers_stream(toy_corpus_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from embforge import GloVe
    from embforge.backends import cuda_launch
    seen = []
    real = cuda_launch.train_glove_epoch

    def spy(*args, **kw):
        seen.append(torch.cuda.current_stream().cuda_stream)
        return real(*args, **kw)

    monkeypatch.setattr(cuda_launch, "train_glove_epoch", spy)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        model = GloVe(vector_size=8, epochs=2, min_count=1, device="cuda", progress=False)
        model.fit(toy_corpus_path)
    stream.synchronize()
    assert seen == [stream.cuda_stream] * 2
    assert np.isfinite(model.wv.vectors).all()


# ------------------------------------ pairs in strata (distributed GloVe)
def _strata_setup(glove_pairs, strata):
    from embforge.backends import get_backend
    from embforge.cooccurrence import Cooccurrence
    corpus, (rows, cols, values), _ = glove_pairs
    matrix = Cooccurrence(rows, cols, values, corpus.vocab)
    options = dict(x_max=100.0, alpha=0.75, memory_bytes=1 << 26, vector_size=12,
                   out_of_core=False, seed=3, workers=1, temp_dir=None, strata=strata)
    return (get_backend("cuda").glove_pairs(matrix, **options),
            get_backend("cpu").glove_pairs(matrix, **options), len(corpus.vocab))


def test_device_pairs_in_strata_are_the_cpu_s(emulation, fake_device, glove_pairs):
    device, cpu, _ = _strata_setup(glove_pairs, 3)
    # the same records, grouped by context word % 3 in the matrix's order
    assert device.strata == cpu.strata == 3 and device.stratum_sizes == cpu.stratum_sizes
    np.testing.assert_array_equal(to_host(device.pairs).view(np.uint32), cpu.pairs)
    starts = np.cumsum([0] + device.stratum_sizes)
    for stratum in range(3):
        assert (cpu.pairs[starts[stratum]:starts[stratum + 1], 1] % 3 == stratum).all()
    one, _, _ = _strata_setup(glove_pairs, 1)  # one stratum: the matrix's order, as before
    assert one.strata == 1 and one.stratum_sizes == [len(cpu.pairs)]


def test_a_device_stratum_trains_its_pairs_alone_and_in_parts(emulation, fake_device, glove_pairs):
    from embforge.backends import cuda_launch
    pairs, _, v = _strata_setup(glove_pairs, 3)
    params = core.GloveParams(vector_size=12, learning_rate=0.05, grad_clip=100.0, seed=3, epoch=1)
    start = cuda_launch.allocate_glove(v, 12, 5, "cuda")
    runs = []
    for parts in (1, 3):
        weights, gradsq = (a.clone() for a in start)
        visited = sum(pairs.train_epoch(weights, gradsq, params, progress=None, part=part,
                                        parts=parts, stratum=2)["pairs"] for part in range(parts))
        assert visited == pairs.stratum_sizes[2]
        runs.append(to_host(weights))
    # the parts are slices of the stratum's one permutation: the same updates
    np.testing.assert_array_equal(runs[0], runs[1])
    changed = np.flatnonzero((runs[0] != to_host(start[0])).any(axis=1))
    contexts = changed[changed >= v] - v
    assert len(contexts) and (contexts % 3 == 2).all()  # only stratum 2's context rows
    with pytest.raises(ValueError, match="stratum must be in"):
        pairs.train_epoch(weights, gradsq, params, progress=None, stratum=3)
