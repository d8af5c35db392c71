"""word2vec text/binary and GloVe text files: round trips, word2vec.c's
layouts, and hostile files that must fail clearly."""
import gzip
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge.io import word2vec_format
from embforge._layout import SPARE_ROWS
from embforge.keyedvectors import KeyedVectors

from vector_files import FUNCTION_SCOPED, kv_of, record, word_vectors, write


# ---------------------------------------------------------------- round trips

@given(data=word_vectors(), binary=st.booleans(), gz=st.booleans())
@FUNCTION_SCOPED
def test_word2vec_round_trip_is_exact(tmp_path, data, binary, gz):
    words, vectors = data
    path = str(tmp_path / ("v.bin" if binary else "v.txt")) + (".gz" if gz else "")
    kv_of(words, vectors).save_word2vec_format(path, binary=binary)
    with open(path, "rb") as raw:
        assert (raw.read(2) == b"\x1f\x8b") == gz
    loaded = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert loaded.index_to_key == words
    np.testing.assert_array_equal(loaded.vectors, vectors)
    assert loaded._storage.shape == (len(words) + SPARE_ROWS, vectors.shape[1])
    assert not loaded._storage[len(words):].any()
    assert [loaded.get_vecattr(w, "count") for w in words] == list(range(len(words), 0, -1))


@given(data=word_vectors(min_words=1))
@FUNCTION_SCOPED
def test_glove_round_trip(tmp_path, data):
    words, vectors = data
    path = str(tmp_path / "glove.txt")
    kv_of(words, vectors).save_word2vec_format(path, write_header=False)
    loaded = KeyedVectors.load_word2vec_format(path, no_header=True)
    assert loaded.index_to_key == words
    np.testing.assert_array_equal(loaded.vectors, vectors)



def test_float64_vectors_keep_their_precision(tmp_path):
    vectors = np.array([[1 / 3, 2 / 3]], dtype=np.float64)
    kv = KeyedVectors(2, dtype=np.float64)
    kv.add_vectors(["a"], vectors)
    kv.save_word2vec_format(str(tmp_path / "v.txt"))
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / "v.txt"), datatype=np.float64)
    assert loaded.vectors.dtype == np.float64
    np.testing.assert_allclose(loaded.vectors, vectors.astype(np.float32))  # files hold float32
    kv.save(str(tmp_path / "v.kv"))
    np.testing.assert_array_equal(KeyedVectors.load(str(tmp_path / "v.kv")).vectors, vectors)
    half = KeyedVectors.load_word2vec_format(str(tmp_path / "v.txt"), datatype=np.float16)
    assert half.vectors.dtype == np.float16
    with pytest.raises(ValueError, match="datatype"):
        KeyedVectors.load_word2vec_format(str(tmp_path / "v.txt"), datatype=np.int32)


def test_limit_reads_the_first_vectors(tmp_path):
    words = [f"w{i}" for i in range(10)]
    vectors = np.arange(30, dtype=np.float32).reshape(10, 3)
    for binary in (False, True):
        path = str(tmp_path / f"v{binary}")
        kv_of(words, vectors).save_word2vec_format(path, binary=binary)
        loaded = KeyedVectors.load_word2vec_format(path, binary=binary, limit=4)
        assert loaded.index_to_key == words[:4]
        np.testing.assert_array_equal(loaded.vectors, vectors[:4])
        assert len(KeyedVectors.load_word2vec_format(path, binary=binary, limit=0)) == 10  # gensim


def test_fvocab_round_trip(tmp_path):
    kv = kv_of(["a", "b"], np.ones((2, 2), np.float32), counts=[7, 3])
    kv.save_word2vec_format(str(tmp_path / "v.txt"), fvocab=str(tmp_path / "vocab.txt"))
    assert (tmp_path / "vocab.txt").read_text() == "a 7\nb 3\n"
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / "v.txt"), fvocab=str(tmp_path / "vocab.txt"))
    assert loaded.get_vecattr("a", "count") == 7 and loaded.get_vecattr("b", "count") == 3
    with pytest.raises(ValueError, match="count"):
        kv_of(["a"], np.ones((1, 2), np.float32)).save_word2vec_format(
            str(tmp_path / "x.txt"), fvocab=str(tmp_path / "x.vocab"))


def test_total_vec_writes_a_larger_header(tmp_path):
    kv = kv_of(["a"], np.ones((1, 2), np.float32))
    kv.save_word2vec_format(str(tmp_path / "v.txt"), total_vec=3)
    assert (tmp_path / "v.txt").read_text().startswith("3 2\n")
    with pytest.raises(ValueError, match="total_vec"):
        kv.save_word2vec_format(str(tmp_path / "v.txt"), total_vec=0)


@pytest.mark.parametrize("words, message", [
    (["a b"], "'a b'"), (["a\nb"], "newline"), ([""], "non-empty"), ([7], "not a string")])
def test_unwritable_words_are_refused(tmp_path, words, message):
    with pytest.raises(ValueError, match=message):
        word2vec_format.write_word2vec(str(tmp_path / "v.txt"), words, np.ones((1, 2), np.float32))


