"""Word2Vec: kernel against a numpy oracle, determinism, quality, API, bad input."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge import Word2Vec
from embforge._native import core

from conftest import make_toy_corpus, save_without_setting, topic_margin
from negative_sampling import (LOSS_POSITIVE, MAX_EXP, SIGMOID_TABLE, TABLE_SIZE, coefficient,
                               loss_term, score_targets, table_index, table_step_slack)


def test_tables_approximate_the_exact_functions():
    # Half a table step (6/1024) moves sigmoid by <= 0.25 * 6/1024 and the loss by <= 6/1024.
    x = np.linspace(-5.99, 5.99, 10001)
    approx = np.array([SIGMOID_TABLE[table_index(v)] for v in x])
    assert np.abs(approx - 1 / (1 + np.exp(-x))).max() <= 0.25 * MAX_EXP / TABLE_SIZE
    approx_loss = np.array([LOSS_POSITIVE[table_index(v)] for v in x])
    assert np.abs(approx_loss - np.log1p(np.exp(-x))).max() <= MAX_EXP / TABLE_SIZE


def skip_gram_reference(inp, out, contexts, targets, alpha):
    """HogBatch skip-gram with the kernel's documented order of updates."""
    labels = np.array([1.0] + [0.0] * (len(targets) - 1))
    dots = inp[contexts].astype(np.float64) @ out[targets].astype(np.float64).T
    coef = np.array([[coefficient(d, labels[k], alpha) for k, d in enumerate(row)] for row in dots])
    skip = np.array([k > 0 and targets[k] == targets[0] for k in range(len(targets))])
    coef[:, skip] = 0.0
    loss = sum(loss_term(dots[j, k], labels[k]) for j in range(len(contexts))
               for k in range(len(targets)) if not skip[k])
    start_out = out[targets].astype(np.float64)
    d_out = np.zeros_like(start_out)
    for j, row in enumerate(contexts):  # a repeated context sees its earlier update
        d_out += np.outer(coef[j], inp[row])
        inp[row] += (coef[j] @ start_out).astype(np.float32)
    np.add.at(out, targets, d_out.astype(np.float32))
    return loss


def cbow_reference(inp, out, contexts, targets, alpha):
    """word2vec.c CBOW with the kernel's documented order of updates."""
    mean = inp[contexts].astype(np.float64).mean(axis=0)
    grad, loss = score_targets(out, mean, targets, alpha)
    np.add.at(inp, contexts, np.broadcast_to(grad.astype(np.float32), (len(contexts), len(grad))))
    return loss


@pytest.mark.parametrize("skip_gram", [True, False])
@given(data=st.data())
def test_window_update_matches_numpy_oracle(skip_gram, data):
    vocab = data.draw(st.integers(2, 12))
    dim = data.draw(st.sampled_from([1, 3, 16, 17, 50, 100, 130]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = data.draw(st.sampled_from([0.01, 0.3, 1.0]))  # 1.0 saturates many dots
    inp = rng.uniform(-scale, scale, (vocab, dim)).astype(np.float32)
    out = rng.uniform(-scale, scale, (vocab, dim)).astype(np.float32)
    contexts = np.array(data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=10)),
                        dtype=np.uint32)
    n_targets = data.draw(st.sampled_from([1, 2, 6, 6, 6, 8]))  # 6: the specialised negative=5 path
    targets = np.array(data.draw(st.lists(st.integers(0, vocab - 1), min_size=n_targets,
                                          max_size=n_targets)), dtype=np.uint32)
    alpha = data.draw(st.sampled_from([0.025, 0.1, 0.5]))

    ref_in, ref_out = inp.copy(), out.copy()
    reference = skip_gram_reference if skip_gram else cbow_reference
    ref_loss = reference(ref_in, ref_out, contexts, targets, alpha)
    loss = core.word2vec_window_update(inp, out, contexts, targets, alpha, skip_gram)

    # Only float32 rounding separates the two (dot products summed in another
    # order), except where a dot lies on a step of the tables: there the two
    # may read neighbouring entries (hypothesis found one: CBOW, a loss 0.0096
    # apart), so each such dot adds one table step to the tolerances.
    terms = len(contexts) * len(targets)
    hidden = (inp[contexts].astype(np.float64) if skip_gram
              else inp[contexts].astype(np.float64).mean(axis=0, keepdims=True))
    moved, stepped = table_step_slack(hidden @ out[targets].astype(np.float64).T, alpha,
                                      max(np.abs(inp).max(), np.abs(out).max()), len(contexts))
    np.testing.assert_allclose(inp, ref_in, atol=1e-5 * terms + moved, rtol=1e-4)
    np.testing.assert_allclose(out, ref_out, atol=1e-5 * terms + moved, rtol=1e-4)
    assert abs(loss - ref_loss) <= 1e-5 * terms * (1 + abs(ref_loss)) + stepped


