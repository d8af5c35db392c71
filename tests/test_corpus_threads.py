"""Counting and encoding on several threads equals the one-thread pass.

The oracle is ``encode(..., workers=1)``, the single builder fed the files in
order (itself checked against plain Python in test_corpus.py). The chunk
sizes are patched down to a few bytes so that small texts are cut into many
chunks, taken by the threads in whatever order they race to."""
from __future__ import annotations

import bz2
import collections
import filecmp
import gzip
import os
import random
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from embforge import cli, corpus_threads
from embforge._native import core
from embforge.cooccurrence import cooccurrence
from embforge.corpus import EncodedCorpus, encode
from embforge.corpus_threads import count_words
from embforge.io import compression

# Words from a small alphabet (so that words repeat and min_count bites),
# with non-ASCII letters; lines of random lengths, empty ones included.
words = st.sampled_from(["a", "b", "cc", "été", "x\u00e9y", "\u4e2d", "dd", "e", "ffff",
                         "\U0001f600", "g"])
lines = st.lists(st.lists(words, max_size=12), min_size=0, max_size=30)
file_kinds = st.sampled_from(["plain", "gzip", "bz2"])


def render(text_lines: List[List[str]], crlf: bool, trailing_newline: bool,
           separator: str) -> bytes:
    end = "\r\n" if crlf else "\n"
    text = end.join(separator.join(line) for line in text_lines)
    if trailing_newline and text_lines:
        text += end
    return text.encode("utf-8")


def write(directory: Path, name: str, data: bytes, kind: str) -> str:
    path = directory / name
    if kind == "gzip":
        path.write_bytes(gzip.compress(data))
    elif kind == "bz2":
        path.write_bytes(bz2.compress(data))
    else:
        path.write_bytes(data)
    return str(path)


@contextmanager
def tiny_chunks(size: int) -> Iterator[None]:
    """Chunks of about `size` bytes, so that a few lines make many."""
    with mock.patch.object(corpus_threads, "_MIN_RANGE", size), \
            mock.patch.object(corpus_threads, "_MAX_RANGE", size), \
            mock.patch.object(corpus_threads, "_STREAM_PIECE", size):
        yield


def assert_same(a: EncodedCorpus, b: EncodedCorpus) -> None:
    assert a.vocab.words == b.vocab.words
    np.testing.assert_array_equal(a.vocab.counts, b.vocab.counts)
    np.testing.assert_array_equal(np.asarray(a.ids), np.asarray(b.ids))
    np.testing.assert_array_equal(np.asarray(a.offsets), np.asarray(b.offsets))
    assert (a.raw_tokens, a.dropped_tokens) == (b.raw_tokens, b.dropped_tokens)


def one_thread_or_error(source: object, **kwargs: object) -> Optional[EncodedCorpus]:
    try:
        return encode(source, workers=1, **kwargs)  # type: ignore[arg-type]
    except ValueError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.tuples(lines, file_kinds, st.booleans(), st.booleans()), min_size=1,
                      max_size=3),
       separator=st.sampled_from([" ", "\t", "  "]), workers=st.integers(1, 4),
       chunk=st.integers(1, 40), min_count=st.integers(0, 3),
       max_sentence_length=st.sampled_from([1, 2, 3, 5, 10000]),
       max_vocab_size=st.sampled_from([None, 1, 3]), fixed=st.booleans(),
       fast_gzip=st.booleans())