def test_non_finite_vectors_are_refused_on_save(tmp_path):
    with pytest.raises(ValueError, match="'b'.*NaN"):
        word2vec_format.write_word2vec(str(tmp_path / "v.txt"), ["a", "b"], np.array([[1.0], [np.nan]]))


def test_word2vec_c_text_with_trailing_spaces_and_crlf(tmp_path):
    path = write(tmp_path / "c.txt", b"2 3\r\n</s> 0.001 -0.5 1 \r\na 1e-3 2.5E+1 -0 \r\n")
    kv = KeyedVectors.load_word2vec_format(path)
    assert kv.index_to_key == ["</s>", "a"]
    np.testing.assert_array_equal(kv.vectors, np.float32([[0.001, -0.5, 1], [0.001, 25.0, 0]]))


def test_unicode_errors_is_honoured(tmp_path):
    path = write(tmp_path / "bad.txt", b"2 1\nbad\xffword 1.0\nok 2.0\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 2: bytes b'\\xff'"):
        KeyedVectors.load_word2vec_format(path)
    assert KeyedVectors.load_word2vec_format(path, unicode_errors="replace").index_to_key[0] == "bad\ufffdword"
    assert KeyedVectors.load_word2vec_format(path, unicode_errors="ignore").index_to_key[0] == "badword"
    binary = write(tmp_path / "bad.bin", b"1 1\n" + b"x\xfe " + struct.pack("<f", 1.0))
    with pytest.raises(ValueError, match=r"bad\.bin: offset 5: the word b'x\\xfe' is not valid utf8"):
        KeyedVectors.load_word2vec_format(binary, binary=True)
    assert KeyedVectors.load_word2vec_format(binary, binary=True, unicode_errors="ignore").index_to_key == ["x"]



# ---------------------------------------------------------------- hostile files

ROW = b"w 0.1 0.2 0.3\n"
TEXT_CASES = {
    "empty": (b"", {}, r"empty file"),
    "header not numbers": (b"three 3\n" + ROW, {}, r"line 1: expected a header .*'three 3'.*no_header=True"),
    "header one field": (b"3\n" + ROW, {}, r"line 1: expected a header"),
    "header negative": (b"-1 3\n", {}, r"line 1: expected a header .*'-1 3'"),
    "dim zero": (b"1 0\nw\n", {}, r"line 1: the dimension must be positive.* 0"),
    "fewer rows": (b"3 3\n" + ROW + b"v 1 2 3\n", {}, r"line 3: the header declares 3 vectors but the file ends after 2"),
    "more rows": (b"1 3\n" + ROW + b"v 1 2 3\n", {}, r"line 3: more rows than the 1 the header declares: 'v 1 2 3"),
    "short row": (b"2 3\n" + ROW + b"v 1 2\n", {}, r"line 3: expected a word and 3 values, found 2 .*'v'.*too short"),
    "long row": (b"2 3\n" + ROW + b"v 1 2 3 4\n", {}, r"line 3: expected a word and 3 values, found 4 .*too long"),
    "not a number": (b"2 3\n" + ROW + b"v 1 zwei 3\n", {}, r"line 3: field 3 is not a number: 'zwei'"),
    "nan": (b"2 3\n" + ROW + b"v 1 nan 3\n", {}, r"line 3: field 3 is not a finite float32: 'nan'"),
    "inf": (b"2 3\n" + ROW + b"v -inf 2 3\n", {}, r"line 3: field 2 is not a finite float32: '-inf'"),
    "float32 overflow": (b"2 3\n" + ROW + b"v 1 2 1e39\n", {}, r"line 3: field 4 is not a finite float32: '1e39'"),
    "blank line inside": (b"2 3\n" + ROW + b"\n" + ROW, {}, r"line 3: empty line"),
    "empty word": (b"1 3\n 1 2 3\n", {}, r"line 2: the line starts with a space \(empty word\)"),
    "huge count": (b"1000000000000 300\n" + ROW, {}, r"line 1: the header declares 1000000000000 vectors of 300 values, more than"),
    "huge dim": (b"1 100000000000\n" + ROW, {}, r"line 1: the dimension 100000000000 is larger than the 4194304"),
    "glove empty": (b"\n\n", {"no_header": True}, r"no vectors found"),
    "glove ragged": (b"a 1 2\nb 1 2 3\n", {"no_header": True}, r"line 2: expected a word and 2 values, found 3"),
    "glove word only": (b"a\n", {"no_header": True}, r"line 1: expected a word and its vector"),
    "glove nan": (b"a 1 2\nb NaN 2\n", {"no_header": True}, r"line 2: field 2 is not a finite"),
}


@pytest.mark.parametrize("name", sorted(TEXT_CASES))
def test_hostile_text_files_raise_clear_errors(tmp_path, name):
    data, kwargs, message = TEXT_CASES[name]
    path = write(tmp_path / "bad.txt", data)
    with pytest.raises(ValueError, match=message) as error:
        KeyedVectors.load_word2vec_format(path, **kwargs)
    assert str(tmp_path / "bad.txt") in str(error.value)