def test_window_update_moves_rows():
    # Guards against a vacuous oracle comparison: the update must change both matrices.
    rng = np.random.default_rng(0)
    inp = rng.normal(0, 0.1, (5, 8)).astype(np.float32)
    out = rng.normal(0, 0.1, (5, 8)).astype(np.float32)
    before = inp.copy(), out.copy()
    core.word2vec_window_update(inp, out, np.array([1, 2], np.uint32), np.array([0, 3, 4], np.uint32),
                                0.5, True)
    assert not np.allclose(inp, before[0]) and not np.allclose(out, before[1])


def test_alias_table_frequencies():
    weights = np.array([1.0, 0.0, 3.0, 6.0])
    keep, alias = core.build_alias_table(weights)
    # P(i) = (keep[i] + sum over columns c aliasing to i of (2^32 - keep[c])) / (n 2^32)
    p = keep.astype(np.float64).copy()
    for c in range(len(weights)):
        p[alias[c]] += 2.0**32 - keep[c] if alias[c] != c else 0.0
    p /= len(weights) * 2.0**32
    np.testing.assert_allclose(p, weights / weights.sum(), atol=1e-8)


def test_subsampling_thresholds_match_gensim_formula():
    counts = np.array([100000, 5000, 50, 5], dtype=np.int64)
    sample = 1e-3
    thresholds = core.subsampling_thresholds(counts, sample)
    t = sample * counts.sum()
    expected = np.minimum((np.sqrt(counts / t) + 1) * t / counts, 1.0)
    np.testing.assert_allclose(np.minimum(thresholds / 2.0**32, 1.0), expected, atol=1e-9)
    assert thresholds[-1] == 2**32 - 1  # rare words are always kept


# ------------------------------------------------------------------ training

@pytest.mark.parametrize("sg", [1, 0])
def test_learns_topics(toy_corpus_path, sg):
    # Calibration: with these settings seeds 1-5 gave margins of 0.746-0.765
    # (skip-gram) and 0.896-0.937 (CBOW); untrained vectors give 0.017 (see the
    # test below). 0.5 leaves room for thread-timing noise but fails a kernel
    # that learns nothing, or learns with the wrong sign.
    model = Word2Vec(sg=sg, vector_size=32, window=3, min_count=1, epochs=5, workers=2,
                     sample=0, seed=1).fit(toy_corpus_path)
    assert topic_margin(model.wv) > 0.5
    assert model.training_loss[-1] < model.training_loss[0]


def train_with_hot_rows(model, sg, epochs):
    """Epochs with 2 workers and every row private to each thread (hot_rows.h)."""
    corpus, (keep, noise_keep, noise_alias) = model._corpus, model._tables
    for epoch in range(epochs):
        params = core.Word2VecParams(
            vector_size=model.wv.vectors.shape[1], skip_gram=bool(sg), window=3, negative=5,
            shrink_windows=True, alpha_start=0.025 * (1 - epoch / epochs),
            alpha_end=0.025 * (1 - (epoch + 1) / epochs), seed=1, epoch=epoch, workers=2,
            hot_rows=len(model.vocab))
        core.train_word2vec_epoch(corpus.ids, corpus.offsets, model.wv.vectors, model.syn1neg, keep,
                                  noise_keep, noise_alias, params, progress=core.Progress())
    model.wv._invalidate()


