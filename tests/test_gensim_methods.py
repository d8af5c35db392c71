"""gensim's remaining Word2Vec/KeyedVectors methods, with gensim as the oracle:
vocabulary updates, build_vocab_from_freq, predict_output_word,
estimate_memory, relative_cosine_similarity, intersect_word2vec_format."""
import tracemalloc

import numpy as np
import pytest

from embforge import KeyedVectors, Word2Vec, _native
from embforge._layout import SPARE_ROWS

from conftest import TOY_TOPICS, topic_margin, topic_sentences

gensim_models = pytest.importorskip("gensim.models")

OLD_TOPICS, NEW_TOPICS = TOY_TOPICS[:2], TOY_TOPICS[2:]


def first_text():
    # "late" is below min_count=3 here and reaches it in the second text
    return topic_sentences(OLD_TOPICS, 600, seed=0) + [["late", "sea1"], ["late"]]


def second_text():
    # "rare" stays below min_count; every old word is seen again
    return topic_sentences(TOY_TOPICS, 600, seed=1) + [["late"] * 4, ["rare", "rare"]]


def ours(**kw):
    options = dict(sg=1, vector_size=16, min_count=3, workers=1, epochs=3, progress=False)
    options.update(kw)
    return Word2Vec(**options)


def theirs(**kw):
    options = dict(sg=1, vector_size=16, min_count=3, workers=1, epochs=1, negative=5)
    options.update(kw)
    return gensim_models.Word2Vec(**options)


def counts_of(wv):
    return {w: int(wv.get_vecattr(w, "count")) for w in wv.index_to_key}


# ---------------------------------------------------------------- build_vocab(update=True)

def test_update_grows_the_vocabulary_as_gensim_does():
    model, oracle = ours().fit(first_text()), theirs()
    oracle.build_vocab(first_text())
    old = list(model.wv.index_to_key)
    assert set(old) == set(oracle.wv.index_to_key)
    model.build_vocab(second_text(), update=True)
    oracle.build_vocab(second_text(), update=True)
    assert counts_of(model.wv) == counts_of(oracle.wv)     # old counts added, new words' own
    assert model.wv.index_to_key[:len(old)] == old          # old ids kept, new words after
    new = model.wv.index_to_key[len(old):]
    assert set(new) == set(oracle.wv.index_to_key[len(old):]) and "late" in new and "rare" not in new
    assert model.wv.get_vecattr("late", "count") == 4
    new_counts = [model.wv.get_vecattr(w, "count") for w in new]
    assert new_counts == sorted(new_counts, reverse=True)
    assert model.vocab.words == model.wv.index_to_key
    np.testing.assert_array_equal(model.vocab.counts, model.wv.expandos["count"])


@pytest.mark.parametrize("sg", [0, 1])
def test_update_keeps_the_trained_rows_and_training_learns_the_new_words(device, sg):
    model = ours(sg=sg, device=device).fit(first_text())
    wv, n = model.wv, len(model.wv)
    vectors = np.array(model.wv.vectors)
    output = np.array(model._backend.to_host(model.syn1neg))
    model.build_vocab(second_text(), update=True)
    total = len(model.wv)
    assert model.wv is wv and total > n and model.syn1neg.shape == (total, 16)
    assert tuple(model._storage.shape) == (total + SPARE_ROWS, 16)
    grown_output = model._backend.to_host(model.syn1neg)
    np.testing.assert_array_equal(model.wv.vectors[:n], vectors)
    np.testing.assert_array_equal(grown_output[:n], output)
    assert not grown_output[n:].any()
    fresh = np.empty((total, 16), np.float32)           # new rows as a new model starts them
    _native.core.init_word2vec_input(fresh, model.seed)
    np.testing.assert_array_equal(model.wv.vectors[n:], fresh[n:])
    # the tables follow the merged counts
    counts = model.vocab.counts
    np.testing.assert_array_equal(model._tables[0],
                                  _native.core.subsampling_thresholds(counts, model.sample))
    assert len(model._tables[1]) == len(model._tables[2]) == total
    # the new text, encoded with the grown vocabulary, is what train() uses
    vocabulary = set(model.wv.index_to_key)
    encoded = [[w for w in s if w in vocabulary] for s in second_text()]
    assert list(model._corpus) == [s for s in encoded if s]   # ["rare", "rare"] left nothing
    assert topic_margin(model.wv, NEW_TOPICS) < 0.15
    model.train(second_text(), epochs=6)   # the GPU kernel needs more epochs than 3 here
    assert model.epochs_trained == 9 and len(model.training_loss) == 9
    assert topic_margin(model.wv, NEW_TOPICS) > 0.4 and topic_margin(model.wv) > 0.4


