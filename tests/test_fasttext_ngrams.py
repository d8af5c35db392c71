"""fastText's character n-grams and their hash (csrc fasttext_ngrams.h),
against gensim's own functions as the oracle, non-ASCII words included."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._native import core

fasttext_inner = pytest.importorskip("gensim.models.fasttext_inner")
gensim_fasttext = pytest.importorskip("gensim.models.fasttext")

WORDS = ["kernel", "a", "ab", "naïve", "Ünïcödé", "日本語", "😀", "x😀y", "straße", "Ω",
         "ÿ", "über-größe", "a" * 40, "é" * 9]
SETTINGS = [(3, 6), (1, 1), (1, 3), (2, 2), (3, 3), (4, 8), (5, 5), (3, 60)]


@pytest.mark.parametrize("min_n,max_n", SETTINGS)
@pytest.mark.parametrize("word", WORDS)
def test_ngrams_match_gensim(word, min_n, max_n):
    ours = core.fasttext_ngrams(word, min_n, max_n)
    assert ours == fasttext_inner.compute_ngrams_bytes(word, min_n, max_n)
    rows = core.fasttext_ngram_rows(word, min_n, max_n, 2_000_000)
    assert rows.tolist() == gensim_fasttext.ft_ngram_hashes(word, min_n, max_n, 2_000_000)
    for ngram in ours:
        assert core.fasttext_hash(ngram) == fasttext_inner.ft_hash_bytes(ngram)


@given(word=st.text(min_size=0, max_size=12), min_n=st.integers(1, 5), extra=st.integers(0, 4),
       bucket=st.sampled_from([1, 7, 1000, 2_000_000, 2**31 - 1]))
def test_random_text_matches_gensim(word, min_n, extra, bucket):
    max_n = min_n + extra
    assert core.fasttext_ngrams(word, min_n, max_n) == fasttext_inner.compute_ngrams_bytes(
        word, min_n, max_n)
    assert core.fasttext_ngram_rows(word, min_n, max_n, bucket).tolist() == \
        gensim_fasttext.ft_ngram_hashes(word, min_n, max_n, bucket)


def unsigned_fnv(data: bytes) -> int:
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def test_bytes_are_hashed_as_signed_chars():
    # The sign extension is what makes non-ASCII rows match fastText's: the
    # textbook (unsigned) FNV-1a agrees on ASCII and differs on "é".
    assert core.fasttext_hash(b"abc") == unsigned_fnv(b"abc")
    assert core.fasttext_hash("é".encode()) != unsigned_fnv("é".encode())
    assert core.fasttext_hash("é".encode()) == fasttext_inner.ft_hash_bytes("é".encode())


def test_cuts_fall_on_character_boundaries():
    # 3 characters of "<日本語>" are 1 + 3 + 3 bytes, never a split sequence
    for ngram in core.fasttext_ngrams("日本語", 1, 6):
        ngram.decode("utf-8")  # raises on a cut inside a character
    assert b"<\xe6\x97\xa5\xe6\x9c\xac" in core.fasttext_ngrams("日本語", 3, 3)


def test_subwords_of_a_vocabulary():
    words = ["kernel", "naïve", "x"]
    offsets, ids = core.fasttext_subwords(words, 3, 6, 1000)
    assert offsets.tolist()[0] == 0 and len(offsets) == 4
    for w, word in enumerate(words):
        rows = ids[offsets[w]:offsets[w + 1]]
        assert rows[0] == w  # the word's own row first
        expected = np.array(gensim_fasttext.ft_ngram_hashes(word, 3, 6, 1000)) + len(words)
        assert rows[1:].tolist() == expected.tolist()


@pytest.mark.parametrize("args,match", [((3, 2, 10), "max_n"), ((0, 2, 10), "min_n"),
                                        ((3, 6, 0), "bucket")])
def test_bad_settings_are_value_errors(args, match):
    with pytest.raises(ValueError, match=match):
        core.fasttext_subwords(["word"], *args)
