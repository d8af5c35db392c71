"""Vocabulary counting and corpus encoding against a plain-Python reference."""
import gzip
import os
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge.corpus import EncodedCorpus, encode
from embforge.vocab import Vocabulary

WHITESPACE = " \t\r\v\f"


def reference(text: bytes, min_count=1, max_vocab_size=None, max_sentence_length=10000):
    """word2vec.c / GloVe conventions written out plainly."""
    lines = [line.split() for line in text.split(b"\n")]
    counts = Counter(t for line in lines for t in line)
    kept = sorted((w for w, c in counts.items() if c >= max(min_count, 1)),
                  key=lambda w: (-counts[w], w))
    if max_vocab_size:
        kept = kept[:max_vocab_size]
    index = {w: i for i, w in enumerate(kept)}
    sentences = []
    for line in lines:
        ids = [index[t] for t in line if t in index]
        for start in range(0, len(ids), max_sentence_length):
            sentences.append(ids[start:start + max_sentence_length])
    words = [w.decode("utf-8") for w in kept]
    return words, [counts[w] for w in kept], sentences


def sentences_of(corpus: EncodedCorpus):
    return [corpus.ids[a:b].tolist() for a, b in zip(corpus.offsets[:-1], corpus.offsets[1:])]


def write(tmp_path, data: bytes, name="c.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


tokens = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 min_size=1, max_size=6).filter(lambda t: t.split() == [t])
lines = st.lists(st.lists(tokens, max_size=30), min_size=1, max_size=40)


@given(lines=lines, min_count=st.integers(0, 3), max_sentence_length=st.integers(1, 12),
       separators=st.sampled_from([" ", "\t", "  ", " \r"]), chunk=st.integers(1, 64))
def test_encoding_matches_reference(tmp_path_factory, lines, min_count, max_sentence_length,
                                    separators, chunk):
    text = "\n".join(separators.join(line) for line in lines).encode("utf-8")
    words, counts, expected = reference(text, min_count, None, max_sentence_length)
    path = write(tmp_path_factory.mktemp("h"), text)
    if not any(lines):
        with pytest.raises(ValueError, match="empty"):
            encode(path, min_count=min_count)
        return
    import embforge.corpus_text as corpus_module
    old = corpus_module.CHUNK_BYTES
    corpus_module.CHUNK_BYTES = chunk  # tokens and lines cut by chunk ends
    try:
        if not words:
            with pytest.raises(ValueError, match="min_count"):
                encode(path, min_count=min_count, max_sentence_length=max_sentence_length)
            return
        corpus = encode(path, min_count=min_count, max_sentence_length=max_sentence_length)
    finally:
        corpus_module.CHUNK_BYTES = old
    assert corpus.vocab.words == words
    assert corpus.vocab.counts.tolist() == counts
    assert sentences_of(corpus) == [s for s in expected if s]
    assert corpus.raw_tokens == sum(len(line) for line in lines)
    assert corpus.dropped_tokens == corpus.raw_tokens - corpus.n_tokens


@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "dd", "é", "日本"]), min_size=1, max_size=9),
                min_size=1, max_size=30))
def test_iterable_and_file_and_fixed_vocab_agree(tmp_path_factory, sentences):
    text = "\n".join(" ".join(s) for s in sentences).encode("utf-8")
    path = write(tmp_path_factory.mktemp("i"), text)
    from_file = encode(path, min_count=1)
    from_iterable = encode(sentences, min_count=1)
    assert from_iterable.vocab == from_file.vocab
    assert sentences_of(from_iterable) == sentences_of(from_file)
    refixed = encode(sentences, vocab=from_file.vocab)
    assert sentences_of(refixed) == sentences_of(from_file)
    assert [list(s) for s in from_file] == sentences


def test_huge_counts_and_ties(tmp_path):
    # 300k copies of one word, ties broken by byte order ("B" < "a" < "b").
    text = b"x " * 300_000 + b"\nb a B\nb a B\n"
    corpus = encode(write(tmp_path, text), min_count=1)
    assert corpus.vocab.words == ["x", "B", "a", "b"]
    assert corpus.vocab.counts.tolist() == [300_000, 2, 2, 2]
    # One 300k-token line becomes 30 sentences of at most 10,000 tokens, none lost.
    assert np.diff(corpus.offsets).tolist()[:30] == [10_000] * 30
    assert corpus.n_tokens == 300_006


def test_gzip_and_multiple_files(tmp_path):
    plain = write(tmp_path, b"a b c\na b\n")
    packed = tmp_path / "c.txt.gz"
    packed.write_bytes(gzip.compress(b"a c\nc c"))
    corpus = encode([plain, str(packed)], min_count=1)
    assert corpus.vocab.words == ["c", "a", "b"]  # counts 4, 3, 2
    assert [list(s) for s in corpus] == [["a", "b", "c"], ["a", "b"], ["a", "c"], ["c", "c"]]


