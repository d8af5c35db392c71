"""FastText: learning, vectors for unseen words, gensim's semantics, save/load,
torch, bad settings."""
import logging
import random

import numpy as np
import pytest

import embforge
from embforge import FastText, FastTextKeyedVectors
from embforge._native import core

from conftest import topic_margin, topic_sentences

gensim_fasttext = pytest.importorskip("gensim.models.fasttext")

SMALL = dict(vector_size=24, min_count=1, bucket=5000, epochs=5, seed=3, progress=False)


def random_word(rng, length=9):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzäöüé") for _ in range(length))


# Topics of made-up words that share no n-gram by design (random letters):
# what a topic's words have in common is their contexts only.
_RNG = random.Random(5)
TOPICS = [[random_word(_RNG) for _ in range(10)] for _ in range(4)]


@pytest.fixture(scope="module")
def sentences():
    return topic_sentences(TOPICS, 2500, seed=1)


@pytest.fixture(scope="module", params=[1, 0], ids=["sg", "cbow"])
def trained(request, sentences):
    return FastText(sg=request.param, workers=2, **SMALL).fit(sentences)


def unseen_margin(wv, topics=TOPICS):
    """Mean cosine of an unseen variant of a topic word (its last letter
    replaced) with the *other* words of its topic, minus that with other
    topics' words. The variant shares n-grams with its origin only, so only
    trained n-gram rows can place it in its topic."""
    same, cross = [], []
    for t, topic in enumerate(topics):
        for word in topic:
            variant = word[:-1] + ("x" if word[-1] != "x" else "y")
            assert not wv.has_index_for(variant)
            same += [wv.similarity(variant, other) for other in topic if other != word]
            cross += [wv.similarity(variant, other) for u, o in enumerate(topics) if u != t
                      for other in o]
    return float(np.mean(same) - np.mean(cross))


def test_learns_topics(trained):
    # Calibrated on 3 seeds (corpus and model) x sg/cbow: trained 0.61-0.67;
    # untrained |margin| <= 0.031.
    assert topic_margin(trained.wv, TOPICS) > 0.4


def test_unseen_words_take_their_topic_from_ngrams(trained, sentences):
    # Calibrated on 3 seeds x sg/cbow: trained 0.59-0.65; untrained
    # |margin| <= 0.025.
    assert unseen_margin(trained.wv) > 0.35
    untrained = FastText(sg=trained.sg, **SMALL)
    untrained.build_vocab(sentences)
    assert abs(unseen_margin(untrained.wv)) < 0.08