def test_updated_model_saves_loads_and_trains_on(tmp_path):
    model = ours().fit(first_text())
    model.build_vocab(second_text(), update=True)
    model.train(second_text(), epochs=1)
    model.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    assert loaded.wv.index_to_key == model.wv.index_to_key
    np.testing.assert_array_equal(loaded.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(loaded.syn1neg, model.syn1neg)
    assert counts_of(loaded.wv) == counts_of(model.wv)
    loaded.train(second_text(), epochs=1)
    assert loaded.epochs_trained == 5


def test_update_is_refused_without_a_vocabulary_and_during_training():
    with pytest.raises(RuntimeError, match="build one first"):
        ours().build_vocab(first_text(), update=True)

    class GrowMidway:
        def on_epoch_end(self, model):
            model.build_vocab(second_text(), update=True)

    model = ours().fit(first_text())
    size = len(model.wv)
    with pytest.raises(RuntimeError, match="while train\\(\\) runs"):
        model.train(first_text(), epochs=2, callbacks=[GrowMidway()])
    assert len(model.wv) == size


def test_update_respects_max_vocab_size():
    model = ours(max_vocab_size=30).fit(first_text())
    old = len(model.wv)
    assert old < 30
    model.build_vocab(second_text(), update=True)
    assert len(model.wv) == 30
    # the most frequent new words got the room
    oracle = theirs()
    oracle.build_vocab(first_text())
    oracle.build_vocab(second_text(), update=True)
    new = {w: oracle.wv.get_vecattr(w, "count") for w in oracle.wv.index_to_key[old:]}
    kept = [new[w] for w in model.wv.index_to_key[old:]]
    assert min(kept) >= max(c for w, c in new.items() if w not in model.wv)


# ---------------------------------------------------------------- build_vocab_from_freq

FREQ = {"apple": 10, "pear": 7, "fig": 7, "kiwi": 2, "plum": 1, "sea1": 5, "nil": 0}


def test_build_vocab_from_freq_matches_gensim():
    model = ours(min_count=2).build_vocab_from_freq(FREQ)
    oracle = theirs(min_count=2)
    oracle.build_vocab_from_freq(FREQ)
    assert counts_of(model.wv) == counts_of(oracle.wv)
    assert model.wv.index_to_key == ["apple", "fig", "pear", "sea1", "kiwi"]  # ties by byte order
    assert model._corpus is None and len(model._tables[0]) == 5
    with pytest.raises(ValueError, match="no corpus"):
        model.train()
    text = [["apple", "pear", "fig", "kiwi", "sea1", "unknown"]] * 50
    model.train(text, epochs=1)
    assert model.wv.index_to_key == ["apple", "fig", "pear", "sea1", "kiwi"]
    assert model._corpus.n_tokens == 250                  # "unknown" dropped


def test_build_vocab_from_freq_update_matches_gensim():
    more = {"apple": 1, "grape": 9, "lime": 1}
    model = ours(min_count=2).build_vocab_from_freq(FREQ)
    oracle = theirs(min_count=2)
    oracle.build_vocab_from_freq(FREQ)
    model.build_vocab_from_freq(more, update=True)
    oracle.build_vocab_from_freq(more, update=True)
    assert counts_of(model.wv) == counts_of(oracle.wv)
    assert model.wv.index_to_key[-1] == "grape" and model.wv.get_vecattr("apple", "count") == 11


@pytest.mark.parametrize("freq, kwargs, match", [
    ({"a": -1}, {}, "count of 'a'"),
    ({"a": 1.5}, {}, "count of 'a'"),
    ({"a b": 3}, {}, "'a b'"),
    ({"": 3}, {}, "''"),
    ([("a", 3)], {}, "mapping"),
    ({"a": 1}, {}, "min_count=5"),
    ({"a": 9}, {"trim_rule": lambda *a: 1}, "trim_rule"),
])
def test_build_vocab_from_freq_refuses_bad_input(freq, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ours(min_count=5).build_vocab_from_freq(freq, **kwargs)


# ---------------------------------------------------------------- predict_output_word

@pytest.fixture(scope="module")
def trained():
    return ours(min_count=1, epochs=4).fit(topic_sentences(TOY_TOPICS, 800, seed=5))


@pytest.fixture(scope="module")
def oracle_of(trained):
    """A gensim Word2Vec holding our weights."""
    oracle = theirs(min_count=1)
    oracle.build_vocab(topic_sentences(TOY_TOPICS, 800, seed=5))
    oracle.wv = trained.wv.to_gensim()
    oracle.syn1neg = trained.syn1neg.copy()
    return oracle


@pytest.mark.parametrize("context", [["sea1", "sea4"], ["fire2"], ["tree3", "nope", "iron0", "tree3"],
                                     [0, "iron5"]])
def test_predict_output_word_matches_gensim(trained, oracle_of, context):
    got = trained.predict_output_word(context, topn=6)
    expected = oracle_of.predict_output_word(context, topn=6)
    assert [w for w, _ in got] == [w for w, _ in expected]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in expected], rtol=1e-4)


