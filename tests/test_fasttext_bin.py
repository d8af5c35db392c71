"""fastText's .bin format: our files read by gensim, gensim's read by us, and
hostile files refused with clear errors before anything large is allocated."""
import struct

import numpy as np
import pytest

import embforge
from embforge import FastText, load_facebook_model, load_facebook_vectors
from embforge.io import fasttext_bin

gensim_fasttext = pytest.importorskip("gensim.models.fasttext")

SENTENCES = [["naïve", "café", "straße", "kernel", "driver", "日本語"],
             ["kernel", "module", "driver", "naïve", "über"]] * 30
SETTINGS = dict(vector_size=12, min_count=1, bucket=3000, epochs=2, seed=2, progress=False,
                workers=1)


@pytest.fixture(scope="module")
def model():
    return FastText(sg=1, **SETTINGS).fit(SENTENCES)


@pytest.fixture(scope="module")
def bin_path(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("ft") / "model.bin"
    model.save_facebook_model(path)
    return path


def test_gensim_reads_our_model(model, bin_path):
    theirs = gensim_fasttext.load_facebook_model(str(bin_path))
    assert theirs.wv.index_to_key == model.wv.index_to_key
    assert (theirs.wv.min_n, theirs.wv.max_n, theirs.wv.bucket, theirs.sg) == (3, 6, 3000, 1)
    for word in ["kernel", "naïve", "日本語", "unseen-wörd", "cafés"]:
        np.testing.assert_allclose(theirs.wv[word], model.wv[word], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(theirs.syn1neg, model.syn1neg)


def test_we_read_gensims_model(tmp_path):
    theirs = gensim_fasttext.FastText(vector_size=10, min_count=1, bucket=2000, epochs=1,
                                      sentences=SENTENCES, seed=1, workers=1)
    path = tmp_path / "gensim.bin"
    gensim_fasttext.save_facebook_model(theirs, str(path))
    ours = load_facebook_model(path)
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    for word in ["driver", "über", "straßenbahn", "ünknown"]:
        np.testing.assert_allclose(ours.wv[word], theirs.wv[word], rtol=1e-5, atol=1e-6)
    kv = load_facebook_vectors(path)
    np.testing.assert_allclose(kv["straßenbahn"], theirs.wv["straßenbahn"], rtol=1e-5, atol=1e-6)


def test_round_trip_keeps_everything(model, bin_path):
    loaded = load_facebook_model(bin_path)
    np.testing.assert_array_equal(loaded.wv.input_rows, model.wv.input_rows)
    np.testing.assert_array_equal(loaded.syn1neg, model.syn1neg)
    np.testing.assert_array_equal(loaded.vocab.counts, model.vocab.counts)
    assert (loaded.sg, loaded.window, loaded.negative, loaded.min_n, loaded.max_n) == \
        (1, model.window, model.negative, 3, 6)
    loaded.train(SENTENCES, epochs=1)  # continues training


def test_recognised_by_magic_not_extension(tmp_path, bin_path):
    from embforge.cli.common import load_vectors
    odd = tmp_path / "vectors.txt"
    odd.write_bytes(bin_path.read_bytes())
    kv = load_vectors(odd)
    assert isinstance(kv, embforge.FastTextKeyedVectors) and "never-seen" in kv
    assert not fasttext_bin.is_fasttext_bin(tmp_path / "missing")


def patched(data: bytes, offset: int, fmt: str, value) -> bytes:
    return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt):]


# byte offsets: magic 0, version 4, args 8.. (model 36, bucket 40, minn 44,
# maxn 48), dictionary header 64 (size 64, nwords 68, nlabels 72, ntokens 76,
# pruneidx_size 84), entries from 92
@pytest.mark.parametrize("offset,fmt,value,match", [
    (0, "<i", 12345, "magic number 12345"),
    (4, "<i", 11, "version 11 is not supported"),
    (36, "<i", 3, "supervised"),
    (36, "<i", 9, "unknown model kind 9"),
    (8, "<i", 0, "dim=0"),
    (8, "<i", 1 << 30, "dim=1073741824"),
    (40, "<i", 0, "no character n-grams"),
    (44, "<i", 7, "no character n-grams"),
    (72, "<i", 2, "supervised"),
    (64, "<i", 2**31 - 1, "declares 2147483647 entries"),
    (68, "<i", 0, "declares .* entries and 0 words"),
    (84, "<q", 5, "quantized"),
])
def test_hostile_headers(tmp_path, bin_path, offset, fmt, value, match):
    data = patched(bin_path.read_bytes(), offset, fmt, value)
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match):
        load_facebook_vectors(path)