def test_threads_equal_one_thread(tmp_path_factory: pytest.TempPathFactory,
                                  texts: List[tuple], separator: str, workers: int, chunk: int,
                                  min_count: int, max_sentence_length: int,
                                  max_vocab_size: Optional[int], fixed: bool,
                                  fast_gzip: bool) -> None:
    directory = tmp_path_factory.mktemp("t")
    paths = [write(directory, f"f{i}", render(text, crlf, trailing, separator), kind)
             for i, (text, kind, crlf, trailing) in enumerate(texts)]
    source: object = paths[0] if len(paths) == 1 else paths
    before = compression.use_fast_gzip(fast_gzip)
    try:
        settings_ = dict(min_count=min_count, max_vocab_size=max_vocab_size,
                         max_sentence_length=max_sentence_length)
        vocab = None
        if fixed:
            whole = one_thread_or_error(source, min_count=1)
            if whole is None:
                return  # an empty corpus: covered below
            vocab = whole.vocab.__class__(whole.vocab.words[::2], whole.vocab.counts[::2])
        expected = one_thread_or_error(source, vocab=vocab, **settings_)
        with tiny_chunks(chunk):
            if expected is None:
                with pytest.raises(ValueError):
                    encode(source, vocab=vocab, workers=workers, **settings_)
                return
            assert_same(encode(source, vocab=vocab, workers=workers, **settings_), expected)
            if vocab is None:
                counted, raw, dropped = count_words(paths, min_count=min_count,
                                                    max_vocab_size=max_vocab_size,
                                                    workers=workers)
                assert counted.words == expected.vocab.words
                np.testing.assert_array_equal(counted.counts, expected.vocab.counts)
                assert (raw, dropped) == (expected.raw_tokens, expected.dropped_tokens)
    finally:
        compression.use_fast_gzip(before)


@settings(max_examples=80, deadline=None)
@given(text=lines, separator=st.sampled_from([" ", "\t", " \r\x0b"]), crlf=st.booleans(),
       trailing=st.booleans(), cuts=st.lists(st.integers(0, 400), max_size=12),
       workers=st.integers(1, 4), count_only=st.booleans())
def test_chunks_cut_anywhere_read_as_one_builder_reads_them(text: List[List[str]], separator: str,
                                                            crlf: bool, trailing: bool,
                                                            cuts: List[int], workers: int,
                                                            count_only: bool) -> None:
    # What a rank's share of the files comes as (io/line_ranges.rank_share):
    # chunks that may end inside a line or a token. The threads take them in
    # turn, so each must be cut where a builder of its own can start.
    data = render(text, crlf, trailing, separator)
    ends = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    chunks = [data[a:b] for a, b in zip([0] + ends, ends) if b > a]
    one = core.CorpusBuilder(max_sentence_length=10000, stream_path="", count_only=count_only)
    one.feed(data)
    got = corpus_threads.build_from_chunks(iter(chunks), workers=workers, words=None,
                                           min_count=1, max_vocab_size=0,
                                           max_sentence_length=10000, count_only=count_only)
    try:
        one.finish(1, 0)
    except ValueError:  # no token at all
        assert got is None
        return
    assert got is not None
    assert (got.words(), got.counts().tolist(), got.raw_tokens) == (
        one.words(), one.counts().tolist(), one.raw_tokens)
    if not count_only:  # the same ids and sentences too
        np.testing.assert_array_equal(got.take_ids(), one.take_ids())
        np.testing.assert_array_equal(got.take_offsets(), one.take_offsets())


@settings(max_examples=60, deadline=None)
@given(text=lines, cuts=st.lists(st.integers(0, 400), max_size=12), workers=st.integers(1, 4),
       keep=st.lists(st.booleans(), max_size=40), absent=st.lists(words, max_size=3),
       max_length=st.sampled_from([1, 3, 10000]), seed=st.integers(0, 9))