@pytest.mark.parametrize("sg", [1, 0])
def test_hot_rows_learn(toy_corpus_path, sg):
    # With 2 workers each thread trains rows [0, hot_rows) in a private copy,
    # merged into the shared rows every 4096 ids. Here every row is private,
    # so all learning reaches the model through merges. Calibration (seeds
    # 1-5): margins 0.730-0.739 (skip-gram; 0.732-0.738 with hot_rows=0) and
    # 0.81-0.92 (CBOW; 0.88-0.92); without merges the vectors keep their
    # initial margin (~0.02, test below).
    model = Word2Vec(sg=sg, vector_size=32, window=3, min_count=1, workers=2, sample=0, seed=1)
    train_with_hot_rows(model.build_vocab(corpus_file=toy_corpus_path), sg, epochs=5)
    assert topic_margin(model.wv) > 0.5


@pytest.mark.parametrize("sg", [1, 0])
def test_hot_rows_final_merge(tmp_path, sg):
    # 200 sentences: each thread reads fewer ids than one merge interval, so
    # only the merge at the end of its slice publishes its changes.
    path = tmp_path / "short.txt"
    path.write_text("\n".join(" ".join(s) for s in make_toy_corpus(200)) + "\n")
    model = Word2Vec(sg=sg, vector_size=8, window=3, min_count=1, workers=2, sample=0, seed=1)
    model.build_vocab(corpus_file=str(path))
    assert model._corpus.n_tokens < 2 * 4096
    vectors, outputs = model.wv.vectors.copy(), model.syn1neg.copy()
    train_with_hot_rows(model, sg, epochs=1)
    assert np.all(np.any(model.wv.vectors != vectors, axis=1))  # every word occurs in context
    assert np.all(np.any(model.syn1neg != outputs, axis=1))     # ... and as a center


def test_untrained_vectors_have_no_topic_margin(toy_corpus_path):
    model = Word2Vec(sg=1, vector_size=32, min_count=1, workers=1).build_vocab(toy_corpus_path)
    assert abs(topic_margin(model.wv)) < 0.1


@pytest.mark.parametrize("sg", [1, 0])
def test_single_worker_is_deterministic(toy_corpus_path, sg):
    runs = [Word2Vec(sg=sg, vector_size=16, min_count=1, epochs=2, workers=1, seed=7)
            .fit(toy_corpus_path) for _ in range(2)]
    assert np.array_equal(runs[0].wv.vectors, runs[1].wv.vectors)
    assert np.array_equal(runs[0].syn1neg, runs[1].syn1neg)
    assert runs[0].training_loss == runs[1].training_loss
    other = Word2Vec(sg=sg, vector_size=16, min_count=1, epochs=2, workers=1, seed=8).fit(toy_corpus_path)
    assert not np.array_equal(other.wv.vectors, runs[0].wv.vectors)



def grouped_chunk_corpus(groups=8, words=16):
    """`groups` chunks of the kernel's 16,384 ids (16 sentences of 1,024), chunk
    k made of words [k * words, (k + 1) * words) only, in file order."""
    rng = np.random.default_rng(3)
    ids = np.concatenate([rng.integers(k * words, (k + 1) * words, 16 * 1024) for k in range(groups)])
    offsets = np.arange(0, len(ids) + 1, 1024, dtype=np.int64)
    n = groups * words
    keep = np.full(n, 2**32 - 1, dtype=np.uint32)  # no subsampling
    noise_keep, noise_alias = core.build_alias_table(np.ones(n))
    return ids.astype(np.uint32), offsets, (keep, noise_keep, noise_alias)