def test_vectors_are_means_of_subword_rows(trained):
    wv = trained.wv
    word = TOPICS[0][0]
    n = len(wv)
    # the oracle: gensim's own n-gram hashes, the word's row first
    rows = [wv.get_index(word)] + [n + h for h in gensim_fasttext.ft_ngram_hashes(word, 3, 6, 5000)]
    np.testing.assert_allclose(wv[word], wv.input_rows[rows].mean(axis=0), rtol=1e-5, atol=1e-6)
    unseen = "naïve-ünseen"
    rows = [n + h for h in gensim_fasttext.ft_ngram_hashes(unseen, 3, 6, 5000)]
    np.testing.assert_allclose(wv[unseen], wv.input_rows[rows].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert wv[[word, unseen]].shape == (2, 24)


def test_contains_follows_gensim_and_membership_is_separate(trained):
    wv = trained.wv
    assert "zzzqqq" in wv and not wv.has_index_for("zzzqqq")
    assert TOPICS[1][2] in wv and wv.has_index_for(TOPICS[1][2])
    assert wv.most_similar("zzzqqq", topn=3)
    short = FastText(min_n=5, max_n=6, **{k: v for k, v in SMALL.items()})
    short.build_vocab([["abcdef", "ghijkl"]] * 3)
    assert "ab" not in short.wv  # "<ab>" has 4 characters: no 5-gram
    with pytest.raises(KeyError, match="no character n-grams of 5..6"):
        short.wv["ab"]


def test_similarity_queries_take_unseen_words(trained):
    wv = trained.wv
    word = TOPICS[2][3]
    typo = word[:4] + word[5:]
    top = [w for w, _ in wv.most_similar(typo, topn=10)]
    assert word in top
    assert wv.similarity(typo, word) == pytest.approx(wv.similarity(word, typo))
    assert -1.0 <= wv.similarity("qqqq", "zzzz") <= 1.0


def test_single_worker_is_deterministic(sentences):
    a = FastText(sg=1, workers=1, **SMALL).fit(sentences[:500])
    b = FastText(sg=1, workers=1, **SMALL).fit(sentences[:500])
    np.testing.assert_array_equal(a.wv.input_rows, b.wv.input_rows)
    c = FastText(sg=1, workers=1, **{**SMALL, "seed": 4}).fit(sentences[:500])
    assert not np.array_equal(a.wv.input_rows, c.wv.input_rows)


def test_save_load_and_continue(tmp_path, trained, sentences):
    path = tmp_path / "model.npz"
    trained.save(path)
    loaded = FastText.load(path)
    np.testing.assert_array_equal(loaded.wv.input_rows, trained.wv.input_rows)
    np.testing.assert_array_equal(loaded.syn1neg, trained.syn1neg)
    np.testing.assert_array_equal(loaded.wv["unseenword"], trained.wv["unseenword"])
    assert (loaded.min_n, loaded.max_n, loaded.bucket, loaded.sg) == (3, 6, 5000, trained.sg)
    loaded.train(sentences[:200], epochs=1)
    assert loaded.epochs_trained == trained.epochs_trained + 1
    kv_path = tmp_path / "vectors.kv"
    trained.wv.save(kv_path)
    kv = FastTextKeyedVectors.load(kv_path)
    np.testing.assert_allclose(kv["unseenword"], trained.wv["unseenword"])
    np.testing.assert_allclose(kv.vectors, trained.wv.vectors, rtol=1e-6)


def test_vec_file_drops_subwords_and_says_so(tmp_path, trained, caplog):
    path = tmp_path / "vectors.vec"
    with caplog.at_level(logging.WARNING):
        trained.wv.save_word2vec_format(path)
    assert "drops" in caplog.text
    plain = embforge.KeyedVectors.load_word2vec_format(path)
    assert plain.index_to_key == trained.wv.index_to_key
    np.testing.assert_allclose(plain.vectors, trained.wv.vectors, atol=1e-5)


def test_embedding_bag_gives_every_words_vector(trained):
    torch = pytest.importorskip("torch")
    bag, ids = trained.wv.to_embedding_bag()
    words = [TOPICS[0][0], "unseen-wörd", TOPICS[3][1]]
    with torch.no_grad():
        got = bag(*ids(words)).numpy()
    np.testing.assert_allclose(got, trained.wv[words], rtol=1e-5, atol=1e-6)
    assert bag.weight.data_ptr() == torch.from_numpy(trained.wv.input_rows).data_ptr()
    emb, mapping = trained.wv.to_embedding()
    assert emb.weight.shape[0] == len(trained.wv) + 2
    np.testing.assert_allclose(emb.weight[mapping[words[0]]].detach().numpy(), trained.wv[words[0]])


@pytest.mark.parametrize("kwargs,match", [
    (dict(min_n=4, max_n=3), "min_n=4 is larger than max_n=3"),
    (dict(bucket=0), "bucket=0"),
    (dict(min_n=0), "min_n"),
    (dict(word_ngrams=2), "word_ngrams"),
    (dict(bucket=-5), "bucket"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FastText(**{**SMALL, **kwargs})


def test_min_n_longer_than_every_word():
    model = FastText(**{**SMALL, "min_n": 9, "max_n": 12})
    with pytest.raises(ValueError, match="min_n=9 is longer than every word .* 4 characters"):
        model.build_vocab([["abcd", "abc"]] * 2)


def test_max_n_longer_than_every_word_stops_at_the_word():
    # legal in fastText and gensim: n-grams end at the bracketed word's length
    model = FastText(**{**SMALL, "min_n": 3, "max_n": 40}).fit([["ab", "abc"]] * 20)
    n = len(model.wv)
    rows = [n + h for h in gensim_fasttext.ft_ngram_hashes("abd", 3, 40, 5000)]
    np.testing.assert_allclose(model.wv["abd"], model.wv.input_rows[rows].mean(axis=0), rtol=1e-5)


def test_memory_is_checked_before_allocating(monkeypatch):
    from embforge import _checks
    monkeypatch.setattr(_checks, "available_memory", lambda: 10**9)
    with pytest.raises(ValueError, match=r"bucket=2000000 x vector_size=300 .* 2\.40 GB"):
        FastText(vector_size=300)
    FastText(vector_size=100, bucket=100_000)  # 40 MB fits


def test_backends_say_whether_they_train_fasttext():
    from embforge.backends import get_backend
    from embforge.backends.base import Backend
    from embforge.backends.cuda import CudaBackend
    with pytest.raises(ValueError, match="FastText is not available on 'tpu:0'"):
        Backend("tpu:0").check_fasttext()  # a backend without the kernels
    assert CudaBackend("cuda:0").check_fasttext() is None
    assert get_backend("cpu").check_fasttext() is None


def test_word_pairs_with_unseen_words(tmp_path, trained):
    wv = trained.wv
    a, b, c = TOPICS[0][:3]
    x, y = TOPICS[3][:2]
    unseen = a[:-1] + "q"
    rows = [(a, b, 9.0), (a, x, 1.0), (unseen, c, 8.0), (unseen, y, 2.5), (b.upper(), x, 1.5),
            (c, y, 0.5)]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{p}\t{q}\t{s}\n" for p, q, s in rows))
    _, spearman, oov = wv.evaluate_word_pairs(path)
    assert oov == pytest.approx(100 * 2 / 6)  # gensim's rule: unseen pairs skipped
    _, spearman_all, oov_all = wv.evaluate_word_pairs(path, unseen="ngrams")
    assert oov_all == pytest.approx(100 * 2 / 6)  # now scored from n-grams
    predicted = [wv.similarity(p if p in TOPICS[0] + TOPICS[3] or p == unseen else p.lower(), q)
                 for p, q, _ in rows]
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = scipy_stats.spearmanr([s for _, _, s in rows], predicted)[0]
    assert spearman_all[0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="unseen must be"):
        wv.evaluate_word_pairs(path, unseen="yes")


def test_rows_start_at_four_times_word2vecs_range():
    model = FastText(**SMALL)
    model.build_vocab([["abcdef", "ghijkl"]] * 3)
    rows = model.wv.input_rows
    reference = np.empty_like(rows)
    core.init_word2vec_input(reference, SMALL["seed"])
    np.testing.assert_array_equal(rows, 4 * reference)
    assert 1.9 / 24 < np.abs(rows).max() <= 2 / 24


@pytest.mark.parametrize("how", ["corpus", "freq"])
def test_vocabulary_update_keeps_rows_and_moves_ngram_rows(sentences, how):
    model = FastText(sg=1, workers=1, **SMALL).fit(sentences[:500])
    wv = model.wv
    old_n = len(wv)
    before = wv.input_rows.copy()
    old_word, unseen = TOPICS[0][0], "naïve-ünseen"
    old_vector, unseen_vector = wv[old_word].copy(), wv[unseen].copy()
    new_words = ["zzqnew", "zzqother"]
    if how == "corpus":
        model.build_vocab([new_words + [old_word]] * 4, update=True)
    else:
        model.build_vocab_from_freq({"zzqnew": 4, "zzqother": 4, old_word: 4}, update=True)
    n = len(model.wv)
    assert model.wv is wv and n == old_n + 2 and wv.index_to_key[old_n:] == new_words
    rows = wv.input_rows
    assert rows.shape == (n + 5000, 24) and model.syn1neg.shape == (n, 24)
    np.testing.assert_array_equal(rows[:old_n], before[:old_n])      # old word rows kept
    np.testing.assert_array_equal(rows[n:], before[old_n:])          # n-gram rows moved down
    # new words' rows are those a fresh model of that size draws; output rows start at zero
    fresh = np.empty((n + 5000, 24), np.float32)
    core.init_word2vec_input(fresh, SMALL["seed"])
    np.testing.assert_array_equal(rows[old_n:n], fresh[old_n:n] * np.float32(4.0))
    assert not model.syn1neg[old_n:].any()
    np.testing.assert_allclose(wv[old_word], old_vector, rtol=1e-6)
    np.testing.assert_allclose(wv[unseen], unseen_vector, rtol=1e-6)
    # every vocabulary vector is still the mean of its subword rows (gensim's hashes)
    for word in (old_word, "zzqnew"):
        ids = [wv.get_index(word)] + [n + h for h in gensim_fasttext.ft_ngram_hashes(word, 3, 6, 5000)]
        np.testing.assert_allclose(wv[word], rows[ids].mean(axis=0), rtol=1e-5, atol=1e-6)
    new_rows = rows[old_n:n].copy()
    model.train([new_words * 3] * 50, total_examples=50, epochs=1)
    assert not np.array_equal(wv.input_rows[old_n:n], new_rows)   # the new words trained


def test_estimate_memory_counts_the_ngram_rows(trained):
    report = trained.estimate_memory()
    dim = 24
    assert report["vectors_ngrams"] == 5000 * dim * 4
    # word rows + composed vectors (with the spare rows) + output rows: the arrays the model holds
    held = trained.wv.input_rows.nbytes + trained.wv._storage.nbytes + trained.syn1neg.nbytes
    assert report["vectors"] + report["vectors_ngrams"] + report["syn1neg"] == held
    assert report["total"] == sum(v for k, v in report.items() if k != "total")
    assert trained.estimate_memory(vocab_size=10)["vectors"] == (10 + (10 + 4)) * dim * 4


def test_intersect_word2vec_format_is_refused(tmp_path, trained):
    with pytest.raises(ValueError, match="n-gram rows"):
        trained.wv.intersect_word2vec_format(str(tmp_path / "absent.txt"))
