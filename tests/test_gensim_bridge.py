"""Vectors handed to gensim and taken back in memory (embforge.gensim_bridge)."""
import subprocess
import sys

import numpy as np
import pytest

from embforge import KeyedVectors, Word2Vec
from embforge._layout import SPARE_ROWS

from conftest import TOY_TOPICS, topic_sentences

gensim_models = pytest.importorskip("gensim.models")
GKV = gensim_models.KeyedVectors


def kv_with_counts(n=40, dim=12, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n)]
    storage = np.zeros((n + SPARE_ROWS, dim), np.float32)
    storage[:n] = rng.normal(size=(n, dim))
    return KeyedVectors.from_storage(words, storage, counts=np.arange(n, 0, -1) * 3)


@pytest.fixture(scope="module")
def trained():
    sentences = topic_sentences(TOY_TOPICS, 1200, seed=3)
    return Word2Vec(sg=1, vector_size=16, min_count=1, workers=1, epochs=3,
                    progress=False).fit(sentences)


def test_round_trip_through_gensim_keeps_most_similar(trained):
    ours = trained.wv
    theirs = ours.to_gensim()
    back = KeyedVectors.from_gensim(theirs)
    assert theirs.index_to_key == ours.index_to_key == back.index_to_key
    for word in ("sea1", "fire5", "the"):
        expected = ours.most_similar(word, topn=8)
        for result in (theirs.most_similar(word, topn=8), back.most_similar(word, topn=8)):
            assert [w for w, _ in result] == [w for w, _ in expected]
            np.testing.assert_allclose([s for _, s in result], [s for _, s in expected], rtol=1e-5)
    positive, negative = ["sea1", "fire2"], ["sea3"]
    assert ([w for w, _ in theirs.most_similar(positive=positive, negative=negative, topn=5)]
            == [w for w, _ in ours.most_similar(positive=positive, negative=negative, topn=5)])


def test_counts_travel_both_ways():
    ours = kv_with_counts()
    theirs = ours.to_gensim()
    assert [theirs.get_vecattr(w, "count") for w in theirs.index_to_key] == ours.expandos["count"].tolist()
    theirs.set_vecattr("w0", "count", 12345)
    assert ours.get_vecattr("w0", "count") == 120   # copied, not shared
    back = KeyedVectors.from_gensim(theirs)
    assert back.get_vecattr("w0", "count") == 12345 and back.get_vecattr("w1", "count") == 117
    # a file gensim read without counts: its made-up counts come along
    plain = GKV(3)
    plain.add_vectors(["x", "y"], np.ones((2, 3), np.float32))
    assert "count" not in KeyedVectors.from_gensim(plain).expandos


def test_to_gensim_shares_the_rows():
    ours = kv_with_counts()
    theirs = ours.to_gensim()
    assert np.shares_memory(theirs.vectors, ours._storage)
    assert theirs.vectors.shape == (len(ours), ours.vector_size)   # spare rows left out
    theirs.vectors[3] = 7.0                      # write through gensim ...
    np.testing.assert_array_equal(ours["w3"], np.full(ours.vector_size, 7.0))   # ... read through ours
    ours.vectors[5] = -2.0                       # and the other way
    np.testing.assert_array_equal(theirs["w5"], np.full(ours.vector_size, -2.0))
    # gensim can still add a key (it reallocates its own array; ours is left as it was)
    theirs.add_vectors(["new"], np.zeros((1, ours.vector_size), np.float32))
    assert theirs.index_to_key[-1] == "new" and "new" not in ours


def test_from_gensim_copies_into_storage_with_spare_rows():
    theirs = GKV(6)
    theirs.add_vectors([f"k{i}" for i in range(5)], np.arange(30, dtype=np.float32).reshape(5, 6))
    ours = KeyedVectors.from_gensim(theirs)
    assert not np.shares_memory(ours._storage, theirs.vectors)
    assert ours._storage.shape == (5 + SPARE_ROWS, 6) and not ours._storage[5:].any()
    theirs.vectors[0] = 100.0
    assert ours["k0"][0] == 0.0
    ours.vectors[1] = -1.0
    assert theirs["k1"][0] == 6.0
    np.testing.assert_array_equal(ours.vectors[2:], theirs.vectors[2:])


