"""One opener for every reader: gzip, bzip2 and xz recognised by their magic
bytes whatever the file is called, plain files read as they are whatever they
are called, and damaged data reported as a ValueError naming the file."""
import ast
import bz2
import gzip
import lzma
import os
import pathlib

import numpy as np
import pytest

from embforge import cli
from embforge.corpus import encode
from embforge.evaluation import read_analogies, read_word_pairs
from embforge.io.compression import atomic_output, open_binary, open_text, sniff
from embforge.io.vocab_file import read_vocab_file
from embforge.io.word2vec_header import has_header
from embforge.keyedvectors import KeyedVectors
from embforge.vocab import Vocabulary

from vector_files import kv_of

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "python" / "embforge"
COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress,
            "plain": lambda data: data}
# Names that say nothing, or the wrong thing, about the content.
NAMES = ["data", "data.txt", "data.gz", "data.bz2", "data.xz"]


def put(tmp_path, name, kind, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(COMPRESS[kind](data))
    return str(path)


def test_sniff_knows_the_three_formats_and_nothing_else():
    assert sniff(gzip.compress(b"x")) == "gzip"
    assert sniff(bz2.compress(b"x")) == "bzip2"
    assert sniff(lzma.compress(b"x")) == "xz"
    for plain in (b"", b"a 1\n", b"BZhello 1\n", b"\xfd7zX", b"\x1f"):
        assert sniff(plain) is None, plain


@pytest.mark.parametrize("kind", sorted(COMPRESS))
@pytest.mark.parametrize("name", NAMES)
def test_open_binary_reads_by_content_not_by_name(tmp_path, kind, name):
    data = b"line one\nline two\r\n" * 1000
    path = put(tmp_path, name, kind, data)
    with open_binary(path) as (stream, size):
        assert stream.read() == data
    assert size == (len(data) if kind == "plain" else None)
    with open_text(path) as lines:
        assert lines.read() == data.decode().replace("\r\n", "\n")  # universal newlines


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_damaged_data_is_a_value_error_naming_the_file(tmp_path, kind):
    packed = COMPRESS[kind](os.urandom(200_000))
    flipped = packed[:20] + bytes(b ^ 0xFF for b in packed[20:2000]) + packed[2000:]
    for name, data in (("cut", packed[: len(packed) // 2]), ("flipped", flipped)):
        path = tmp_path / f"{name}.{kind}"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=rf"{name}\.{kind}: damaged {kind} data"):
            with open_binary(path) as (stream, _):
                stream.read()


def test_missing_files_and_directories(tmp_path):
    with pytest.raises(FileNotFoundError):
        with open_binary(tmp_path / "nope"):
            pass
    with pytest.raises(IsADirectoryError, match="directory"):
        with open_binary(tmp_path):
            pass


def test_errors_of_the_reader_itself_pass_through(tmp_path):
    path = put(tmp_path, "x", "gzip", b"abc")
    with pytest.raises(KeyError):
        with open_binary(path):
            raise KeyError("not a decompression error")


def test_atomic_output_compresses_gz_names_only_and_reproducibly(tmp_path):
    for name in ("v.gz", "again.gz", "v.txt", "v.bz2"):
        with atomic_output(tmp_path / name) as out:
            out.write(b"payload\n")
    assert gzip.decompress((tmp_path / "v.gz").read_bytes()) == b"payload\n"
    assert (tmp_path / "v.gz").read_bytes() == (tmp_path / "again.gz").read_bytes()  # no time stamp
    assert (tmp_path / "v.txt").read_bytes() == (tmp_path / "v.bz2").read_bytes() == b"payload\n"


# ------------------------------------------------------------ every reader goes through it

@pytest.mark.parametrize("kind", sorted(COMPRESS))
@pytest.mark.parametrize("name", ["data", "data.gz"])
def test_every_reader_reads_every_compression(tmp_path, kind, name):
    words, vectors = ["a", "b"], np.float32([[1, 2], [3, 4]])
    kv_of(words, vectors).save_word2vec_format(str(tmp_path / "v.txt"))
    kv_of(words, vectors).save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    kv_of(words, vectors).save_word2vec_format(str(tmp_path / "g.txt"), write_header=False)
    sources = {
        "text": (tmp_path / "v.txt").read_bytes(), "binary": (tmp_path / "v.bin").read_bytes(),
        "glove": (tmp_path / "g.txt").read_bytes(), "vocab": b"a 7\nb 3\n",
        "corpus": b"a b a\nb a\n", "analogies": b": s\na b a b\n", "pairs": b"a\tb\t1.5\n"}
    path = {key: put(tmp_path, f"{key}-{name}", kind, data) for key, data in sources.items()}

    for key, binary, no_header in (("text", False, False), ("binary", True, False),
                                   ("glove", False, True)):
        loaded = KeyedVectors.load_word2vec_format(path[key], binary=binary, no_header=no_header,
                                                   fvocab=path["vocab"])
        assert loaded.index_to_key == words and np.array_equal(loaded.vectors, vectors)
        assert [loaded.get_vecattr(w, "count") for w in words] == [7, 3]
    assert has_header(path["text"]) and not has_header(path["glove"])
    assert cli.load_vectors(path["glove"]).index_to_key == words  # the CLI's header sniffing
    assert cli.load_vectors(path["text"]).index_to_key == words
    assert Vocabulary.load(path["vocab"]) == Vocabulary(words, [7, 3])
    assert read_vocab_file(path["vocab"])[0] == words
    corpus = encode(path["corpus"], min_count=1)
    assert [list(s) for s in corpus] == [["a", "b", "a"], ["b", "a"]]
    questions = read_analogies(path["analogies"], case_insensitive=False)[0][1]
    assert [q.words for q in questions] == [("a", "b", "a", "b")]
    assert read_word_pairs(path["pairs"], case_insensitive=False) == [(1, "a", "b", 1.5)]


def test_only_the_opener_imports_the_decompressors():
    """A reader that opens compressed files itself (by name, or with its own
    magic table) would bring back a second way of deciding."""
    owners = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                     else [])
            for name in names:
                if name.split(".")[0] in ("gzip", "bz2", "lzma", "isal"):
                    owners.setdefault(str(path.relative_to(PACKAGE)), set()).add(name)
    assert set(owners) == {os.path.join("io", "compression.py")}, owners


@pytest.mark.parametrize("fast", [False, True])
def test_gzip_reads_alike_with_isal_and_zlib(tmp_path, fast):
    """gzip data through the optional ISA-L inflater or the zlib fallback: the
    same bytes, and damaged data the same ValueError naming the file."""
    from embforge.io import compression
    if fast and not compression.fast_gzip_available():
        pytest.skip("isal (the optional extra embforge[fast]) is not installed")
    data = b"".join(b"line %d \xc3\xa9\r\n" % i for i in range(50_000))
    path = tmp_path / "c.gz"  # two gzip members, as `cat a.gz b.gz` makes
    path.write_bytes(gzip.compress(data) + gzip.compress(b"second member\n"))
    packed = COMPRESS["gzip"](os.urandom(200_000))
    before = compression.use_fast_gzip(fast)
    try:
        with open_binary(path) as (stream, size):
            assert (fast and compression._fast_gzip) == fast  # the path under test is used
            assert stream.read() == data + b"second member\n" and size is None
        for name, damaged in (("cut", packed[: len(packed) // 2]),
                              ("flipped", packed[:20] + bytes(b ^ 0xFF for b in packed[20:2000])
                               + packed[2000:])):
            bad = tmp_path / f"{name}.gz"
            bad.write_bytes(damaged)
            with pytest.raises(ValueError, match=rf"{name}\.gz: damaged gzip data"):
                with open_binary(bad) as (stream, _):
                    stream.read()
    finally:
        compression.use_fast_gzip(before)