def test_predict_output_word_edges(trained, oracle_of, caplog):
    assert trained.predict_output_word(["nope", "never"]) is None
    assert oracle_of.predict_output_word(["nope", "never"]) is None
    assert "none of the context words" in caplog.text
    everything = trained.predict_output_word(["sea1"], topn=None)
    assert len(everything) == len(trained.wv)
    assert sum(p for _, p in everything) == pytest.approx(1.0)
    assert trained.predict_output_word(["sea1"], topn=0) == []
    with pytest.raises(ValueError, match="'sea1'"):
        trained.predict_output_word("sea1")
    with pytest.raises(ValueError, match="topn"):
        trained.predict_output_word(["sea1"], topn=-1)
    # huge logits: gensim's plain exp overflows, the shifted softmax does not
    model = ours(min_count=1).build_vocab_from_freq({"a": 5, "b": 4, "c": 3})
    model.syn1neg[:] = [[100.0] * 16, [99.0] * 16, [0.0] * 16]
    model.wv.vectors[:] = 1.0
    result = model.predict_output_word(["a"], topn=3)
    assert [w for w, _ in result] == ["a", "b", "c"] and np.isfinite([p for _, p in result]).all()
    assert result[0][1] == pytest.approx(1 / (1 + np.exp(-16)))


# ---------------------------------------------------------------- estimate_memory

def test_estimate_memory_agrees_with_gensim_and_with_the_arrays(trained):
    oracle = theirs(min_count=1)
    report = trained.estimate_memory()
    expected = oracle.estimate_memory(vocab_size=len(trained.wv))
    assert report["syn1neg"] == expected["syn1neg"] == trained.syn1neg.nbytes
    assert report["vectors"] == expected["vectors"] + SPARE_ROWS * 16 * 4 == trained._storage.nbytes
    assert report["tables"] == sum(table.nbytes for table in trained._tables)
    assert report["corpus"] == trained._corpus.ids.nbytes + trained._corpus.offsets.nbytes
    assert report["total"] == sum(v for k, v in report.items() if k != "total")
    bigger = trained.estimate_memory(vocab_size=1_000_000, report={"extra": 1})
    assert bigger["extra"] == 1 and bigger["syn1neg"] == 1_000_000 * 16 * 4
    with pytest.raises(ValueError, match="-3"):
        trained.estimate_memory(vocab_size=-3)
    # a corpus past the memory budget is memory-mapped: it holds (almost) no RAM
    spilled = ours(min_count=1, memory="64KiB").build_vocab(topic_sentences(TOY_TOPICS, 3000, seed=1))
    assert spilled._corpus.n_tokens * 4 > 65536
    assert spilled.estimate_memory()["corpus"] == spilled._corpus.ram_bytes < 65536


