"""Vector files: round trips (ours and gensim's, both directions), word2vec.c
binary layout, gzip, atomic saves, and hostile files that must fail clearly."""
import gzip
import json
import logging
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from embforge import formats
from embforge.formats import atomic_write
from embforge.keyedvectors import KeyedVectors

gensim_models = pytest.importorskip("gensim.models")
GKV = gensim_models.KeyedVectors

# Words for word2vec/GloVe files: anything but space and newline (the two
# separators of both formats), no lone surrogates (not encodable).
WORD = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=" \n"), min_size=1,
               max_size=10)
FINITE32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
FUNCTION_SCOPED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def word_vectors(draw, min_words=0, max_words=5, max_dim=300):
    words = draw(st.lists(WORD, min_size=min_words, max_size=max_words, unique=True))
    dim = draw(st.integers(1, max_dim))
    vectors = draw(hnp.arrays(np.float32, (len(words), dim), elements=FINITE32))
    return words, vectors


def kv_of(words, vectors, counts=None):
    storage = np.zeros((len(words) + 2, vectors.shape[1]), dtype=np.float32)
    storage[: len(words)] = vectors
    return KeyedVectors.from_storage(words, storage, counts)


def gensim_of(words, vectors):
    g = GKV(vectors.shape[1])
    g.add_vectors(words, vectors.copy())
    return g


def write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def binary_record(word: str, values, newline=False) -> bytes:
    return word.encode() + b" " + struct.pack(f"<{len(values)}f", *values) + (b"\n" if newline else b"")


# ---------------------------------------------------------------- atomic_write

def test_atomic_write_replaces_whole_file_and_respects_umask(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_write(target, "w") as out:
        out.write("héllo\n")
        assert target.read_text() == "old"           # not visible before the end
    assert target.read_text(encoding="utf-8") == "héllo\n"
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~umask)
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_keeps_old_file_and_removes_temp_on_error(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "wb") as out:
            out.write(b"partial")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(target, "a"):
            pass


def test_failed_save_leaves_no_file(tmp_path):
    kv = kv_of(["ok", "bad word"], np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="'bad word'"):
        kv.save_word2vec_format(str(tmp_path / "v.txt"))
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- round trips (ours)

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
    assert loaded._storage.shape == (len(words) + 2, vectors.shape[1])     # 2 spare rows
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


@given(data=word_vectors(), with_counts=st.booleans())
@FUNCTION_SCOPED
def test_native_round_trip(tmp_path, data, with_counts):
    words, vectors = data
    counts = list(range(100, 100 - len(words), -1)) if with_counts else None
    path = str(tmp_path / "v.kv")
    kv_of(words, vectors, counts).save(path)
    loaded = KeyedVectors.load(path)
    assert loaded.index_to_key == words
    np.testing.assert_array_equal(loaded.vectors, vectors)
    assert loaded._storage.shape == (len(words) + 2, vectors.shape[1])
    assert ("count" in loaded.expandos) == with_counts
    if with_counts:
        assert [loaded.get_vecattr(w, "count") for w in words] == counts


def test_native_format_takes_any_word_and_never_unpickles(tmp_path, monkeypatch):
    words = ["with space", "new\nline", "", "tab\there", "日本語"]
    vectors = np.arange(15, dtype=np.float32).reshape(5, 3)
    path = str(tmp_path / "odd.kv")
    kv_of(words, vectors).save(path)

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle must not be used")
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(pickle, "Unpickler", no_pickle)
    loaded = KeyedVectors.load(path)
    assert loaded.index_to_key == words
    np.testing.assert_array_equal(loaded.vectors, vectors)
    with open(path, "rb") as raw:
        assert raw.read(8) == b"EMBFKV1\0"


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
        formats.write_word2vec(str(tmp_path / "v.txt"), words, np.ones((1, 2), np.float32))


def test_non_finite_vectors_are_refused_on_save(tmp_path):
    with pytest.raises(ValueError, match="'b'.*NaN"):
        formats.write_word2vec(str(tmp_path / "v.txt"), ["a", "b"], np.array([[1.0], [np.nan]]))


# ---------------------------------------------------------------- gensim interoperability

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


def test_word2vec_c_text_with_trailing_spaces_and_crlf(tmp_path):
    path = write(tmp_path / "c.txt", b"2 3\r\n</s> 0.001 -0.5 1 \r\na 1e-3 2.5E+1 -0 \r\n")
    kv = KeyedVectors.load_word2vec_format(path)
    assert kv.index_to_key == ["</s>", "a"]
    np.testing.assert_array_equal(kv.vectors, np.float32([[0.001, -0.5, 1], [0.001, 25.0, 0]]))


def test_duplicate_words_keep_the_first_like_gensim(tmp_path, caplog):
    text = "3 2\na 1 2\nb 3 4\na 5 6\n"
    path = write(tmp_path / "dup.txt", text.encode())
    with caplog.at_level(logging.WARNING, logger="embforge.formats"):
        ours = KeyedVectors.load_word2vec_format(path)
    theirs = GKV.load_word2vec_format(path)
    # gensim keeps the first vector too (and leaves an unnamed row at the end)
    assert ours.index_to_key == theirs.index_to_key[:2] == ["a", "b"]
    np.testing.assert_array_equal(ours.vectors, theirs.vectors[:2])
    assert "duplicate" in caplog.text and "'a'" in caplog.text
    binary = b"3 1\n" + binary_record("a", [1.0]) + binary_record("b", [2.0]) + binary_record("a", [3.0])
    ours = KeyedVectors.load_word2vec_format(write(tmp_path / "dup.bin", binary), binary=True)
    assert ours.index_to_key == ["a", "b"] and ours.vectors[:, 0].tolist() == [1.0, 2.0]


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
    "huge dim": (b"1 100000000000\n" + ROW, {}, r"line 1: the header declares 1 vectors of 100000000000 values"),
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


