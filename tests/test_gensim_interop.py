"""gensim reads the files we write and we read the files gensim writes."""
import logging

import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge.keyedvectors import KeyedVectors

from vector_files import FUNCTION_SCOPED, binary_record, kv_of, word_vectors, write

gensim_models = pytest.importorskip("gensim.models")
GKV = gensim_models.KeyedVectors


def gensim_of(words, vectors):
    g = GKV(vectors.shape[1])
    g.add_vectors(words, vectors.copy())
    return g


@given(data=word_vectors(min_words=1), binary=st.booleans())
@FUNCTION_SCOPED
def test_gensim_reads_our_files(tmp_path, data, binary):
    words, vectors = data
    path = str(tmp_path / "ours")
    kv_of(words, vectors).save_word2vec_format(path, binary=binary)
    theirs = GKV.load_word2vec_format(path, binary=binary)
    assert theirs.index_to_key == words
    np.testing.assert_array_equal(theirs.vectors, vectors)


@given(data=word_vectors(min_words=1), binary=st.booleans())
@FUNCTION_SCOPED
def test_we_read_gensim_files(tmp_path, data, binary):
    words, vectors = data
    path = str(tmp_path / "theirs")
    gensim_of(words, vectors).save_word2vec_format(path, binary=binary)
    ours = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert ours.index_to_key == words
    np.testing.assert_array_equal(ours.vectors, vectors)


def test_gensim_reads_our_glove_and_gzip_files(tmp_path):
    words = ["the", "ünïcode", "x"]
    vectors = np.random.default_rng(0).normal(size=(3, 7)).astype(np.float32)
    kv_of(words, vectors).save_word2vec_format(str(tmp_path / "g.txt"), write_header=False)
    theirs = GKV.load_word2vec_format(str(tmp_path / "g.txt"), no_header=True)
    assert theirs.index_to_key == words and np.array_equal(theirs.vectors, vectors)
    kv_of(words, vectors).save_word2vec_format(str(tmp_path / "v.txt.gz"))
    theirs = GKV.load_word2vec_format(str(tmp_path / "v.txt.gz"))
    assert theirs.index_to_key == words and np.array_equal(theirs.vectors, vectors)


def test_word2vec_c_binary_with_newlines_and_gensim_style_without(tmp_path):
    records = [("</s>", [0.5, -1.0]), ("king", [1.25, 2.0]), ("é", [-0.0, 3.5])]
    for newline in (True, False):
        data = b"3 2\n" + b"".join(binary_record(w, v, newline) for w, v in records)
        path = write(tmp_path / f"c{newline}.bin", data)
        kv = KeyedVectors.load_word2vec_format(path, binary=True)
        assert kv.index_to_key == ["</s>", "king", "é"]
        np.testing.assert_array_equal(kv.vectors, [v for _, v in records])
        theirs = GKV.load_word2vec_format(path, binary=True)
        assert theirs.index_to_key == kv.index_to_key


def test_duplicate_words_keep_the_first_like_gensim(tmp_path, caplog):
    text = "3 2\na 1 2\nb 3 4\na 5 6\n"
    path = write(tmp_path / "dup.txt", text.encode())
    with caplog.at_level(logging.WARNING, logger="embforge.io.rows"):
        ours = KeyedVectors.load_word2vec_format(path)
    theirs = GKV.load_word2vec_format(path)
    # gensim keeps the first vector too (and leaves an unnamed row at the end)
    assert ours.index_to_key == theirs.index_to_key[:2] == ["a", "b"]
    np.testing.assert_array_equal(ours.vectors, theirs.vectors[:2])
    assert "duplicate" in caplog.text and "'a'" in caplog.text
    binary = b"3 1\n" + binary_record("a", [1.0]) + binary_record("b", [2.0]) + binary_record("a", [3.0])
    ours = KeyedVectors.load_word2vec_format(write(tmp_path / "dup.bin", binary), binary=True)
    assert ours.index_to_key == ["a", "b"] and ours.vectors[:, 0].tolist() == [1.0, 2.0]


def test_gensim_pickled_kv_is_refused(tmp_path):
    path = str(tmp_path / "gensim.kv")
    gensim_of(["a"], np.ones((1, 2), np.float32)).save(path)
    with pytest.raises(ValueError, match="pickle"):
        KeyedVectors.load(path)
