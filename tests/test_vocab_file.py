"""The ``word count`` vocabulary file: one codec for Vocabulary.save/load and
KeyedVectors' fvocab, its round trip, and hostile files that must fail clearly."""
import gzip
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from embforge.io.vocab_file import read_vocab_file, write_vocab_file
from embforge.keyedvectors import KeyedVectors
from embforge.vocab import Vocabulary

from vector_files import kv_of, write

FUNCTION_SCOPED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture],
                           max_examples=60)
# A vocabulary word: no ASCII whitespace (what the corpus reader splits on;
# Unicode spaces such as U+00A0 belong to the word), no lone surrogates.
VOCAB_WORD = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=" \t\n\r\v\f"),
                     min_size=1, max_size=8)
COUNT = st.integers(0, 2 ** 63 - 1)


@st.composite
def vocabularies(draw, min_size=0):
    words = draw(st.lists(VOCAB_WORD, min_size=min_size, max_size=20, unique=True))
    counts = draw(st.lists(COUNT, min_size=len(words), max_size=len(words)))
    return words, counts


# ---------------------------------------------------------------- round trips

@given(vocab=vocabularies(), name=st.sampled_from(["v.txt", "v.txt.gz"]),
       newline=st.sampled_from(["\n", "\r\n", "\r"]))
@FUNCTION_SCOPED
def test_round_trip(tmp_path, vocab, name, newline):
    words, counts = vocab
    path = tmp_path / name
    write_vocab_file(path, words, counts)
    got_words, got_counts = read_vocab_file(path)
    assert got_words == words and got_counts.tolist() == counts and got_counts.dtype == np.int64
    # The same lines with other line ends (Windows, old Mac) read the same.
    text = (gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes())
    other = write(tmp_path / "other.txt", text.replace(b"\n", newline.encode()))
    assert read_vocab_file(other)[0] == words


@given(vocab=vocabularies(min_size=1))
@FUNCTION_SCOPED
def test_vocabulary_and_fvocab_share_the_codec(tmp_path, vocab):
    words, counts = vocab
    Vocabulary(words, counts).save(tmp_path / "v.txt")
    assert Vocabulary.load(tmp_path / "v.txt") == Vocabulary(words, counts)
    kv = kv_of(words, np.ones((len(words), 2), np.float32), counts)
    kv.save_word2vec_format(str(tmp_path / "w.txt"), fvocab=str(tmp_path / "f.txt"))
    assert (tmp_path / "f.txt").read_bytes() == (tmp_path / "v.txt").read_bytes()
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / "w.txt"), fvocab=str(tmp_path / "v.txt"))
    assert [loaded.get_vecattr(w, "count") for w in words] == counts


def test_files_written_before_the_codec_still_load(tmp_path):
    """The bytes Vocabulary.save and formats.write_vocab_counts wrote before
    they shared a codec: plain UTF-8 lines, gzip for .gz names (fvocab)."""
    text = "the 5\né 3\n日本 3\n".encode("utf-8")
    expected = Vocabulary(["the", "é", "日本"], [5, 3, 3])
    assert Vocabulary.load(write(tmp_path / "vocab.txt", text)) == expected
    assert Vocabulary.load(write(tmp_path / "vocab.gz", gzip.compress(text))) == expected
    # A plain file that Vocabulary.save wrote under a .gz name.
    assert Vocabulary.load(write(tmp_path / "plain.gz", text)) == expected


def test_blank_lines_and_surrounding_whitespace_are_skipped(tmp_path):
    path = write(tmp_path / "v.txt", b"\n  a 1  \n\n\tb\t2\r\n\n")
    words, counts = read_vocab_file(path)
    assert words == ["a", "b"] and counts.tolist() == [1, 2]
    assert read_vocab_file(write(tmp_path / "e.txt", b""))[0] == []


def test_unicode_errors_is_honoured(tmp_path):
    path = write(tmp_path / "v.txt", b"ok 1\nbad\xffword 2\n")
    with pytest.raises(ValueError,
                       match=r"v\.txt: line 2: bytes b'\\xff' at column 4 are not valid utf-8"):
        read_vocab_file(path)
    assert read_vocab_file(path, unicode_errors="replace")[0] == ["ok", "bad\ufffdword"]
    assert read_vocab_file(path, unicode_errors="ignore")[0] == ["ok", "badword"]
    kv = kv_of(["ok", "badword"], np.ones((2, 2), np.float32))
    kv.save_word2vec_format(str(tmp_path / "w.txt"))
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / "w.txt"), fvocab=path,
                                               unicode_errors="ignore")
    assert loaded.get_vecattr("badword", "count") == 2


# ---------------------------------------------------------------- hostile files

