"""embforge's .kv vectors file: round trips, reference bytes, hostile files."""
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._layout import SPARE_ROWS
from embforge.keyedvectors import KeyedVectors

from vector_files import FUNCTION_SCOPED, kv_of, word_vectors, write


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
    assert loaded._storage.shape == (len(words) + SPARE_ROWS, vectors.shape[1])
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