def group_steps(seed, workers, groups=8, words=16, dim=8):
    """Mean change of each group's input rows after one epoch whose learning
    rate falls from 0.05 to 0: the group trained last moves least."""
    ids, offsets, tables = grouped_chunk_corpus(groups, words)
    rng = np.random.default_rng(0)
    inp = rng.uniform(-0.5, 0.5, (groups * words, dim)).astype(np.float32) / dim
    out = rng.uniform(-0.5, 0.5, (groups * words, dim)).astype(np.float32) / dim
    before = inp.copy()
    params = core.Word2VecParams(vector_size=dim, skip_gram=True, window=3, negative=2,
                                 shrink_windows=True, alpha_start=0.002, alpha_end=0.0, seed=seed,
                                 epoch=0, workers=workers)
    stats = core.train_word2vec_epoch(ids, offsets, inp, out, *tables, params,
                                      progress=core.Progress())
    assert stats["ids_processed"] == stats["words_trained"] == len(ids)
    return np.abs(inp - before).reshape(groups, words * dim).mean(axis=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_epoch_visits_every_chunk_in_a_shuffled_order(workers):
    # In file order, the chunk trained last (smallest steps) would be the
    # file's last in every run, and epochs on a corpus made of two sources
    # would always end on the second (analogy -0.016 on the benchmark corpus).
    last = []
    for seed in range(1, 7):
        steps = group_steps(seed, workers)
        assert np.all(steps > 0), "a chunk was never trained"
        last.append(int(np.argmin(steps)))
    assert len(set(last)) >= 3, last



@pytest.mark.parametrize("sg", [True, False])
def test_non_finite_weights_do_not_crash_the_kernel(sg):
    # A NaN dot product once indexed the sigmoid table at INT_MIN (segfault).
    ids, offsets, tables = grouped_chunk_corpus(groups=1)
    inp = np.full((16, 8), np.nan, np.float32)
    out = np.zeros((16, 8), np.float32)
    params = core.Word2VecParams(vector_size=inp.shape[1], skip_gram=sg, window=5, negative=5,
                                 shrink_windows=True, alpha_start=0.025, alpha_end=0.0, seed=1,
                                 epoch=0, workers=1)
    stats = core.train_word2vec_epoch(ids, offsets, inp, out, *tables, params,
                                      progress=core.Progress())
    assert stats["ids_processed"] == len(ids)


@pytest.mark.parametrize("sg", [1, 0])
def test_divergence_is_reported(toy_corpus_path, sg):
    # alpha 10 sends the toy run to inf/NaN within the first epoch.
    model = Word2Vec(sg=sg, vector_size=16, min_count=1, workers=1, epochs=3, alpha=10.0)
    with pytest.raises(FloatingPointError, match="diverged in epoch 1.*smaller alpha"):
        model.fit(toy_corpus_path)
    assert model.epochs_trained == 0


@pytest.mark.parametrize("sg, alpha", [(1, 0.4), (0, 0.6)])
def test_finite_but_exploded_weights_are_divergence_too(toy_corpus_path, sg, alpha):
    # At these rates the toy run's weights grow to 1e4-1e30 in epoch 1 and stay
    # finite (measured: skip-gram 1.2e4, CBOW 2.5e4); trained weights stay
    # below 4 (alpha 0.2, 50 epochs). Checking for NaN/inf only, the run
    # "succeeded" and saved them.
    model = Word2Vec(sg=sg, vector_size=16, min_count=1, workers=1, epochs=2, alpha=alpha)
    with pytest.raises(FloatingPointError,
                       match=r"diverged in epoch 1: the weights grew past 1000 \(largest .*smaller alpha"):
        model.fit(toy_corpus_path)
    assert model.epochs_trained == 0


def test_divergence_across_ranks_names_the_sync_interval():
    class TwoRanks:
        world_size = 2

    model = Word2Vec(sg=1, vector_size=4, min_count=1, workers=1)
    model.build_vocab([["a", "b"]] * 3)
    model._replicas = TwoRanks()
    model.syn1neg[0, 0] = 2e6
    with pytest.raises(FloatingPointError, match=r"grew past 1000 \(largest 2e\+06\).*"
                       r"sync the 2 ranks more often \(hot_sync_interval, now 16384 ids a rank\)"):
        model._check_not_diverged(1, 0.025, ("hot_sync_interval", 16384))
    model.syn1neg[0, 0] = 999.0
    model._check_not_diverged(1, 0.025, ("hot_sync_interval", 16384))  # below the limit


def test_gensim_style_constructor_trains_at_once():
    sentences = make_toy_corpus(300)
    model = Word2Vec(sentences=sentences, vector_size=8, min_count=1, workers=1, epochs=1)
    assert model.epochs_trained == 1 and "sea0" in model.wv
    gensim_style = Word2Vec(vector_size=8, min_count=1, workers=1)
    gensim_style.build_vocab(sentences)
    gensim_style.train(sentences, total_examples=len(sentences), epochs=2)
    assert gensim_style.epochs_trained == 2 and len(gensim_style.training_loss) == 2


def test_stop_leaves_a_usable_model(toy_corpus_path):
    class StopAtSecondEpoch:
        def on_epoch_begin(self, model):
            if model.epochs_trained == 1:
                model.stop()

    model = Word2Vec(sg=1, vector_size=16, min_count=1, workers=2, epochs=5,
                     callbacks=[StopAtSecondEpoch()]).fit(toy_corpus_path)
    assert model.interrupted and model.epochs_trained == 2
    assert np.isfinite(model.wv.vectors).all()
    model.train(toy_corpus_path, epochs=1)  # a stopped model trains again
    assert not model.interrupted and model.epochs_trained == 3


def test_save_load_resume(tmp_path, toy_corpus_path):
    model = Word2Vec(sg=1, vector_size=16, min_count=1, workers=1, epochs=1, seed=3).fit(toy_corpus_path)
    model.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.wv.vectors, model.wv.vectors)
    assert np.array_equal(loaded.syn1neg, model.syn1neg)
    assert loaded.wv.index_to_key == model.wv.index_to_key
    assert loaded.training_loss == model.training_loss and loaded.epochs_trained == 1
    # Resuming gives exactly what continuing the original does.
    model.train(toy_corpus_path, epochs=1)
    loaded.train(toy_corpus_path, epochs=1)
    assert np.array_equal(loaded.wv.vectors, model.wv.vectors)