def test_parts_of_own_words_merge_into_a_given_vocabulary(
        text: List[List[str]], cuts: List[int], workers: int, keep: List[bool],
        absent: List[str], max_length: int, seed: int) -> None:
    # What a rank of a distributed job does with its share: its threads count
    # their own words (summed_counts: what the ranks merge), then the parts
    # are merged into the vocabulary the ranks agreed on. Oracle: plain
    # Python for the counts, one builder given that vocabulary for the rest.
    # (Spilled parts: test_distributed_vocab's shares within 64 KiB.)
    data = render(text, False, True, " ")
    ends = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    chunks = [data[a:b] for a, b in zip([0] + ends, ends) if b > a]
    tokens = data.split()
    if not tokens:
        return
    counted = collections.Counter(t.decode() for t in tokens)
    parts, segments = corpus_threads.read_chunks(iter(chunks), workers=workers, words=None)
    words, counts = core.CorpusBuilder.summed_counts(parts)
    assert dict(zip(words, counts.tolist())) == counted
    vocab = [w for w, k in zip(sorted(counted), keep + [True] * len(counted)) if k]
    vocab += [w for w in dict.fromkeys(absent) if w not in counted]
    random.Random(seed).shuffle(vocab)
    if not vocab:
        return
    got = corpus_threads.merge_parts(parts, segments, words=vocab, min_count=0,
                                     max_vocab_size=0, max_sentence_length=max_length)
    one = core.CorpusBuilder(max_sentence_length=max_length)
    one.set_vocabulary(vocab)
    one.feed(data)
    try:
        one.finish(0, 0)
    except ValueError:  # no token of the text in the vocabulary: the caller's to refuse
        assert got.n_ids == 0
        return
    assert (got.words(), got.counts().tolist()) == (one.words(), one.counts().tolist())
    assert (got.raw_tokens, got.dropped_tokens) == (one.raw_tokens, one.dropped_tokens)
    np.testing.assert_array_equal(got.take_ids(), one.take_ids())
    np.testing.assert_array_equal(got.take_offsets(), one.take_offsets())


@pytest.mark.parametrize("workers", [2, 3])
def test_spilled_and_named_streams(tmp_path: Path, workers: int) -> None:
    """Past the memory budget (parts and the merge spill) and with
    stream_path the stream is the same."""
    rng = np.random.default_rng(5)
    vocabulary = [f"w{i}" for i in range(300)]
    text = "\n".join(" ".join(rng.choice(vocabulary, size=rng.integers(0, 40)))
                     for _ in range(4000)).encode()
    paths = [write(tmp_path, "a.txt", text, "plain"), write(tmp_path, "b.gz", text[::-1], "gzip")]
    expected = encode(paths, workers=1, memory=None, max_sentence_length=7)
    with tiny_chunks(4096):
        spilled = encode(paths, workers=workers, memory=1 << 16, temp_dir=tmp_path,
                         max_sentence_length=7)
        assert isinstance(spilled.ids, np.memmap) or not spilled.ids.flags.writeable
        assert_same(spilled, expected)
        named = encode(paths, workers=workers, stream_path=tmp_path / "ids.bin",
                       max_sentence_length=7)
        assert_same(named, expected)
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.gz", "ids.bin"]  # no temporaries left


@pytest.mark.parametrize("bad,what", [(b"\xff\xfe", "invalid UTF-8"), (b"\x00", "NUL byte")])
def test_errors_name_the_corpus_byte(tmp_path: Path, bad: bytes, what: str) -> None:
    """A thread's error names the byte of the whole corpus, as one thread does
    (files of a list are read with a newline between them), and is raised
    once every thread has stopped."""
    first = write(tmp_path, "first.txt", b"x y\n" * 3, "plain")
    data = b"a b\nc d\n" * 50 + b"e " + bad + b" f\n" + b"g\n" * 50
    path = write(tmp_path, "c.txt", data, "plain")
    match = f"{what} at byte {12 + 1 + data.index(bad)} "
    with pytest.raises(ValueError, match=match):
        encode([first, path], workers=1)
    with tiny_chunks(16), pytest.raises(ValueError, match=match):
        encode([first, path], workers=3)


def test_cooccurrence_threads_equal_one_thread(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vocabulary = [f"w{i}" for i in range(60)]
    text = "\n".join(" ".join(rng.choice(vocabulary, size=rng.integers(0, 30)))
                     for _ in range(500)).encode()
    paths = [write(tmp_path, "a.txt", text, "plain"), write(tmp_path, "b.gz", text[:3001], "gzip")]
    expected = cooccurrence(paths, window=4, min_count=2, workers=1, progress=False)
    with tiny_chunks(512):
        for workers in (2, 4):
            got = cooccurrence(paths, window=4, min_count=2, workers=workers, progress=False)
            assert got.vocab.words == expected.vocab.words
            for name in ("rows", "cols", "values"):
                np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))