def test_estimate_memory_vocab_part_is_near_the_measured_python_objects():
    words = [f"w{i:x}x{i % 97}" for i in range(40_000)]
    text = [words[i:i + 100] for i in range(0, len(words), 100)]
    model = ours(min_count=1, vector_size=1)
    tracemalloc.start()
    try:
        model.build_vocab(text)
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    arrays = (model._storage.nbytes + model.syn1neg.nbytes
              + sum(table.nbytes for table in model._tables)
              + model._corpus.ids.nbytes + model._corpus.offsets.nbytes)
    estimate = model.estimate_memory()["vocab"]
    assert 0.5 * estimate < used - arrays < 2 * estimate


# ---------------------------------------------------------------- relative_cosine_similarity

@pytest.mark.parametrize("wa, wb, topn", [("sea1", "sea2", 10), ("sea1", "fire3", 10),
                                          ("iron4", "iron7", 3), ("the", "tree0", 1)])
def test_relative_cosine_similarity_matches_gensim(trained, wa, wb, topn):
    got = trained.wv.relative_cosine_similarity(wa, wb, topn)
    expected = trained.wv.to_gensim().relative_cosine_similarity(wa, wb, topn)
    assert got == pytest.approx(expected, rel=1e-5)


def test_relative_cosine_similarity_bad_input(trained):
    with pytest.raises(KeyError, match="nope"):
        trained.wv.relative_cosine_similarity("nope", "sea1")
    with pytest.raises(ValueError, match="topn"):
        trained.wv.relative_cosine_similarity("sea1", "sea2", topn=0)


# ---------------------------------------------------------------- intersect_word2vec_format

def pretrained_file(tmp_path, binary, words, dim=16, seed=7):
    vectors = np.random.default_rng(seed).normal(size=(len(words), dim)).astype(np.float32)
    source = KeyedVectors.from_storage(words, np.vstack([vectors, np.zeros((SPARE_ROWS, dim),
                                                                          np.float32)]))
    path = str(tmp_path / f"pre{'.bin' if binary else '.txt'}")
    source.save_word2vec_format(path, binary=binary)
    return path, dict(zip(words, vectors))


def test_intersect_matches_gensim(tmp_path, trained):
    words = ["sea1", "zzz", "fire2", "iron9", "qq"]
    path, file_vectors = pretrained_file(tmp_path, False, words)
    mine = KeyedVectors.from_gensim(trained.wv.to_gensim())      # a copy to write into
    oracle = trained.wv.to_gensim()
    oracle.vectors = oracle.vectors.copy()
    oracle.vectors_lockf = np.ones(len(oracle), np.float32)       # gensim's per-word factors
    oracle.intersect_word2vec_format(path, lockf=1.0)
    assert mine.intersect_word2vec_format(path) == 3
    np.testing.assert_array_equal(mine.vectors, oracle.vectors)
    np.testing.assert_array_equal(mine["fire2"], file_vectors["fire2"])
    assert "zzz" not in mine and len(mine) == len(trained.wv)
    np.testing.assert_array_equal(mine["sea2"], trained.wv["sea2"])   # others untouched
    assert mine.most_similar(file_vectors["iron9"], topn=1)[0][0] == "iron9"  # caches dropped
    # the same vectors from a binary file (gensim 4.4's binary branch fails under numpy 2)
    binary, _ = pretrained_file(tmp_path, True, words)
    other = KeyedVectors.from_gensim(trained.wv.to_gensim())
    assert other.intersect_word2vec_format(binary, binary=True) == 3
    np.testing.assert_array_equal(other.vectors, oracle.vectors)


def test_intersect_seeds_a_model_before_training(tmp_path, device):
    text = topic_sentences(TOY_TOPICS, 300, seed=2)
    path, file_vectors = pretrained_file(tmp_path, True, ["sea1", "tree4", "absent"])
    model = ours(min_count=1, device=device).build_vocab(text)
    assert model.wv.intersect_word2vec_format(path, binary=True) == 2
    rows = model._backend.to_host(model._storage)
    np.testing.assert_array_equal(rows[model.wv.get_index("tree4")], file_vectors["tree4"])
    np.testing.assert_array_equal(model.wv["sea1"], file_vectors["sea1"])
    model.train(text, epochs=1)
    assert not np.array_equal(model.wv["sea1"], file_vectors["sea1"])   # and trained on (lockf=1)