def record(word, values, newline=False):
    return binary_record(word, values, newline)


BINARY_CASES = {
    "empty": (b"", r"empty file"),
    "no header": (record("a", [1.0]), r"line 1: expected a header"),
    "dim zero": (b"1 0\n", r"the dimension must be positive"),
    "huge count": (b"100000000000 300\n" + record("a", [1.0] * 300),
                   r"offset 0: the header declares 100000000000 vectors of 300 .* needing at least"),
    "huge dim": (b"2 4000000000\n" + record("a", [1.0]), r"header declares 2 vectors of 4000000000"),
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
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"bad\.gz: (offset|line) \d+: "):
            KeyedVectors.load_word2vec_format(path, binary=binary)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 << 20


def test_lying_headers_in_plain_files_fail_before_allocating(tmp_path):
    tracemalloc.start()
    try:
        for data, binary in ((b"1000000000000 300\nw 1\n", False),
                             (b"1000000000000 300\n" + record("w", [1.0]), True)):
            path = write(tmp_path / "bad", data)
            with pytest.raises(ValueError, match="header declares"):
                KeyedVectors.load_word2vec_format(path, binary=binary)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20


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


# ---------------------------------------------------------------- hostile .kv files

def native_bytes(header=None, counts=None, offsets=None, vectors=None, words=b"ab", pad=True):
    base = {"format": "embforge.KeyedVectors", "version": 1, "count": 2, "dim": 2, "dtype": "float32",
            "words_bytes": 2, "has_counts": True}
    base.update(header or {})
    blob = json.dumps(base).encode()
    if pad:
        blob += b" " * (-(16 + len(blob)) % 64)
    counts = np.array([2, 1] if counts is None else counts, "<i8").tobytes()
    offsets = np.array([0, 1, 2] if offsets is None else offsets, "<i8").tobytes()
    vectors = np.array([[1, 2], [3, 4]] if vectors is None else vectors, "<f4").tobytes()
    return b"EMBFKV1\0" + len(blob).to_bytes(8, "little") + blob + counts + offsets + vectors + words


def test_native_reference_bytes_load(tmp_path):
    kv = KeyedVectors.load(write(tmp_path / "ok.kv", native_bytes()))
    assert kv.index_to_key == ["a", "b"] and kv.vectors.tolist() == [[1, 2], [3, 4]]
    assert kv.get_vecattr("a", "count") == 2


NATIVE_CASES = {
    "bad magic": (b"NOTMAGIC" + bytes(100), r"not an embforge vectors file"),
    "pickle": (pickle.dumps({"a": 1}), r"looks like a pickle"),
    "empty": (b"", r"not an embforge vectors file"),
    "header too long": (b"EMBFKV1\0" + (10 ** 12).to_bytes(8, "little") + b"{}", r"offset 8: header length"),
    "header not json": (b"EMBFKV1\0" + (4).to_bytes(8, "little") + b"{{{{", r"offset 16: the header is not valid JSON"),
    "header not object": (b"EMBFKV1\0" + (2).to_bytes(8, "little") + b"[]", r"not a JSON object"),
    "wrong version": (native_bytes({"version": 99}), r"unsupported version 99"),
    "negative count": (native_bytes({"count": -1}), r"'count' is -1"),
    "count not int": (native_bytes({"count": "2"}), r"'count' is '2'"),
    "dim zero": (native_bytes({"dim": 0}), r"dimension must be positive"),
    "bad dtype": (native_bytes({"dtype": "object"}), r"unsupported dtype 'object'"),
    "huge count": (native_bytes({"count": 10 ** 15}), r"10\d+ vectors .* but the file has \d+ bytes \(truncated\)"),
    "truncated": (native_bytes()[:-3], r"\(truncated\)"),
    "trailing": (native_bytes() + b"x", r"\(trailing data\)"),
    "offsets backwards": (native_bytes(offsets=[0, 2, 1]), r"word offsets are inconsistent"),
    "offsets past blob": (native_bytes(offsets=[0, 1, 5]), r"word offsets are inconsistent"),
    "bad utf8 word": (native_bytes(words=b"a\xff"), r"word 1 b'\\xff' is not valid UTF-8"),
    "duplicate": (native_bytes(words=b"aa"), r"the word 'a' appears twice"),
    "nan": (native_bytes(vectors=[[1, 2], [np.nan, 4]]), r"the vector of 'b' \(row 1\) holds NaN"),
}


@pytest.mark.parametrize("name", sorted(NATIVE_CASES))
def test_hostile_native_files_raise_clear_errors(tmp_path, name):
    data, message = NATIVE_CASES[name]
    path = write(tmp_path / "bad.kv", data)
    with pytest.raises(ValueError, match=message) as error:
        KeyedVectors.load(path)
    assert str(tmp_path / "bad.kv") in str(error.value)


def test_gensim_pickled_kv_is_refused(tmp_path):
    path = str(tmp_path / "gensim.kv")
    gensim_of(["a"], np.ones((1, 2), np.float32)).save(path)
    with pytest.raises(ValueError, match="pickle"):
        KeyedVectors.load(path)
