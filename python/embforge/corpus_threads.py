"""Counting and encoding corpus files on several threads.

What ``encode(files, workers=N)`` and ``embforge vocab`` / ``embforge
cooccur`` run (and, under torchrun, what a rank reads its share of the
files with: ``build_from_chunks`` to count it, ``read_chunks`` then
``merge_parts`` to encode it): the result is exactly what one thread
reading the files in order gives (same vocabulary, counts and order, same
ids and sentence offsets), only sooner.

How: the files are cut into chunks of whole lines (io/line_ranges.py, the
reader the distributed encode uses; a rank's share of them, which comes in
chunks that may end inside a line, is cut again at newlines, or at any
whitespace when only words are counted: _chunk_pieces): a plain file into
byte ranges starting at line starts, which each thread reads itself; a compressed file into
pieces of its one decompressing stream, inflated by whichever thread takes
the next piece (under a lock: a stream is read in order, while the other
threads go on tokenising with the GIL released). Each thread feeds its chunks
to its own native builder (a part: its own word table and provisional ids,
so no token takes a lock), noting which of its lines each chunk holds; the
native merge (csrc/cpu/corpus_merge.cpp) sums the parts' counts, sorts the
vocabulary (count, then bytes: deterministic), and writes the parts' ids
mapped to it, in the chunks' order. The merge may instead be given a
vocabulary (the one the ranks of a job agreed on, from the parts' summed
counts): the parts' words outside it are dropped, as one builder given it
drops them.

Taking chunks from a shared cursor rather than giving each thread one
contiguous share balances the threads whatever their speed (the machine may
be shared), and bounds what is held to one chunk a thread.

Memory: the parts hold the stream in provisional ids, each within
``memory_limit / workers`` (spilling as one builder does), and the merge
writes the final stream within ``memory_limit``: up to twice the stream at
the end of a pass, against once for one thread (one part's stream is
rewritten in place instead). Each part's word table is
held to ``vocab_memory_limit`` (so all of them to ``workers`` times it)
before the merged table is.
"""
from __future__ import annotations

import os
import threading
from typing import BinaryIO, Dict, Generator, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._checks import check_vocab_limits
from ._typing import StrPath
from ._native import core
from .io.compression import open_binary
from .io.line_ranges import as_path_list, line_cuts, whole_line_chunks
from .vocab import Vocabulary
from ._workers import default_workers

__all__ = ["build_from_files", "build_from_chunks", "read_chunks", "merge_parts", "count_words"]

# A plain file's ranges: about 1/8 of a thread's share (the last thread to
# finish waits at most that), within [1 MiB, 8 MiB] (the per-chunk work
# outweighs the call; a thread's buffer stays small).
_MIN_RANGE = 1 << 20
_MAX_RANGE = 8 << 20
_RANGES_PER_WORKER = 8
# A compressed stream's pieces: small enough that the threads start at once
# and finish together, large enough that taking one is cheap.
_STREAM_PIECE = 1 << 20

# A chunk of the corpus: where it starts in the whole corpus (bytes, for
# error messages) and either its bytes (from a stream) or the plain file
# range (path, begin, end) to read.
_Piece = Tuple[int, Union[bytes, Tuple[str, int, int]]]