def test_intersect_refuses_locks_and_other_sizes(tmp_path, trained):
    path, _ = pretrained_file(tmp_path, False, ["sea1"], dim=5)
    with pytest.raises(ValueError, match="lockf=0.0"):
        trained.wv.intersect_word2vec_format(path, lockf=0.0)
    with pytest.raises(ValueError, match="lockf"):
        trained.wv.intersect_word2vec_format(path, lockf="frozen")
    with pytest.raises(ValueError, match="5 dimensions.*16"):
        trained.wv.intersect_word2vec_format(path)


def test_intersect_writes_gpu_rows_through_one_host_copy(tmp_path, monkeypatch):
    from test_gensim_bridge import FakeGpuArray
    import embforge.backends

    host = np.zeros((3 + SPARE_ROWS, 16), np.float32)
    kv = KeyedVectors.from_storage(["sea1", "b", "tree4"], FakeGpuArray(host))
    uploads = []

    class Backend:
        def copy_into(self, target, rows):
            uploads.append(rows.shape)
            target.host[...] = rows

    monkeypatch.setattr(embforge.backends, "get_backend", lambda device: Backend())
    path, file_vectors = pretrained_file(tmp_path, False, ["tree4", "x", "sea1"])
    assert kv.device == "cuda:0" and kv.intersect_word2vec_format(path) == 2
    assert uploads == [(3, 16)]
    np.testing.assert_array_equal(host[[0, 2]], [file_vectors["sea1"], file_vectors["tree4"]])
    assert not host[1].any() and not host[3:].any()
    np.testing.assert_array_equal(kv["tree4"], file_vectors["tree4"])   # the host copy refreshed


# ---------------------------------------------------------------- across processes

DIST = dict(sg=1, vector_size=16, min_count=3, workers=1, progress=False, seed=3,
            sync_interval=20_000, hot_sync_interval=4_000, hot_sync_rows=8)


def _update_across_ranks(rank, world, first, second):
    import hashlib
    model = Word2Vec(distributed=True, epochs=2, **DIST).fit(first)
    model.build_vocab(second, update=True)
    model.train(second, epochs=6)
    return {"words": model.wv.index_to_key, "counts": model.vocab.counts.tolist(),
            "vectors": hashlib.sha256(model.wv.vectors.tobytes()).hexdigest(),
            "margin": topic_margin(model.wv, NEW_TOPICS)}


def test_update_across_processes_gives_every_rank_the_single_process_vocabulary(tmp_path):
    pytest.importorskip("torch", reason="distributed training runs on torch.distributed")
    from distributed_harness import run_ranks, values
    paths = []
    for name, text in (("first.txt", first_text()), ("second.txt", second_text())):
        path = tmp_path / name
        path.write_text("\n".join(" ".join(s) for s in text) + "\n")
        paths.append(str(path))
    one = Word2Vec(epochs=1, **DIST).fit(paths[0])
    one.build_vocab(paths[1], update=True)
    ranks = values(run_ranks(_update_across_ranks, tmp_path, 2, args=tuple(paths), timeout=120))
    assert ranks[0]["words"] == ranks[1]["words"] == one.wv.index_to_key
    assert ranks[0]["counts"] == ranks[1]["counts"] == one.vocab.counts.tolist()
    assert ranks[0]["vectors"] == ranks[1]["vectors"]
    # 0.86 measured; untrained new rows score ~0.03
    assert ranks[0]["margin"] > 0.4


def _counts_across_ranks(rank, world):
    model = Word2Vec(distributed=True, epochs=1, **DIST)
    model.build_vocab_from_freq({"a": 5, "b": 4 + rank})


def test_build_vocab_from_freq_across_processes_refuses_different_counts(tmp_path):
    pytest.importorskip("torch", reason="distributed training runs on torch.distributed")
    from distributed_harness import run_ranks
    ranks = run_ranks(_counts_across_ranks, tmp_path, 2, timeout=120)
    assert [r.error for r in ranks] == ["ValueError", "ValueError"]
    assert "ranks disagree" in ranks[0].message and "word_freq" in ranks[0].message