def test_a_piece_error_stops_every_thread(tmp_path: Path) -> None:
    """A damaged compressed file in the middle of a list: a ValueError naming
    it, whatever the thread that met it."""
    good = write(tmp_path, "good.txt", b"a b c\n" * 1000, "plain")
    damaged = tmp_path / "bad.gz"
    packed = gzip.compress(b"".join(b"w%d x\n" % (i * 7919 % 10007) for i in range(20000)))
    damaged.write_bytes(packed[:len(packed) // 2])
    with tiny_chunks(64), pytest.raises(ValueError, match="bad.gz"):
        encode([good, str(damaged), good], workers=3)


def test_cli_vocab_and_cooccur_threads(tmp_path: Path) -> None:
    """`embforge vocab` and `embforge cooccur` on 3 threads (real subprocesses,
    real chunk sizes: a corpus of several MiB) write the files one thread
    writes (in-process)."""
    rng = np.random.default_rng(11)
    vocabulary = [f"w{i}" for i in range(2000)] + ["é", "naïve"]
    text = "\n".join(" ".join(rng.choice(vocabulary, size=rng.integers(0, 25)))
                     for _ in range(40000)).encode()
    assert len(text) > 2 << 20
    paths = [write(tmp_path, "a.txt", text, "plain"), write(tmp_path, "b.gz", text[:700000],
                                                            "gzip")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for command, extra in (("vocab", []), ("cooccur", ["--quiet", "--window", "5"])):
        one, three = tmp_path / f"{command}1.bin", tmp_path / f"{command}3.bin"
        assert cli.main([command, *paths, "-o", str(one), "--threads", "1", *extra]) == 0
        result = subprocess.run([sys.executable, "-m", "embforge", command, *paths, "-o",
                                 str(three), "--threads", "3", *extra],
                                capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        assert filecmp.cmp(one, three, shallow=False), command
    expected = encode(paths, workers=1)
    lines = (tmp_path / "vocab3.bin").read_text(encoding="utf-8").splitlines()
    assert [line.split()[0] for line in lines] == expected.vocab.words


@pytest.mark.parametrize("workers", [1, 3])
def test_vocabulary_budget_holds_with_threads(tmp_path: Path, workers: int) -> None:
    """Past `vocab_memory` the merged table is refused as one table is, with
    the same message (counting and encoding alike)."""
    text = "\n".join(" ".join(f"u{i * 100 + j}" for j in range(100)) for i in range(1500))
    path = write(tmp_path, "many.txt", text.encode(), "plain")
    with tiny_chunks(1 << 16):
        with pytest.raises(ValueError, match="needs more than its memory budget of 4194304"):
            encode(path, workers=workers, min_count=1, vocab_memory="4MiB")
        with pytest.raises(ValueError, match="needs more than its memory budget of 4194304"):
            count_words([path], workers=workers, min_count=1, vocab_memory=4 << 20)
        assert len(count_words([path], workers=workers, min_count=1)[0]) == 150_000


def test_no_sentence_limit_with_threads_equals_one_thread(tmp_path):
    # "No limit" is a max_sentence_length near 2^63: the threads' count of a
    # line's sentence ends must not overflow there.
    rng = np.random.default_rng(0)
    path = tmp_path / "c.txt"
    with open(path, "w") as f:
        for _ in range(4000):
            f.write(" ".join(f"w{x}" for x in rng.integers(0, 50, rng.integers(0, 12))) + "\n")
    big = 2**63 - 1
    one = encode(str(path), workers=1, min_count=1, max_sentence_length=big)
    two = encode(str(path), workers=2, min_count=1, max_sentence_length=big)
    assert np.array_equal(one.ids, two.ids) and np.array_equal(one.offsets, two.offsets)


@pytest.mark.parametrize("count_only", [True, False])
def test_chunks_without_whitespace_are_refused_as_one_builder_refuses_them(count_only: bool) -> None:
    # 200 kB of one "token" (binary input) in chunks: refused as one builder
    # refuses it, once it is longer than any token can be, not held to its end
    chunks = [b"x" * 40_000] * 5
    with pytest.raises(ValueError, match="a token of more than 65536 bytes"):
        corpus_threads.build_from_chunks(iter(chunks), workers=2, words=None, min_count=1,
                                         max_vocab_size=0, max_sentence_length=10000,
                                         count_only=count_only)