def _pieces(paths: Sequence[str], workers: int,
            between_files: int) -> Generator[_Piece, None, None]:
    """The corpus's chunks of whole lines, in order. `between_files`: the
    bytes one reader puts between two files (a newline for a list of files),
    counted in the offsets so that error messages name the same byte."""
    sizes = []
    for path in paths:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)  # open_binary below says what is wrong with it
    block = max(_MIN_RANGE, min(_MAX_RANGE, sum(sizes) // (_RANGES_PER_WORKER * workers) + 1))
    offset = 0
    for path in paths:
        with open_binary(path) as (stream, size):
            if size is not None:
                for begin, end in line_cuts(stream, size, block):
                    yield offset + begin, (path, begin, end)
                offset += size
            else:
                length = 0
                for chunk in whole_line_chunks(stream, _STREAM_PIECE):
                    yield offset + length, chunk
                    length += len(chunk)
                offset += length
        offset += between_files


def _read_range(files: Dict[str, BinaryIO], path: str, begin: int,
                end: int) -> Iterator[bytes]:
    """Bytes [begin, end) of the plain file `path`, through this thread's own
    handle (kept in `files`), in pieces of at most _MAX_RANGE (a range is one
    line when the line is long: a file without newlines is not read whole)."""
    f = files.get(path)
    if f is None:
        f = files[path] = open(path, "rb")
    f.seek(begin)
    while begin < end:
        data = f.read(min(_MAX_RANGE, end - begin))
        if not data:
            raise ValueError(f"{path}: the file shrank while it was read")
        begin += len(data)
        yield data


class _Run:
    """The threads of one pass: a shared cursor over the pieces, the first
    error, and the segments each chunk became."""

    def __init__(self, pieces: Generator[_Piece, None, None]) -> None:
        self.pieces = pieces
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors: List[BaseException] = []
        self.segments: List[Tuple[int, int, int, int]] = []  # (chunk, part, first, end line)
        self.taken = 0

    def take(self) -> Optional[Tuple[int, _Piece]]:
        """The next piece and its number, None at the end (or once stopped).
        A stream piece is inflated here, under the lock: a stream is read
        in order, one piece at a time."""
        with self.lock:
            if self.stop.is_set():
                return None
            piece = next(self.pieces, None)
            if piece is None:
                return None
            self.taken += 1
            return self.taken - 1, piece

    def work(self, index: int, part: "core.CorpusBuilder") -> None:
        """One thread: feeds its part the pieces it takes; the first error
        of any thread stops the others (they finish the chunk in hand)."""
        files: Dict[str, BinaryIO] = {}
        found: List[Tuple[int, int, int, int]] = []
        try:
            while True:
                taken = self.take()
                if taken is None:
                    break
                number, (offset, what) = taken
                first = part.n_lines
                part.set_offset(offset)
                data = b"\n"
                for data in [what] if isinstance(what, bytes) else _read_range(files, *what):
                    part.feed(data)  # a token cut between pieces continues in the next
                if not data.endswith(b"\n"):
                    part.feed(b"\n")  # a file's last line: never runs into the next chunk
                found.append((number, index, first, part.n_lines))
        except BaseException as error:  # handed to the caller by run_parts
            with self.lock:
                self.errors.append(error)
            self.stop.set()
        finally:
            for f in files.values():
                f.close()
            with self.lock:
                self.segments.extend(found)


# What separates tokens: the ASCII whitespace the native reader splits on.
_TOKEN_BREAKS = (b" ", b"\n", b"\t", b"\r", b"\x0b", b"\x0c")


def _chunk_pieces(chunks: Iterator[bytes], count_only: bool) -> Generator[_Piece, None, None]:
    """The text `chunks` holds (one rank's share: io/line_ranges.rank_share)
    as pieces, their offsets counted from the first. A chunk may end inside
    a line, or a token, which the next continues, and each piece goes to a
    builder of its own: a piece ends at a chunk's last newline (the parts'
    lines must be whole, to be merged in order) or, when only words are
    counted, at its last whitespace, and the rest waits for the next chunk.
    So what is held is the text since the last cut: a line at most (a token
    when counting), besides the chunk in hand."""
    offset = 0
    held: List[bytes] = []  # the text since the last cut, in the order read
    held_bytes = 0
    try:
        for chunk in chunks:
            if count_only:
                cut = max(chunk.rfind(mark) for mark in _TOKEN_BREAKS) + 1
            else:
                cut = chunk.rfind(b"\n") + 1
            # Held text that no whitespace ends, past the longest token a
            # builder takes, goes on as it is: its builder refuses it ("a
            # token of more than ... bytes": binary input), instead of the
            # text being held, and copied, to its end.
            too_long = held_bytes + len(chunk) > core.CorpusBuilder.MAX_TOKEN_BYTES
            if cut == 0 and not (count_only and too_long):
                held.append(chunk)
                held_bytes += len(chunk)
                continue
            if cut == 0:
                cut = len(chunk)
            piece = b"".join(held + [chunk[:cut]]) if held else chunk[:cut]
            held = [chunk[cut:]] if cut < len(chunk) else []
            held_bytes = len(chunk) - cut
            yield offset, piece
            offset += len(piece)
        if held:
            yield offset, b"".join(held)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # the file being read


def _run_parts(pieces: Generator[_Piece, None, None],
               parts: List["core.CorpusBuilder"]) -> np.ndarray:
    """Feeds the pieces to the parts on one thread each; returns the
    segments (part, first line, end line) in the corpus's order. Raises the
    first error any thread met, after all have stopped; Ctrl-C stops them
    after their chunk in hand."""
    run = _Run(pieces)
    threads = [threading.Thread(target=run.work, args=(i, part), name=f"embforge-count-{i}",
                                daemon=True) for i, part in enumerate(parts)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)  # a bare join() would hold off Ctrl-C until the end
    except BaseException:
        run.stop.set()
        for thread in threads:
            thread.join()
        raise
    finally:
        with run.lock:
            pieces = run.pieces
        pieces.close()  # closes the file being cut
    if run.errors:
        raise run.errors[0]
    order = sorted(run.segments)
    return np.array([s[1:] for s in order], dtype=np.int64).reshape(-1, 3)


def build_from_files(paths: Sequence[str], *, workers: int, words: Optional[List[str]],
                     min_count: int, max_vocab_size: int, max_sentence_length: int,
                     stream_path: str = "", memory_limit: int = 0, spill_dir: str = "",
                     vocab_memory_limit: int = 0, count_only: bool = False,
                     between_files: int = 1) -> "core.CorpusBuilder":
    """A finished native CorpusBuilder holding what one builder fed the
    files in order and finished with (min_count, max_vocab_size) holds;
    counted and encoded on `workers` threads (see the module's docstring).
    `words`: a fixed vocabulary (None: built from the corpus).
    `between_files`: 1 when the files are read as a list (a newline between
    them), 0 for one file."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    parts = _parts(workers, words, memory_limit=memory_limit, spill_dir=spill_dir,
                   vocab_memory_limit=vocab_memory_limit, count_only=count_only)
    segments = _run_parts(_pieces(paths, workers, between_files), parts)
    return merge_parts(parts, segments, words=words, min_count=min_count,
                       max_vocab_size=max_vocab_size, max_sentence_length=max_sentence_length,
                       stream_path=stream_path, memory_limit=memory_limit,
                       spill_dir=spill_dir, vocab_memory_limit=vocab_memory_limit,
                       count_only=count_only)


def build_from_chunks(chunks: Iterator[bytes], *, workers: int, words: Optional[List[str]],
                      min_count: int, max_vocab_size: int, max_sentence_length: int,
                      vocab_memory_limit: int = 0, count_only: bool = False
                      ) -> Optional["core.CorpusBuilder"]:
    """build_from_files for text given as chunks (one rank's share of the
    files, io/line_ranges.rank_share; a chunk may end inside a line: see
    _chunk_pieces): the threads take the pieces in turn, as they take a
    compressed file's. The result is what one builder fed the chunks in
    order holds, held in RAM; None when they hold no token (a rank's share
    may have none)."""
    parts, segments = read_chunks(chunks, workers=workers, words=words,
                                  vocab_memory_limit=vocab_memory_limit, count_only=count_only)
    if not any(part.raw_tokens for part in parts):
        return None
    return merge_parts(parts, segments, words=words, min_count=min_count,
                       max_vocab_size=max_vocab_size, max_sentence_length=max_sentence_length,
                       vocab_memory_limit=vocab_memory_limit, count_only=count_only)


def read_chunks(chunks: Iterator[bytes], *, workers: int, words: Optional[List[str]],
                memory_limit: int = 0, spill_dir: str = "", vocab_memory_limit: int = 0,
                count_only: bool = False, stream_path: str = ""
                ) -> Tuple[List["core.CorpusBuilder"], np.ndarray]:
    """The first half of build_from_chunks: the chunks fed to a builder a
    thread (each within its share of `memory_limit`, spilling to `spill_dir`),
    not yet merged, and the segments (part, first line, end line) that put
    their lines back in order; merge_parts does the rest. In between, the
    parts' words and counts can be read (CorpusBuilder.summed_counts).
    `stream_path`, one worker only: its part writes its ids to that file from
    the start, which merge_parts given no stream_path rewrites in place (the
    stream is never held in RAM, nor written twice)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if stream_path and workers != 1:
        raise ValueError(f"a stream_path is for one worker's part, got {workers} workers")
    parts = _parts(workers, words, memory_limit=memory_limit, spill_dir=spill_dir,
                   vocab_memory_limit=vocab_memory_limit, count_only=count_only,
                   stream_path=stream_path)
    return parts, _run_parts(_chunk_pieces(chunks, count_only), parts)


def _parts(workers: int, words: Optional[List[str]], *, memory_limit: int = 0,
           spill_dir: str = "", vocab_memory_limit: int = 0, count_only: bool = False,
           stream_path: str = "") -> List["core.CorpusBuilder"]:
    """A builder for each thread, each within its share of `memory_limit`."""
    part_memory = -(-memory_limit // workers) if memory_limit else 0
    parts = []
    for _ in range(workers):
        part = core.CorpusBuilder(stream_path=stream_path, memory_limit=part_memory,
                                  spill_dir=spill_dir, vocab_memory_limit=vocab_memory_limit,
                                  count_only=count_only)
        if words is not None:
            part.set_vocabulary(words)
        parts.append(part)
    return parts


def merge_parts(parts: List["core.CorpusBuilder"], segments: np.ndarray, *,
                words: Optional[List[str]], min_count: int, max_vocab_size: int,
                max_sentence_length: int, stream_path: str = "", memory_limit: int = 0,
                spill_dir: str = "", vocab_memory_limit: int = 0,
                count_only: bool = False) -> "core.CorpusBuilder":
    """The fed parts merged, in `segments` order, into one finished builder.
    `words`: its fixed vocabulary (None: built from the parts' counts, with
    `min_count` and `max_vocab_size`), whether or not the parts had it."""
    merged = core.CorpusBuilder(max_sentence_length=max_sentence_length, stream_path=stream_path,
                                memory_limit=memory_limit, spill_dir=spill_dir,
                                vocab_memory_limit=vocab_memory_limit, count_only=count_only)
    if words is not None:
        merged.set_vocabulary(words)
    merged.merge(parts, segments, min_count, max_vocab_size)
    return merged


def count_words(paths: Union[StrPath, Sequence[StrPath]], *, min_count: int = 5,
                max_vocab_size: Optional[int] = None, workers: Optional[int] = None,
                vocab_memory: int = 0) -> Tuple[Vocabulary, int, int]:
    """Counts the words of the files `paths` (a path or a list) without
    encoding them (what a vocabulary file needs): (Vocabulary as encode
    builds it, raw tokens, tokens left out of it). `workers`: threads (None:
    every core). `vocab_memory`: bytes the table of distinct words may take
    (0: no bound)."""
    check_vocab_limits(min_count, max_vocab_size)
    n = default_workers() if workers is None else int(workers)
    paths = as_path_list(paths)
    builder = build_from_files(paths, workers=n, words=None,
                               min_count=int(min_count), max_vocab_size=int(max_vocab_size or 0),
                               max_sentence_length=1, vocab_memory_limit=int(vocab_memory),
                               count_only=True,
                               between_files=1 if len(paths) > 1 else 0)
    vocab = Vocabulary(builder.words(), builder.counts())
    return vocab, int(builder.raw_tokens), int(builder.dropped_tokens)