HOSTILE = {
    "one field": (b"a 1\nb\n", r"line 2: expected 'word count', found 'b'"),
    "three fields": (b"a 1 2\n", r"line 1: expected 'word count', found 'a 1 2'"),
    "negative": (b"a 1\nb -1\n", r"line 2: the count of 'b' is '-1', not an integer from 0"),
    "fraction": (b"a 1.5\n", r"line 1: the count of 'a' is '1.5'"),
    "not a number": (b"a many\n", r"line 1: the count of 'a' is 'many'"),
    "plus sign": (b"a +3\n", r"line 1: the count of 'a' is '\+3'"),
    "non-ascii digits": ("a ٣\n".encode(), r"line 1: the count of 'a' is '٣'"),
    "superscript": ("a ²\n".encode(), r"line 1: the count of 'a' is '²'"),
    "too large": (b"a 9223372036854775808\n", r"line 1: the count of 'a' is '9223372036854775808'"),
    # int() refuses more than 4300 digits with a message of its own, naming neither
    "thousands of digits": (b"a " + b"9" * 5000 + b"\n", r"line 1: the count of 'a' is '999"),
    "duplicate": (b"a 1\nb 2\na 3\n", r"line 3: the word 'a' appears again \(first on line 1\)"),
    "bad utf-8": (b"a 1\nb\xc3 2\n", r"line 2: bytes b'\\xc3' at column 2 are not valid utf-8"),
    "line numbers count blank lines": (b"\n\na 1\n\nb\n", r"line 5: expected 'word count'"),
    "line numbers count \\r": (b"a 1\rb 2\rc\r", r"line 3: expected 'word count', found 'c'"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_name_file_and_line(tmp_path, name):
    data, message = HOSTILE[name]
    for path in (write(tmp_path / "bad.vocab", data), write(tmp_path / "bad.gz", gzip.compress(data))):
        with pytest.raises(ValueError, match=message) as error:
            read_vocab_file(path)
        assert str(error.value).startswith(path + ": ")
        with pytest.raises(ValueError, match=message):  # the same rules for both users
            Vocabulary.load(path)
        with pytest.raises(ValueError, match=message):
            KeyedVectors.load_word2vec_format(write(tmp_path / "w.txt", b"1 1\na 1\n"), fvocab=path)


def test_vocabulary_load_refuses_an_empty_file(tmp_path):
    with pytest.raises(ValueError, match=r"empty\.txt: empty vocabulary file"):
        Vocabulary.load(write(tmp_path / "empty.txt", b"\n\n"))


# ---------------------------------------------------------------- what the writer refuses

@pytest.mark.parametrize("words, counts, message", [
    (["a b"], [1], r"'a b' cannot be stored"),
    (["a\tb"], [1], r"'a\\tb' cannot be stored"),
    ([""], [1], r"non-empty"),
    ([7], [1], r"not a string"),
    (["\ud800"], [1], r"cannot be written as UTF-8"),
    (["a", "a"], [1, 2], r"word #1 'a' appears twice"),
    (["a", "b"], [1, -2], r"the count of 'b' is -2"),
    (["a"], [1.5], r"the count of 'a' is 1.5, not an integer"),
    (["a"], [float("nan")], r"the count of 'a' is nan"),
    (["a"], np.array([2 ** 64 - 1], np.uint64), r"the count of 'a' is 18446744073709551615"),
    (["a"], ["1"], r"counts must be integers"),
    (["a", "b"], [1], r"2 words but counts has shape \(1,\)"),
])
def test_the_writer_refuses_what_cannot_be_read_back(tmp_path, words, counts, message):
    target = tmp_path / "v.txt"
    target.write_bytes(b"old 1\n")
    with pytest.raises(ValueError, match=message):
        write_vocab_file(target, words, counts)
    assert target.read_bytes() == b"old 1\n" and os.listdir(tmp_path) == ["v.txt"]  # atomic


def test_words_with_unicode_spaces_read_back(tmp_path):
    # Only ASCII whitespace separates words, in the corpus and in this file
    # alike: a corpus word holding U+00A0 or U+001C must survive its file.
    words = ["caf\u00a0e", "a\x1cb", "a\u2028b", "\u3000"]
    write_vocab_file(tmp_path / "v.txt", words, [4, 3, 2, 1])
    assert Vocabulary.load(tmp_path / "v.txt") == Vocabulary(words, [4, 3, 2, 1])


def test_leading_zeros_do_not_count_towards_the_digits(tmp_path):
    path = write(tmp_path / "v.txt", b"a " + b"0" * 30 + b"7\n")
    assert Vocabulary.load(path) == Vocabulary(["a"], [7])


def test_integral_float_counts_are_written_as_integers(tmp_path):
    write_vocab_file(tmp_path / "v.txt", ["a", "b"], np.array([3.0, 0.0]))
    assert (tmp_path / "v.txt").read_text() == "a 3\nb 0\n"


def test_fvocab_refuses_words_that_would_not_read_back(tmp_path):
    kv = kv_of(["tab\tword"], np.ones((1, 2), np.float32), counts=[4])
    with pytest.raises(ValueError, match="cannot be stored in a vocabulary file"):
        kv.save_word2vec_format(str(tmp_path / "w.txt"), fvocab=str(tmp_path / "f.txt"))
    assert not (tmp_path / "f.txt").exists()