@pytest.mark.parametrize("payload", [b"", b"PK\x03\x04garbage", b"not a model at all"])
def test_load_rejects_bad_files(tmp_path, payload):
    path = tmp_path / "bad.npz"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match="not an embforge"):
        Word2Vec.load(path)


def test_load_rejects_wrong_shapes(tmp_path, toy_corpus_path):
    model = Word2Vec(vector_size=8, min_count=1, workers=1, epochs=1).fit(toy_corpus_path)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = dict(archive)
    arrays["syn1neg"] = arrays["syn1neg"][:-1]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="syn1neg has shape"):
        Word2Vec.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("kwargs,match", [
    (dict(window=-1), "window"), (dict(window=0), "window"), (dict(vector_size=0), "vector_size"),
    (dict(alpha=0.0), "alpha"), (dict(alpha=-1.0), "alpha"), (dict(negative=0), "negative"),
    (dict(epochs=0), "epochs"), (dict(workers=0), "workers"), (dict(sample=-0.1), "sample"),
    (dict(min_count=-2), "min_count"), (dict(hs=1), "hierarchical"), (dict(vector_size=2.5), "vector_size"),
    (dict(device="tpu"), "device"),
])
def test_absurd_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Word2Vec(**kwargs)


def test_more_workers_than_sentences():
    with pytest.raises(ValueError, match="workers=4 exceeds the 2 sentences"):
        Word2Vec(sentences=[["a", "b"], ["b", "a"]], min_count=1, workers=4)


def test_cuda_unavailable_says_why():
    from embforge import cuda_available
    if cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="unavailable"):
        Word2Vec(device="cuda")


def test_corpus_ids_out_of_vocabulary_are_rejected(toy_corpus_path):
    # A hand-made EncodedCorpus whose ids exceed the vocabulary must not reach the kernel.
    from embforge import EncodedCorpus
    model = Word2Vec(vector_size=8, min_count=1, workers=1, epochs=1).build_vocab(toy_corpus_path)
    bad = EncodedCorpus(model.vocab, np.array([0, 1, len(model.vocab)], dtype=np.uint32),
                        np.array([0, 3], dtype=np.int64), raw_tokens=3, dropped_tokens=0)
    with pytest.raises(ValueError, match="out of range for a vocabulary"):
        model.train(bad, epochs=1)


