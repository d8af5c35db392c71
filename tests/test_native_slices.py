"""Native calls that train part of an epoch, for trainers that synchronise
between the parts (distributed training): Word2Vec epoch slices
(Word2VecParams.slice_index/slice_count/rng_start, word2vec_slice_ids) and
GloVe on a slice of the epoch's permutation."""
import numpy as np
import pytest

from embforge._native import core

M64 = (1 << 64) - 1
CHUNK_IDS = 1 << 14  # csrc/cpu/word2vec.cpp kChunkIds


# ------------------------------------------------------------ oracle: chunk order
def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class SplitMix64:
    """random.h's SplitMix64, in Python."""

    def __init__(self, seed, stream=0):
        self.state = mix64(seed ^ mix64((stream + 0x632BE59BD9B4E019) & M64))

    def next32(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        return mix64(self.state) >> 32


def epoch_chunks(offsets, seed, epoch):
    """The epoch's chunks (first, end sentence) in visiting order, as
    word2vec.cpp's epoch_chunks builds and shuffles them."""
    n = len(offsets) - 1
    chunks, s = [], 0
    while s < n:
        end = int(np.searchsorted(offsets[:n], offsets[s] + CHUNK_IDS, side="left"))
        chunks.append((s, min(max(s + 1, end), n)))
        s = chunks[-1][1]
    rng = SplitMix64(seed, (epoch << 32) | 0xFFFFFFFF)
    for k in range(len(chunks) - 1, 0, -1):
        j = (rng.next32() * (k + 1)) >> 32
        chunks[k], chunks[j] = chunks[j], chunks[k]
    return chunks


def slice_chunks(chunks, index, count):
    n = len(chunks)
    return chunks[n * index // count:n * (index + 1) // count]


# ------------------------------------------------------------------ fixtures
def ragged_corpus(seed=0, vocab=300, n_ids=120_000):
    """Zipf-ish ids in sentences of 1-400 ids: about 7 chunks of work."""
    rng = np.random.default_rng(seed)
    ids = (rng.zipf(1.4, n_ids).clip(1, vocab) - 1).astype(np.uint32)
    cuts = np.sort(rng.choice(np.arange(1, n_ids), n_ids // 150, replace=False))
    offsets = np.concatenate([[0], cuts, [n_ids]]).astype(np.int64)
    counts = np.bincount(ids, minlength=vocab).astype(np.int64)
    keep = core.subsampling_thresholds(counts, 1e-3)  # subsampling on: draws per id
    noise_keep, noise_alias = core.build_alias_table(counts.astype(np.float64) ** 0.75 + 1.0)
    return ids, offsets, (keep, noise_keep, noise_alias)


def model(vocab, dim, seed=3):
    inp = np.empty((vocab, dim), np.float32)
    core.init_word2vec_input(inp, seed)
    rng = np.random.default_rng(seed)
    return inp, rng.uniform(-0.1, 0.1, (vocab, dim)).astype(np.float32)


def w2v_params(dim, **kw):
    return core.Word2VecParams(**{"vector_size": dim, "window": 4, "negative": 3, "seed": 5,
                                  "epoch": 2, "workers": 1, "alpha_start": 0.02,
                                  "alpha_end": 0.02, **kw})


# ---------------------------------------------------------------- word2vec
@pytest.mark.parametrize("skip_gram", [True, False])
@pytest.mark.parametrize("slices", [2, 3, 12])  # 12: more slices than chunks (some empty)
def test_chained_slices_equal_one_call_bit_for_bit(skip_gram, slices):
    # One worker, slices 0..k-1 in order, each starting its random stream
    # where the previous one ended (rng_start = rng_end): the same draws,
    # the same updates, the same vectors as one whole-epoch call. The learning
    # rate is constant here: a call updates it every ~10k ids counted from
    # its own start, so with a decaying rate the steps of k calls fall at
    # other positions than those of one call (see test_slice_learning_rate...).
    ids, offsets, tables = ragged_corpus()
    vocab, dim = len(tables[0]), 12
    one_in, one_out = model(vocab, dim)
    whole = core.train_word2vec_epoch(ids, offsets, one_in, one_out, *tables,
                                      w2v_params(dim, skip_gram=skip_gram))
    assert whole["ids_processed"] == len(ids) and whole["rng_end"] > 0

    inp, out = model(vocab, dim)
    rng_start, ids_done, trained, loss = 0, 0, 0, 0.0
    for i in range(slices):
        stats = core.train_word2vec_epoch(
            ids, offsets, inp, out, *tables,
            w2v_params(dim, skip_gram=skip_gram, slice_index=i, slice_count=slices,
                       rng_start=rng_start))
        assert stats["rng_end"] >= rng_start
        rng_start = stats["rng_end"]
        ids_done += stats["ids_processed"]
        trained += stats["words_trained"]
        loss += stats["loss"]
    assert np.array_equal(inp, one_in) and np.array_equal(out, one_out)
    assert rng_start == whole["rng_end"]
    assert (ids_done, trained) == (whole["ids_processed"], whole["words_trained"])
    assert loss == pytest.approx(whole["loss"], rel=1e-9)  # summed in other groupings


def test_slices_without_chained_streams_differ():
    # The test above can fail: restarting every slice's stream at 0 reuses
    # the first slice's draws and changes the vectors.
    ids, offsets, tables = ragged_corpus()
    vocab, dim = len(tables[0]), 8
    one_in, one_out = model(vocab, dim)
    core.train_word2vec_epoch(ids, offsets, one_in, one_out, *tables, w2v_params(dim))
    inp, out = model(vocab, dim)
    for i in range(2):
        core.train_word2vec_epoch(ids, offsets, inp, out, *tables,
                                  w2v_params(dim, slice_index=i, slice_count=2))
    assert not np.array_equal(inp, one_in)


def grouped_corpus(groups=9, words=8):
    """Chunk k (16 sentences of 1024 ids) uses words [k*words, (k+1)*words)
    only, so the input rows a call changes tell which chunks it trained."""
    rng = np.random.default_rng(1)
    ids = np.concatenate([rng.integers(k * words, (k + 1) * words, CHUNK_IDS)
                          for k in range(groups)]).astype(np.uint32)
    offsets = np.arange(0, len(ids) + 1, 1024, dtype=np.int64)
    n = groups * words
    keep = np.full(n, 2**32 - 1, dtype=np.uint32)
    noise_keep, noise_alias = core.build_alias_table(np.ones(n))
    return ids, offsets, (keep, noise_keep, noise_alias), words


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("count", [1, 2, 4])
def test_a_slice_trains_its_part_of_the_shuffled_chunk_list(workers, count):
    ids, offsets, tables, words = grouped_corpus()
    vocab, dim, seed, epoch = len(tables[0]), 4, 7, 3
    chunks = epoch_chunks(offsets, seed, epoch)
    assert len(chunks) == 9 and all(e - f == 16 for f, e in chunks)
    expected_ids = [sum(int(offsets[e] - offsets[f]) for f, e in slice_chunks(chunks, i, count))
                    for i in range(count)]
    assert core.word2vec_slice_ids(offsets, seed, epoch, count).tolist() == expected_ids
    rng_start = 0
    for i in range(count):
        inp, out = model(vocab, dim)
        before = inp.copy()
        progress = core.Progress()
        stats = core.train_word2vec_epoch(
            ids, offsets, inp, out, *tables,
            w2v_params(dim, seed=seed, epoch=epoch, workers=workers, slice_index=i,
                       slice_count=count, rng_start=rng_start),
            progress=progress)
        rng_start = stats["rng_end"]
        groups = {f // 16 for f, _ in slice_chunks(chunks, i, count)}
        changed = np.any(inp != before, axis=1).reshape(-1, words).all(axis=1)
        untouched = ~np.any(inp != before, axis=1).reshape(-1, words).any(axis=1)
        assert set(np.flatnonzero(changed)) == groups
        assert set(np.flatnonzero(untouched)) == set(range(9)) - groups
        assert stats["ids_processed"] == expected_ids[i] == progress.work_total == progress.work_done


def test_slice_learning_rate_runs_over_the_slice():
    # A quarter of the epoch with alpha 0.4 -> 0.1: the last rate set is
    # near 0.1, not near 0.325 (where it would be if the rate ran over the
    # whole corpus's ids).
    ids, offsets, tables = ragged_corpus(n_ids=200_000)
    vocab, dim = len(tables[0]), 4
    inp, out = model(vocab, dim)
    sizes = core.word2vec_slice_ids(offsets, 5, 2, 4)
    assert sizes.sum() == len(ids) and sizes.min() > 30_000
    progress = core.Progress()
    core.train_word2vec_epoch(ids, offsets, inp, out, *tables,
                              w2v_params(dim, alpha_start=0.4, alpha_end=0.1, slice_index=1,
                                         slice_count=4),
                              progress=progress)
    # Rate steps every >= 10k ids, so the last one is set within ~10k + one
    # sentence (400 ids) of the slice's end: at most 0.3 * 10.4k / 30k above 0.1.
    assert 0.1 <= progress.learning_rate <= 0.1 + 0.3 * 10_400 / sizes[1]


def test_workers_streams_move_past_every_draw():
    ids, offsets, tables = ragged_corpus()
    vocab, dim = len(tables[0]), 4
    inp, out = model(vocab, dim)
    first = core.train_word2vec_epoch(ids, offsets, inp, out, *tables,
                                      w2v_params(dim, workers=2, slice_count=2))
    second = core.train_word2vec_epoch(ids, offsets, inp, out, *tables,
                                       w2v_params(dim, workers=2, slice_index=1, slice_count=2,
                                                  rng_start=first["rng_end"]))
    # Every kept id draws at least one number (its window), plus one per id
    # for subsampling: the furthest thread drew at least half of a slice's.
    assert first["rng_end"] >= first["ids_processed"] // 2
    assert second["rng_end"] - first["rng_end"] >= second["ids_processed"] // 2


def test_slice_parameters_are_validated():
    ids, offsets, tables = ragged_corpus(n_ids=2000)
    vocab, dim = len(tables[0]), 4
    inp, out = model(vocab, dim)
    with pytest.raises(ValueError, match=r"slice_index must be in \[0, 3\).*got 3"):
        core.train_word2vec_epoch(ids, offsets, inp, out, *tables,
                                  w2v_params(dim, slice_index=3, slice_count=3))
    with pytest.raises(ValueError, match=r"slice_index must be in \[0, 2\).*got -1"):
        core.train_word2vec_epoch(ids, offsets, inp, out, *tables,
                                  w2v_params(dim, slice_index=-1, slice_count=2))
    with pytest.raises(ValueError, match="slice_count must be >= 1, got 0"):
        core.train_word2vec_epoch(ids, offsets, inp, out, *tables, w2v_params(dim, slice_count=0))
    with pytest.raises(ValueError, match="slice_count must be >= 1, got -2"):
        core.word2vec_slice_ids(offsets, 1, 0, -2)
    with pytest.raises(ValueError, match="offsets must not decrease"):
        core.word2vec_slice_ids(np.array([0, 5, 3], np.int64), 1, 0, 2)
    assert core.word2vec_slice_ids(np.array([0], np.int64), 1, 0, 3).tolist() == [0, 0, 0]


def test_new_fields_default_to_the_whole_epoch():
    p = core.Word2VecParams()
    assert (p.slice_index, p.slice_count, p.rng_start) == (0, 1, 0)
    p = core.Word2VecParams(slice_index=2, slice_count=5, rng_start=2**64 - 1)
    assert eval(repr(p), {"Word2VecParams": core.Word2VecParams}).rng_start == 2**64 - 1


# ------------------------------------------------------------------- GloVe
def glove_setup(n=3000, vocab=60, dim=6, seed=2):
    rng = np.random.default_rng(seed)
    keys = rng.choice(vocab * vocab, n, replace=False)
    rows, cols = (keys // vocab).astype(np.int32), (keys % vocab).astype(np.int32)
    values = rng.uniform(0.2, 300.0, n).astype(np.float32)
    pairs = core.make_glove_pairs(rows, cols, values, vocab, 100.0, 0.75)
    weights = np.empty((2 * vocab, dim + 1), np.float32)
    gradsq = np.empty_like(weights)
    core.init_glove(weights, gradsq, 4)
    return pairs, weights, gradsq


def glove_params(weights):
    return core.GloveParams(vector_size=weights.shape[1] - 1, learning_rate=0.05, workers=1)


@pytest.mark.parametrize("cuts", [[1234], [0], [3000], [1, 2048, 2049, 2999], [500, 1500, 2500]])
def test_glove_slices_of_one_permutation_equal_one_call(cuts):
    pairs, W, G = glove_setup()
    order = np.empty(len(pairs), np.uint32)
    core.glove_shuffle(order, 9, 1, 1)
    one_W, one_G = W.copy(), G.copy()
    whole = core.train_glove_epoch(pairs, order, one_W, one_G, glove_params(W))
    bounds = [0, *cuts, len(order)]
    cost, visited = 0.0, 0
    for lo, hi in zip(bounds, bounds[1:]):
        stats = core.train_glove_epoch(pairs, order[lo:hi], W, G, glove_params(W))
        assert stats["pairs"] == hi - lo
        cost += stats["cost"]
        visited += stats["pairs"]
    assert np.array_equal(W, one_W) and np.array_equal(G, one_G)
    assert visited == whole["pairs"] and cost == pytest.approx(whole["cost"], rel=1e-9)


def test_glove_slice_trains_only_its_pairs():
    pairs, W, G = glove_setup(n=200, vocab=30)
    before = W.copy()
    picked = np.array([7, 3, 150], np.uint32)
    core.train_glove_epoch(pairs, picked, W, G, glove_params(W))
    vocab = W.shape[0] // 2
    touched = set(pairs[picked, 0].tolist()) | {vocab + c for c in pairs[picked, 1].tolist()}
    assert set(np.flatnonzero(np.any(W != before, axis=1))) == touched


def test_glove_slice_order_is_checked():
    pairs, W, G = glove_setup(n=10, vocab=5)
    with pytest.raises(ValueError, match="order has 11 entries, more than the 10 pairs"):
        core.train_glove_epoch(pairs, np.zeros(11, np.uint32), W, G, glove_params(W))
    with pytest.raises(ValueError, match=r"order\[1\] = 10 is out of range"):
        core.train_glove_epoch(pairs, np.array([0, 10], np.uint32), W, G, glove_params(W))
    bad = pairs.copy()
    bad[4, 1] = 99
    with pytest.raises(ValueError, match="pair 4 has ids out of range"):
        core.train_glove_epoch(bad, np.array([2, 4], np.uint32), W, G, glove_params(W))
    core.train_glove_epoch(bad, np.array([2, 3], np.uint32), W, G, glove_params(W))  # 4 unvisited
    stats = core.train_glove_epoch(pairs, np.zeros(0, np.uint32), W, G, glove_params(W))
    assert stats["pairs"] == 0