def test_huge_dictionary_is_refused_before_reading_words(tmp_path, bin_path):
    data = bin_path.read_bytes()
    data = patched(patched(data, 64, "<i", 2**31 - 1), 68, "<i", 2**31 - 1)
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="2147483647 words, more than the .* bytes left"):
        load_facebook_vectors(path)


def matrix_offset(data: bytes, model) -> int:
    """Where the input matrix's header starts: after the dictionary entries."""
    offset = 92
    for word in model.vocab.words:
        offset += len(word.encode()) + 1 + 9
    return offset


def test_hostile_matrices(tmp_path, bin_path, model):
    data = bin_path.read_bytes()
    at = matrix_offset(data, model)
    path = tmp_path / "bad.bin"
    rows = len(model.wv) + 3000
    cases = [
        (patched(data, at, "<?", True), "quantized .*ftz"),
        (patched(data, at + 1, "<q", 2**40), f"declared 1099511627776 x 12, expected {rows} x 12"),
        (patched(data, at + 9, "<q", 13), f"declared {rows} x 13"),
        (data + b"\0\0", "2 unexpected bytes"),
        (data[:at - 3], "truncated"),
    ]
    for bad, match in cases:
        path.write_bytes(bad)
        with pytest.raises(ValueError, match=match):
            load_facebook_vectors(path)


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.03, 0.2, 0.5, 0.9, 0.999])
def test_truncated_files(tmp_path, bin_path, fraction):
    data = bin_path.read_bytes()
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:max(4, int(len(data) * fraction))])
    with pytest.raises(ValueError, match="truncated|magic|no end"):
        load_facebook_vectors(path)


def test_huge_declared_output_is_refused_before_allocating(tmp_path, bin_path, model):
    data = bin_path.read_bytes()
    at = matrix_offset(data, model) + 17 + (len(model.wv) + 3000) * 12 * 4
    path = tmp_path / "bad.bin"
    path.write_bytes(patched(data, at + 1, "<q", 2**45))
    with pytest.raises(ValueError, match="truncated: the output matrix needs"):
        load_facebook_vectors(path)


def test_bad_dictionary_entries(tmp_path, bin_path, model):
    data = bin_path.read_bytes()
    first = model.vocab.words[0].encode()
    path = tmp_path / "bad.bin"
    # an invalid UTF-8 byte in the first word (same length: the layout holds)
    path.write_bytes(data[:92] + b"\xff" + data[93:])
    with pytest.raises(ValueError, match="not valid UTF-8"):
        load_facebook_vectors(path)
    # the second word renamed to the first: a duplicate
    second = model.vocab.words[1].encode()
    assert len(second) == len(first)  # "driver", "kernel": renaming keeps the layout
    start = 92 + len(first) + 10
    path.write_bytes(data[:start] + first + data[start + len(first):])
    with pytest.raises(ValueError, match="twice"):
        load_facebook_vectors(path)
    # a label entry (type 1)
    path.write_bytes(patched(data, 92 + len(first) + 1 + 8, "<b", 1))
    with pytest.raises(ValueError, match="bad entry"):
        load_facebook_vectors(path)


def test_non_negative_sampling_models_give_vectors_only(tmp_path, bin_path):
    path = tmp_path / "hs.bin"
    path.write_bytes(patched(bin_path.read_bytes(), 32, "<i", 1))
    with pytest.raises(ValueError, match="not negative sampling"):
        load_facebook_model(path)
    assert "kernel" in load_facebook_vectors(path)