def test_a_slice_checks_its_own_ids_before_training(toy_corpus_path):
    # A slice of an epoch (distributed training calls hundreds) checks the ids
    # of the chunks it trains, not the whole corpus: a bad id fails exactly the
    # slice holding it, and that slice leaves the model as it was.
    from embforge import EncodedCorpus
    model = Word2Vec(vector_size=8, min_count=1, workers=1, epochs=1,
                     progress=False).build_vocab(toy_corpus_path)
    good = model._corpus
    assert len(good.ids) > 2 * (1 << 14)  # chunks of 16k ids (epoch_chunks.h): one a slice
    ids = good.ids.copy()
    ids[len(ids) // 2] = len(model.vocab)
    bad = EncodedCorpus(model.vocab, ids, good.offsets, raw_tokens=good.raw_tokens,
                        dropped_tokens=0)
    failed = []
    for part in range(3):
        before = [model.wv.vectors.copy(), model.syn1neg.copy()]
        try:
            model._train_epoch(bad, 0.025, 0.02, 0, part, 3)
        except ValueError as error:
            assert f"id {len(model.vocab)} in the corpus is out of range" in str(error)
            failed.append(part)
            assert np.array_equal(before[0], model.wv.vectors)
            assert np.array_equal(before[1], model.syn1neg)
        else:
            assert not np.array_equal(before[1], model.syn1neg)  # it trained
    assert len(failed) == 1


def test_sync_settings_survive_a_save_and_an_older_file_adds_every_row(tmp_path, monkeypatch,
                                                                       toy_corpus_path):
    model = Word2Vec(vector_size=8, min_count=1, workers=1, epochs=1, progress=False,
                     hot_sync_rows=7, hot_sync_interval=999, hot_average_rows=5,
                     hot_average_momentum=0.25).fit(toy_corpus_path)
    model.save(tmp_path / "m.embf")
    back = Word2Vec.load(tmp_path / "m.embf")
    assert (back.hot_sync_rows, back.hot_sync_interval, back.hot_average_rows,
            back.hot_average_momentum) == (7, 999, 5, 0.25)
    assert back.sync_interval is None  # the default: whole syncs with the tiers
    model.sync_interval = 123_456
    model.save(tmp_path / "given.embf")
    assert Word2Vec.load(tmp_path / "given.embf").sync_interval == 123_456
    # a file written before hot_average_rows existed was trained adding every
    # row's changes: it loads with 0 rows averaged (what its checkpoints say)
    save_without_setting(model, tmp_path / "old.embf", "hot_average_rows", monkeypatch)
    assert Word2Vec.load(tmp_path / "old.embf").hot_average_rows == 0
    # and one from before hot_average_momentum averaged without momentum
    save_without_setting(model, tmp_path / "older.embf", "hot_average_momentum", monkeypatch)
    assert Word2Vec.load(tmp_path / "older.embf").hot_average_momentum == 0.0
    assert Word2Vec(vector_size=8).hot_average_momentum is None  # by default: SyncPlan's
    with pytest.raises(ValueError, match="hot_average_momentum must be >= 0.0 and <= 0.999, got 1.0"):
        Word2Vec(hot_average_momentum=1.0)


def test_the_sync_dtype_is_checked_and_kept(tmp_path, monkeypatch, toy_corpus_path):
    with pytest.raises(ValueError, match="sync_dtype must be one of .*got 'bfloat16'"):
        Word2Vec(sync_dtype="bfloat16")
    assert Word2Vec().sync_dtype == "float32"
    model = Word2Vec(vector_size=8, min_count=1, workers=1, epochs=1, progress=False,
                     sync_dtype="float16").fit(toy_corpus_path)
    model.save(tmp_path / "m.embf")
    assert Word2Vec.load(tmp_path / "m.embf").sync_dtype == "float16"
    # a file from before the setting existed synced float32
    save_without_setting(model, tmp_path / "old.embf", "sync_dtype", monkeypatch)
    assert Word2Vec.load(tmp_path / "old.embf").sync_dtype == "float32"