def test_binary_file_read_as_text_says_so(tmp_path):
    path = write(tmp_path / "v.bin", b"1 2\n" + record("w", [1.5, -2.25]))
    with pytest.raises(ValueError, match=r"line 2: .*binary=True"):
        KeyedVectors.load_word2vec_format(path)


def test_trailing_blank_lines_are_fine(tmp_path):
    path = write(tmp_path / "v.txt", b"1 3\n" + ROW + b"\n\n")
    assert KeyedVectors.load_word2vec_format(path).index_to_key == ["w"]
    glove = write(tmp_path / "g.txt", ROW + b"\n")
    assert KeyedVectors.load_word2vec_format(glove, no_header=True).index_to_key == ["w"]



BINARY_CASES = {
    "empty": (b"", r"empty file"),
    "no header": (record("a", [1.0]), r"line 1: expected a header"),
    "dim zero": (b"1 0\n", r"the dimension must be positive"),
    "huge count": (b"100000000000 300\n" + record("a", [1.0] * 300),
                   r"offset 0: the header declares 100000000000 vectors of 300 .* needing at least"),
    "huge dim": (b"2 4000000000\n" + record("a", [1.0]), r"line 1: the dimension 4000000000 is larger than"),
    "size check": (b"2 2\n" + record("a", [1.0, 2.0]) + b"b " + struct.pack("<f", 1.0),
                   r"offset 0: the header declares 2 vectors of 2 float32 values, needing at least 20 "
                   r"bytes, but only 16 follow"),
    # long words pass the size check, then the last record is cut short
    "truncated vector": (b"2 2\n" + record("aaaaaaa", [1.0, 2.0]) + b"b " + struct.pack("<f", 1.0),
                         r"offset 20: the file ends after 1 of the 2 vectors"),
    "truncated word": (b"2 1\n" + record("aaaaaaa", [1.0]) + b"bb", r"offset 16: the file ends after 1 of the 2"),
    "trailing data": (b"1 1\n" + record("a", [1.0], True) + record("b", [2.0]),
                      r"offset 11: data after the 1 vectors the header declares: b'b "),
    "nan": (b"2 2\n" + record("a", [1.0, 2.0]) + record("b", [1.0, float("nan")]),
            r"offset 14: the vector of 'b' holds NaN or infinite"),
    "inf": (b"1 1\n" + record("a", [float("inf")]), r"offset 4: the vector of 'a' holds NaN"),
    "empty word": (b"1 1\n" + record("", [1.0]) + b"\0" * 4, r"offset 4: empty word"),
    "text file": (b"2 3\nw 0.1 0.2 0.3\nv 0.4 0.5 0.6\n", r"offset 4: the vector of 'w' reads as text .*binary=False"),
    "no space": (b"1 1\n" + b"x" * 70000 + b" " + b"\0" * 4, r"offset 4: no space after a word within 65536 bytes"),
}


@pytest.mark.parametrize("name", sorted(BINARY_CASES))
def test_hostile_binary_files_raise_clear_errors(tmp_path, name):
    data, message = BINARY_CASES[name]
    path = write(tmp_path / "bad.bin", data)
    with pytest.raises(ValueError, match=message) as error:
        KeyedVectors.load_word2vec_format(path, binary=True)
    assert str(tmp_path / "bad.bin") in str(error.value)


@pytest.mark.parametrize("data, binary", [
    (b"1000000000000 300\n" + b"w" + b" 0.5" * 300 + b"\n", False),
    (b"1000000000 30000\n" + record("w", [0.5] * 30000), True),
    (b"3 100000000\nw 0.5\n", False),
])
def test_lying_headers_in_gzip_files_do_not_allocate(tmp_path, data, binary):
    """Without a file size to check against, memory follows the data actually read."""
    path = str(tmp_path / "bad.gz")
    with gzip.open(path, "wb") as out:
        out.write(data)
    assert peak_allocation(lambda: refused(path, binary, r"bad\.gz: (offset|line) \d+: ")) < 100 << 20


@pytest.mark.parametrize("data, binary", [(b"1000000000000 300\nw 1\n", False),
                                          (b"1000000000000 300\n" + record("w", [1.0]), True)])
def test_lying_headers_in_plain_files_fail_before_allocating(tmp_path, data, binary):
    path = write(tmp_path / "bad", data)
    assert peak_allocation(lambda: refused(path, binary, "header declares")) < 10 << 20


def refused(path, binary: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeyedVectors.load_word2vec_format(path, binary=binary)


def peak_allocation(call) -> int:
    """The most Python-traced memory held at once while `call()` runs."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_damaged_gzip_is_a_value_error(tmp_path):
    path = tmp_path / "v.txt.gz"
    kv_of(["a", "b"], np.ones((2, 50), np.float32)).save_word2vec_format(str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"v\.txt\.gz: damaged gzip data"):
        KeyedVectors.load_word2vec_format(str(path))


def test_missing_files_raise_file_not_found(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load_word2vec_format(missing)
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load_word2vec_format(missing, binary=True)
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load(missing)