def test_min_count_and_max_vocab(tmp_path):
    path = write(tmp_path, b"a a a b b c\n")
    assert encode(path, min_count=2).vocab.words == ["a", "b"]
    assert encode(path, min_count=0).vocab.words == ["a", "b", "c"]  # 0 counts as 1
    corpus = encode(path, min_count=1, max_vocab_size=1)
    assert corpus.vocab.words == ["a"] and corpus.dropped_tokens == 3


def test_memory_mapped_stream(tmp_path):
    text = b"".join(f"w{i % 50} w{i % 7} w{i % 3}\n".encode() for i in range(5000))
    in_memory = encode(write(tmp_path, text), min_count=2)
    mapped = encode(write(tmp_path, text), min_count=2, stream_path=tmp_path / "ids.u32")
    assert isinstance(mapped.ids, np.memmap)
    assert np.array_equal(mapped.ids, in_memory.ids)
    assert np.array_equal(mapped.offsets, in_memory.offsets)
    assert os.path.getsize(tmp_path / "ids.u32") == 4 * in_memory.n_tokens


def test_vocabulary_save_load(tmp_path):
    vocab = Vocabulary(["the", "é", "日本"], [5, 3, 3])
    vocab.save(tmp_path / "v.txt")
    assert (tmp_path / "v.txt").read_text(encoding="utf-8") == "the 5\né 3\n日本 3\n"
    assert Vocabulary.load(tmp_path / "v.txt") == vocab
    assert "é" in vocab and vocab["日本"] == 2 and len(vocab) == 3


# ----------------------------------------------------------------- bad input
def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        encode(str(tmp_path / "nope.txt"))
    with pytest.raises(IsADirectoryError, match="directory"):
        encode(str(tmp_path))


@pytest.mark.parametrize("data", [b"", b"\n\n  \t\n"])
def test_empty_corpus(tmp_path, data):
    with pytest.raises(ValueError, match="empty"):
        encode(write(tmp_path, data))


def test_nothing_above_min_count(tmp_path):
    with pytest.raises(ValueError, match=r"min_count=5.*'a', occurs 2 times"):
        encode(write(tmp_path, b"a a b\n"), min_count=5)


def test_invalid_utf8_names_the_offset(tmp_path):
    with pytest.raises(ValueError, match=r"invalid UTF-8 at byte 8"):
        encode(write(tmp_path, b"ok fine \xff\xfe bad\n"), min_count=1)


def test_nul_byte(tmp_path):
    with pytest.raises(ValueError, match="NUL byte at byte 4"):
        encode(write(tmp_path, b"ab c\x00d\n"), min_count=1)


def test_100mb_single_line_is_split_not_dropped(tmp_path):
    # A 110 MB line: 10M tokens of 10 bytes; nothing may be lost.
    line = b" ".join(b"tok%07d" % (i % 1000) for i in range(10_000_000))
    assert len(line) > 100_000_000
    corpus = encode(write(tmp_path, line), min_count=1)
    assert corpus.n_tokens == 10_000_000 and len(corpus) == 1000


def test_giant_token_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="is this a text corpus"):
        encode(write(tmp_path, b"x" * 70_000 + b" y\n"), min_count=1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(min_count=-1), "min_count"),
    (dict(max_vocab_size=0), "max_vocab_size"),
    (dict(max_sentence_length=0), "max_sentence_length"),
])
def test_absurd_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode(write(tmp_path, b"a b\n"), **kwargs)


def test_iterable_input_errors():
    with pytest.raises(TypeError, match="lists of tokens"):
        encode(["a b c", "d e"] * 1 + [None])  # not all paths: iterable of str lines
    with pytest.raises(ValueError, match="whitespace"):
        encode([["a b", "c"]], min_count=1)
    with pytest.raises(TypeError, match="re-iterable"):
        encode(iter([["a"]]))


def test_unicode_spaces_are_part_of_a_token(tmp_path):
    # Only ASCII whitespace separates tokens: U+00A0 (no-break space, common
    # in web text) and U+001F stay inside their words, and the vocabulary
    # built from them is a valid one.
    path = tmp_path / "c.txt"
    path.write_bytes("caf\u00a0e b\x1f caf\u00a0e\nb\x1f x\n".encode())
    corpus = encode(str(path), min_count=1)
    assert corpus.vocab.words == ["b\x1f", "caf\u00a0e", "x"]
    assert list(corpus) == [["caf\u00a0e", "b\x1f", "caf\u00a0e"], ["b\x1f", "x"]]
    assert list(encode([["caf\u00a0e", "x"]], min_count=1)) == [["caf\u00a0e", "x"]]
