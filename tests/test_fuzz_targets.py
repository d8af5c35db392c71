"""The fuzz targets (fuzz/) without the fuzzer: every target's seeds go
through its checks (the seeds are valid files, so at least one must be
accepted: a target whose reader refuses everything fuzzes nothing), and every
input the fuzzer found crashing a reader (tests/data/fuzz/<target>/) is now
refused cleanly, with the message its fix gives. Needs neither atheris nor
torch; test_fuzz_smoke.py runs the fuzzer itself."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz"))

import _harness  # noqa: E402
from make_seeds import TARGETS  # noqa: E402

FOUND = os.path.join(ROOT, "tests", "data", "fuzz")

# What each crashing input is refused with now (before its fix: the exception
# in the comment, which the fuzzer counts as a crash); None: it is accepted,
# and passes the target's checks of the result.
EXPECTED = {
    # ValueError from Vocabulary: the reader splits on ASCII whitespace only,
    # so "b\x1f" is a word, which the vocabulary refused (str.split() splits
    # on U+001F, U+00A0, ...): a corpus with a no-break space did not encode.
    ("corpus", "unicode_space_in_a_token"): None,
    # MemoryError / numpy's "maximum allowed dimension exceeded": a header of
    # 0 vectors and a huge dimension made the reader allocate the spare rows.
    ("word2vec_text", "zero_vectors_huge_dim"): r"line 1: the dimension 3+ is larger than the 4194304",
    ("word2vec_binary", "zero_vectors_huge_dim"): r"line 1: the dimension 1222+ is larger than",
    # tokenize.TokenError from numpy's parser of old-style .npy headers.
    ("word2vec_model", "npy_header_tokenize_error"): r"not an embforge Word2Vec model \(member "
                                                     r"\w+: not a valid \.npy header",
    # KeyError: a config without one of the settings the constructor takes.
    ("word2vec_model", "config_without_a_setting"): r"invalid Word2Vec model \(KeyError\('workers'\)\)",
    # MemoryError: a .npy header length of 4 GiB was read before numpy checked it.
    ("cooccurrence_archive", "npy_header_length_4gib"): r"not an embforge co-occurrence file "
                                                        r"\(member \w+: \.npy header length \d+ is over",
    ("glove_model", "npy_header_tokenize_error"): r"not an embforge GloVe model \(member \w+: not "
                                                  r"a valid \.npy header",
    ("cooccurrence_archive", "npy_header_tokenize_error"): r"not an embforge co-occurrence file "
                                                           r"\(member \w+: not a valid \.npy header",
    ("checkpoint_manifest", "model_is_an_object"): r"invalid checkpoint manifest \(model \{",
}


def found_inputs():
    for target in sorted(os.listdir(FOUND)):
        for name in sorted(os.listdir(os.path.join(FOUND, target))):
            yield target, name


@pytest.mark.parametrize("name", TARGETS)
def test_seeds_pass_the_target_and_one_is_accepted(name):
    target = _harness.load_target(name)
    accepted = 0
    for seed, data in target.seeds().items():
        _harness.check_input(target, data)  # raises on anything but a clean refusal
        try:
            target.one_input(data)
            accepted += 1
        except target.ALLOWED:
            pass
        finally:
            _harness.SCRATCH.clear()
    assert accepted >= 1, f"{name}: every seed is refused"


def test_every_found_input_has_its_expected_message():
    assert sorted(found_inputs()) == sorted(EXPECTED)


@pytest.mark.parametrize("target_name, name", sorted(EXPECTED))
def test_found_input_is_refused_cleanly(target_name, name):
    target = _harness.load_target(target_name)
    with open(os.path.join(FOUND, target_name, name), "rb") as f:
        data = f.read()
    _harness.check_input(target, data)  # the contract: an allowed refusal, naming the file
    expected = EXPECTED[target_name, name]
    try:
        if expected is None:
            target.one_input(data)
        else:
            with pytest.raises(ValueError, match=expected):
                target.one_input(data)
    finally:
        _harness.SCRATCH.clear()


# ---------------------------------------------------------------- found by review
def test_json_nested_deeper_than_the_recursion_limit_is_a_clean_refusal(tmp_path):
    # json raises RecursionError for such input; each reader names its file.
    from embforge import checkpoint
    from embforge.io.native_kv import NATIVE_MAGIC, read_native
    deep = b"[" * 100_000
    kv = tmp_path / "deep.kv"
    kv.write_bytes(NATIVE_MAGIC + len(deep).to_bytes(8, "little") + deep)
    with pytest.raises(ValueError, match=r"deep\.kv: offset 16: the header is not valid JSON "
                                         r"\(nested too deeply\)"):
        read_native(kv)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "manifest.json").write_bytes(deep)
    with pytest.raises(ValueError, match=r"manifest\.json: not a checkpoint manifest \(nested"):
        checkpoint.latest(tmp_path / "ckpt")


def test_an_archive_member_declaring_more_than_it_holds_is_refused_before_allocation(tmp_path):
    import io
    import zipfile

    import numpy as np

    from embforge.word2vec import Word2Vec
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10 ** 12,)})
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.npy", _npy(b'{"format": "embforge.Word2Vec", "version": 1}'))
        z.writestr("words.npy", _npy(b"a"))
        z.writestr("counts.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(ValueError, match=r"huge\.npz: not an embforge Word2Vec model \(member "
                                         r"counts declares shape \(1000000000000,\) of float32 "
                                         r"\(4000000000000 bytes\) but holds 16 bytes"):
        Word2Vec.load(path)


def _npy(data: bytes) -> bytes:
    import io

    import numpy as np
    out = io.BytesIO()
    np.save(out, np.frombuffer(data, np.uint8))
    return out.getvalue()