def test_from_gensim_takes_a_models_wv_and_skips_unnamed_rows(tmp_path, caplog):
    sentences = topic_sentences(TOY_TOPICS[:2], 200, seed=1)
    model = gensim_models.Word2Vec(sentences, vector_size=8, min_count=1, workers=1, epochs=1)
    ours = KeyedVectors.from_gensim(model)
    assert ours.index_to_key == model.wv.index_to_key
    np.testing.assert_array_equal(ours.vectors, model.wv.vectors)
    assert ours.get_vecattr("sea0", "count") == model.wv.get_vecattr("sea0", "count")
    # gensim leaves an unnamed row for a duplicate word of a file
    path = tmp_path / "dup.txt"
    path.write_text("3 2\na 1 2\nb 3 4\na 5 6\n")
    theirs = GKV.load_word2vec_format(str(path))
    assert theirs.index_to_key[-1] is None
    ours = KeyedVectors.from_gensim(theirs)
    assert ours.index_to_key == ["a", "b"] and ours.vectors.tolist() == [[1, 2], [3, 4]]
    assert "1 unnamed rows" in caplog.text


def test_from_gensim_refuses_what_is_not_keyed_vectors():
    with pytest.raises(ValueError, match="no 'index_to_key'"):
        KeyedVectors.from_gensim(object())


class FakeGpuArray:
    """Just enough of a CuPy array for KeyedVectors: a CUDA device, slicing, .get()."""

    def __init__(self, host):
        self.host, self.shape, self.dtype = host, host.shape, host.dtype

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": "<f4", "data": (0, False), "version": 3}

    def __dlpack_device__(self):
        return (2, 0)   # kDLCUDA

    def __getitem__(self, item):
        return FakeGpuArray(self.host[item])

    def get(self):
        return self.host.copy()


def test_gpu_vectors_reach_gensim_as_a_host_copy():
    host = kv_with_counts()._storage
    ours = KeyedVectors.from_storage([f"w{i}" for i in range(40)], FakeGpuArray(host),
                                     counts=np.ones(40, np.int64))
    assert ours.device == "cuda:0"
    theirs = ours.to_gensim()
    np.testing.assert_array_equal(theirs.vectors, host[:40])
    assert theirs.vectors.flags.writeable and not np.shares_memory(theirs.vectors, host)
    theirs.vectors[0] = 5.0                      # gensim's own copy: the GPU rows do not change
    assert host[0, 0] != 5.0


def test_trained_model_vectors_to_gensim_on_every_device(device):
    sentences = topic_sentences(TOY_TOPICS, 300, seed=4)
    model = Word2Vec(sg=1, vector_size=8, min_count=1, workers=1, epochs=1, progress=False,
                     device=device).fit(sentences)
    theirs = model.wv.to_gensim()
    np.testing.assert_array_equal(theirs.vectors, model.wv.vectors)
    expected, got = model.wv.most_similar("sea1", topn=3), theirs.most_similar("sea1", topn=3)
    assert [w for w, _ in got] == [w for w, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5)
    # host storage (the CPU, and the emulated device's CPU tensors) is shared
    assert np.shares_memory(theirs.vectors, model.wv.vectors) == (model.wv.device == "cpu")


def test_embforge_imports_without_gensim_and_says_what_to_gensim_needs(monkeypatch):
    code = ("import sys; sys.modules['gensim'] = None; import embforge, embforge.gensim_bridge; "
            "kv = embforge.KeyedVectors(3); kv.add_vector('a', [1, 2, 3])\n"
            "try:\n    kv.to_gensim()\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "to_gensim needs gensim" in out.stdout
