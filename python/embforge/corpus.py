"""Corpus streaming and encoding into a compact id stream.

A corpus is a file path (plain, .gz, .bz2 or .xz, recognised by content), a
list of such paths, or a re-iterable of sentences (lists of str tokens, as
gensim takes). Text is read in large byte chunks on a helper thread while the
native CorpusBuilder tokenises the previous chunk with the GIL released.

Across processes (``encode(..., process_group=...)`` or ``distributed=True``)
each rank reads only its share (io/line_ranges.py for files; blocks of
sentence indices for token lists), the vocabulary is merged by
distributed/vocabulary.py into exactly the single-process one, and each rank
encodes its share with it (a second pass over the share).

Memory: the encoded corpus takes 4 bytes a token and 8 a sentence (and 8 a
line for the line ends while reading). Up to ``memory`` it is held in RAM; past it, the stream, its
line ends and offsets move to temporary files under ``temp_dir``, unlinked as
soon as they are created (nothing is left on disk, whatever ends the process),
and are read through memory maps: pages of the kernel's file cache, not the
process's heap, so a corpus of any size costs about the same anonymous memory.
The ids and offsets are the same either way.
"""
from __future__ import annotations

import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from typing import (TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple,
                    cast, overload)

import numpy as np

from ._typing import Corpus, Memory, StrPath
from ._checks import MIN_MEMORY, parse_memory
from ._native import core
from ._tokens import is_token
from ._workers import default_workers
from .corpus_threads import build_from_files
from .io.compression import open_binary
from .vocab import Vocabulary

if TYPE_CHECKING:
    from typing_extensions import TypeGuard
    from .distributed.group import Group

__all__ = ["CorpusShare", "EncodedCorpus", "encode", "iter_text_chunks", "stream_memory",
           "DEFAULT_MEMORY", "STREAM_SHARE"]

CHUNK_BYTES = 4 << 20
# The RAM encode() lets the stream take by default: 1/16 of the trainers'
# default budget of 1 GB, rounded.
DEFAULT_MEMORY = "64MB"
# A trainer lets its encoded corpus take 1/16 of its `memory` budget in RAM. A
# memory-mapped stream costs training little (threads read it in pieces of
# thousands of ids, from the file cache once read), while co-occurrence
# counting, which shares the budget, spills less with every byte it gets.
STREAM_SHARE = 16
_WHOLE_LINES = 1 << 40  # a sentence length no line reaches: lines are kept whole


def _file_chunks(path: StrPath) -> Iterator[bytes]:
    with open_binary(path) as (stream, _):
        while True:
            chunk = stream.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk


def _sentence_chunks(sentences: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """Joins token lists into newline-separated text, checking the tokens."""
    batch: List[Sequence[str]] = []
    size = 0
    for sentence in sentences:
        if isinstance(sentence, (str, bytes)):
            raise TypeError("a corpus iterable must yield lists of tokens, got a "
                            f"{type(sentence).__name__}: {sentence[:40]!r}; split your lines first")
        batch.append(sentence)
        size += sum(len(token) + 1 for token in sentence)
        if size >= CHUNK_BYTES:
            yield _join_checked(batch)
            batch, size = [], 0
    if batch:
        yield _join_checked(batch)


def _join_checked(sentences: List[Sequence[str]]) -> bytes:
    data = ("\n".join(" ".join(sentence) for sentence in sentences) + "\n").encode("utf-8")
    # bytes.split() splits on ASCII whitespace, exactly what the reader splits on
    if len(data.split()) != sum(len(sentence) for sentence in sentences):
        # Some token held a separator or was empty: name it.
        for sentence in sentences:
            for token in sentence:
                if not is_token(token):
                    raise ValueError("tokens must be non-empty str without ASCII whitespace, got "
                                     f"{token!r}")
    return data


def _is_path(item: object) -> "TypeGuard[StrPath]":
    return isinstance(item, (str, os.PathLike))


def iter_text_chunks(source: Any) -> Iterator[bytes]:
    """Yields the corpus as byte chunks of whitespace-separated text."""
    if _is_path(source):
        yield from _file_chunks(source)
    elif isinstance(source, (list, tuple)) and source and all(_is_path(s) for s in source):
        for path in source:
            yield from _file_chunks(path)
            yield b"\n"  # a file's last line never runs into the next file
    elif isinstance(source, Iterator):
        raise TypeError("the corpus must be re-iterable (a list, or an object whose __iter__ "
                        "restarts), not a one-shot iterator or generator")
    elif hasattr(source, "__iter__"):
        yield from _sentence_chunks(source)
    else:
        raise TypeError(f"cannot read a corpus from {type(source).__name__}: pass a file path, "
                        "a list of paths, or an iterable of token lists")


def _prefetched(chunks: Iterator[bytes], depth: int = 3) -> Iterator[bytes]:
    """Reads `chunks` on a helper thread (decompression releases the GIL)."""
    slots: "queue.Queue[Any]" = queue.Queue(maxsize=depth)
    done = object()
    cancelled = threading.Event()

    def reader() -> None:
        try:
            for chunk in chunks:
                if cancelled.is_set():
                    return
                slots.put(chunk)
            slots.put(done)
        except BaseException as error:  # handed to the consumer below
            slots.put(error)

    thread = threading.Thread(target=reader, name="embforge-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancelled.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                slots.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


@dataclass(frozen=True)
class CorpusShare:
    """Where an EncodedCorpus encoded across processes stands in the whole.

    The EncodedCorpus holds rank `rank`'s lines only; these are the totals of
    all `world_size` ranks (what a learning-rate schedule counts against), and
    each rank's part of them."""

    rank: int
    world_size: int
    raw_tokens: int                  # tokens of the whole corpus (all ranks)
    n_tokens: int                    # in-vocabulary tokens of the whole corpus
    lines: int                       # lines (sentences for token lists) of the whole corpus
    rank_raw_tokens: Tuple[int, ...]  # raw tokens of each rank's share
    rank_n_tokens: Tuple[int, ...]    # in-vocabulary tokens of each rank's share
    rank_lines: Tuple[int, ...]       # lines of each rank's share


class EncodedCorpus:
    """A corpus as one uint32 id stream plus sentence boundaries.

    ``ids[offsets[i]:offsets[i+1]]`` is sentence i, in ids of ``vocab``. The
    stream is a numpy array, or a read-only memory map when it was written to
    a file (``stream_path``), so trainers read it by slices from many threads
    without holding it in RAM.

    Encoded across processes, it is one rank's share (``raw_tokens``,
    ``dropped_tokens`` and the stream are the share's) and ``share`` says
    which and holds the whole corpus's totals; else ``share`` is None.
    """

    def __init__(self, vocab: Vocabulary, ids: np.ndarray, offsets: np.ndarray,
                 raw_tokens: int, dropped_tokens: int, path: Optional[str] = None,
                 share: Optional[CorpusShare] = None) -> None:
        self.share = share
        self.vocab = vocab
        self.ids = ids
        self.offsets = offsets
        self.raw_tokens = int(raw_tokens)
        self.dropped_tokens = int(dropped_tokens)
        self.path = path

    @property
    def ram_bytes(self) -> int:
        """Bytes of the stream and offsets held in RAM (memory maps are read
        only and count 0: their pages are the kernel's file cache)."""
        return sum(a.nbytes for a in (self.ids, self.offsets)
                   if a.flags.writeable and not isinstance(a, np.memmap))

    def __len__(self) -> int:
        """Number of sentences."""
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        """In-vocabulary tokens in the stream."""
        return len(self.ids)

    def sentence(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    def __iter__(self) -> Iterator[List[str]]:
        """Sentences as lists of words (slow; for inspection and tests)."""
        words = self.vocab.words
        for i in range(len(self)):
            yield [words[t] for t in self.sentence(i).tolist()]

    def __repr__(self) -> str:
        where = (f", rank {self.share.rank} of {self.share.world_size}'s share"
                 if self.share is not None else "")
        return (f"EncodedCorpus({len(self)} sentences, {self.n_tokens} ids, "
                f"{self.raw_tokens} raw tokens, vocabulary of {len(self.vocab)}{where})")


def encode(source: "Corpus | EncodedCorpus", vocab: Optional[Vocabulary] = None, *,
           min_count: int = 5, max_vocab_size: Optional[int] = None,
           max_sentence_length: int = 10000, stream_path: Optional[StrPath] = None,
           memory: Memory = DEFAULT_MEMORY, temp_dir: Optional[StrPath] = None,
           vocab_memory: Optional[Memory] = None, distributed: bool = False,
           process_group: Any = None, workers: Optional[int] = 1) -> EncodedCorpus:
    """Reads `source` once: counts words and encodes the text into ids.

    Without `vocab`, the vocabulary is built from the corpus: words seen at
    least `min_count` times (0 counts as 1), at most `max_vocab_size` most
    frequent ones, ordered by count then by byte order. With `vocab`, its ids
    are used and other tokens dropped. Out-of-vocabulary tokens are dropped
    either way (the word2vec convention) and counted in ``dropped_tokens``.
    Lines longer than `max_sentence_length` tokens become several sentences.
    With `stream_path`, the id stream is written to that file and memory-mapped.

    `memory`: the RAM the stream and its sentence offsets may take (bytes, GB
    as a float, or "64MB"/"512MiB"; None: no bound); past it they go to
    temporary files in `temp_dir` (default: the system's), deleted at once and
    memory-mapped (see the module's docstring). With `stream_path`, its line
    ends and offsets go to such temporary files from the start.

    `vocab_memory`: the RAM the table of distinct words may take while
    counting (None: no bound). Every word is counted exactly before
    min_count applies, so a corpus with more distinct words than that holds
    is refused with a ValueError saying how far counting got (trainers pass
    their whole `memory` budget).

    `process_group` (a torch process group) or `distributed=True` (torch's
    default group; see embforge.distributed.resolve_group): every rank of the
    group calls encode with the same arguments; each gets the Vocabulary of the
    whole corpus (identical to a single process's) and the EncodedCorpus of
    its own share, with ``share`` holding the whole corpus's totals; with
    `stream_path`, rank r writes ``<stream_path>.rank<r>``. Ranks given
    different parameters or corpora, a world size larger than the number of
    lines, or a rank left without lines or in-vocabulary tokens raise
    ValueError on every rank (`memory` and `temp_dir` do not apply: a share
    is held in RAM unless `stream_path` is given). A group of one encodes
    as a process alone does. Neither: this process encodes alone, whatever
    torch.distributed holds.

    `workers`: threads counting and encoding files (None: every core); the
    result is the same for any number (see corpus_threads.py). Token lists
    are encoded on one thread.
    """
    if isinstance(source, EncodedCorpus):
        return source
    if int(min_count) < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    if max_vocab_size is not None and int(max_vocab_size) < 1:
        raise ValueError(f"max_vocab_size must be >= 1 or None, got {max_vocab_size}")
    if int(max_sentence_length) < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    memory_limit = 0 if memory is None else parse_memory(memory)
    vocab_limit = 0 if vocab_memory is None else parse_memory(vocab_memory)
    spill_dir = _spill_dir(temp_dir)
    if distributed or process_group is not None:
        from .distributed.group import resolve_group
        group = cast("Group", resolve_group(distributed, process_group))
        if group.world_size > 1:
            return _encode_share(source, vocab, group, int(min_count), max_vocab_size,
                                 int(max_sentence_length), stream_path, vocab_limit)
        # a group of one holds the whole corpus: encoded as alone (threads, no
        # merge of counts), the vocabulary a single process builds
    path = os.fspath(stream_path) if stream_path is not None else ""
    n_workers = default_workers() if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError(f"workers must be >= 1 or None, got {workers}")
    files, between_files = _files_of(source)
    if n_workers > 1 and files is not None:
        builder = build_from_files(
            files, workers=n_workers, words=None if vocab is None else list(vocab.words),
            min_count=int(min_count), max_vocab_size=int(max_vocab_size or 0),
            max_sentence_length=int(max_sentence_length), stream_path=path,
            memory_limit=memory_limit, spill_dir=spill_dir, vocab_memory_limit=vocab_limit,
            between_files=between_files)
        return _encoded(builder, vocab, path)
    builder = core.CorpusBuilder(max_sentence_length=int(max_sentence_length), stream_path=path,
                                 memory_limit=memory_limit, spill_dir=spill_dir,
                                 vocab_memory_limit=vocab_limit)
    if vocab is not None:
        builder.set_vocabulary(vocab.words)
    for chunk in _prefetched(iter_text_chunks(source)):
        builder.feed(chunk)
    builder.finish(int(min_count), int(max_vocab_size or 0))
    return _encoded(builder, vocab, path)


def _files_of(source: object) -> Tuple[Optional[List[str]], int]:
    """The files of a file corpus and the bytes one reader puts between
    them (iter_text_chunks: a newline after each file of a list); (None, 0)
    for token lists and the rest."""
    if _is_path(source):
        return [os.fspath(source)], 0
    if isinstance(source, (list, tuple)) and source and all(_is_path(s) for s in source):
        return [os.fspath(s) for s in source], 1
    return None, 0


def _encoded(builder: "core.CorpusBuilder", vocab: Optional[Vocabulary],
             path: str) -> EncodedCorpus:
    """The EncodedCorpus of a finished builder (`vocab`: the fixed one it
    used, None: its own)."""
    if vocab is None:
        vocab = Vocabulary(builder.words(), builder.counts())
    offsets = builder.take_offsets()
    return EncodedCorpus(vocab, _take_ids(builder, path), offsets, builder.raw_tokens,
                         builder.dropped_tokens, path or None)


@overload
def stream_memory(memory: Memory) -> int: ...
@overload
def stream_memory(memory: None) -> None: ...
def stream_memory(memory: Optional[Memory]) -> Optional[int]:
    """The RAM a trainer whose budget is `memory` lets its encoded corpus
    take (encode's `memory`): 1/STREAM_SHARE of it; None for None (no bound)."""
    if memory is None:
        return None
    return max(MIN_MEMORY, parse_memory(memory) // STREAM_SHARE)


def _spill_dir(temp_dir: Optional[StrPath]) -> str:
    """The directory for temporary stream files (checked: a ValueError names
    a `temp_dir` that is not one)."""
    if temp_dir is None:
        return tempfile.gettempdir()
    if not os.path.isdir(os.fspath(temp_dir)):
        what = "is not a directory" if os.path.exists(os.fspath(temp_dir)) else "does not exist"
        raise ValueError(f"temp_dir {os.fspath(temp_dir)!r} {what}")
    return os.fspath(temp_dir)


def _take_ids(builder: "core.CorpusBuilder", path: Optional[StrPath]) -> np.ndarray:
    """The finished builder's id stream: in memory, or the memory map of `path`."""
    if not path:
        return builder.take_ids()
    return (np.memmap(path, dtype=np.uint32, mode="r") if builder.n_ids
            else np.zeros(0, dtype=np.uint32))


# ------------------------------------------------------------------ across processes
def _paths_of(source: Any) -> Optional[List[str]]:
    """The files of `source`, or None for token lists (TypeError for what
    iter_text_chunks refuses)."""
    if _is_path(source):
        return [os.fspath(source)]
    if isinstance(source, (list, tuple)) and source and all(_is_path(s) for s in source):
        return [os.fspath(s) for s in source]
    if isinstance(source, Iterator) or not hasattr(source, "__iter__"):
        next(iter_text_chunks(source))  # raises the TypeError that explains it
    return None


def _sentence_share(sentences: Any, rank: int, world_size: int) -> Iterator[Sequence[str]]:
    """Rank `rank`'s token lists: blocks of ceil(n / (64 * world_size))
    consecutive sentences dealt round-robin (as line_ranges deals bytes)."""
    from .io.line_ranges import BLOCKS_PER_RANK
    n = len(sentences) if hasattr(sentences, "__len__") else sum(1 for _ in sentences)
    per = max(1, -(-n // (BLOCKS_PER_RANK * world_size)))
    return (s for i, s in enumerate(sentences) if (i // per) % world_size == rank)


def _sentences_fingerprint(sentences: Any) -> Dict[str, Any]:
    """The number of sentences and a digest of a sample (the first 64, and
    64 spread over the rest when they can be indexed)."""
    from .distributed.consistency import digest
    n = len(sentences) if hasattr(sentences, "__len__") else sum(1 for _ in sentences)
    head = []
    for i, sentence in enumerate(sentences):
        if i == 64:
            break
        head.append([str(t) for t in sentence])
    sample = [head]
    if isinstance(sentences, Sequence) and n > 64:
        sample.append([[str(t) for t in sentences[i]] for i in range(64, n, max(1, n // 64))])
    return {"sentences": n, "sample": digest(sample)}


def _feed(builder: "core.CorpusBuilder", chunks: Iterator[bytes]) -> int:
    """Feeds every chunk (whole lines) to `builder`; returns the lines fed."""
    lines = 0
    for chunk in _prefetched(chunks):
        lines += chunk.count(b"\n")
        builder.feed(chunk)
    return lines


def _check_shares(stats: List[Tuple[int, int, int]], world_size: int, with_ids: bool) -> None:
    """Refuses (on every rank: every rank holds the same `stats`, one (lines,
    raw tokens, in-vocabulary ids) per rank) shares a rank cannot train on."""
    lines = sum(s[0] for s in stats)
    if sum(s[1] for s in stats) == 0:
        raise ValueError(f"the corpus is empty: no tokens in {lines} lines")
    if lines < world_size:
        raise ValueError(f"world size {world_size} is larger than the corpus's {lines} "
                         f"line{'s' if lines != 1 else ''}: use at most {lines} processes")
    for rank, (n_lines, raw, ids) in enumerate(stats):
        if n_lines == 0:
            raise ValueError(f"rank {rank} of {world_size} got no line of the corpus (its {lines} "
                             "lines fell to the other ranks): use fewer processes or a larger corpus")
        if raw == 0:
            raise ValueError(f"rank {rank} of {world_size}: its share of the corpus ({n_lines} "
                             "lines) holds no tokens: use fewer processes or a larger corpus")
        if with_ids and ids == 0:
            raise ValueError(f"rank {rank} of {world_size}: its share of the corpus ({n_lines} "
                             f"lines, {raw} tokens) holds no word of the vocabulary: use fewer "
                             "processes, a larger corpus or a lower min_count")


def _encode_share(source: Any, vocab: Optional[Vocabulary], group: "Group", min_count: int,
                  max_vocab_size: Optional[int], max_sentence_length: int,
                  stream_path: Optional[StrPath], vocab_limit: int = 0) -> EncodedCorpus:
    from .distributed.collectives import all_gather_object
    from .distributed.consistency import check_same, digest, run_together
    from .distributed.vocabulary import merge_counts
    from .io.line_ranges import files_fingerprint, rank_share

    rank, world = group.rank, group.world_size
    files = _paths_of(source)
    check_same(group, "encode parameters", {
        "min_count": min_count, "max_vocab_size": int(max_vocab_size or 0),
        "max_sentence_length": max_sentence_length,
        "corpus kind": "files" if files is not None else "token lists",
        "vocab": None if vocab is None else digest([vocab.words, vocab.counts])})
    fingerprint = run_together(group, "reading its corpus fingerprint",
                               lambda: files_fingerprint(files) if files is not None
                               else _sentences_fingerprint(source))
    check_same(group, "the corpus", {"files" if files is not None else "sentences": fingerprint})

    def share() -> Iterator[bytes]:
        if files is not None:
            return rank_share(files, rank, world)
        return _sentence_chunks(_sentence_share(source, rank, world))

    path = f"{os.fspath(stream_path)}.rank{rank}" if stream_path is not None else ""
    if vocab is None and not path:
        # One pass: the share is counted and encoded with its own words (whole
        # lines: nothing is split before the out-of-vocabulary words are
        # dropped), then the ids are mapped to the merged vocabulary.
        builder = core.CorpusBuilder(max_sentence_length=_WHOLE_LINES, stream_path="",
                                     vocab_memory_limit=vocab_limit)
        lines = run_together(group, "counting the words of its share",
                             lambda: _feed(builder, share()))
        _check_shares(all_gather_object((lines, builder.raw_tokens, 0), group), world,
                      with_ids=False)
        builder.finish(1, 0)
        words = builder.words()
        vocab = merge_counts(words, builder.counts(), group, min_count=min_count,
                             max_vocab_size=max_vocab_size)
        mapping = np.fromiter((vocab.word_to_index.get(w, -1) for w in words), np.int64,
                              count=len(words))
        ids, offsets, dropped = core.remap_ids(builder.take_ids(), builder.take_offsets(), mapping,
                                               max_sentence_length=max_sentence_length,
                                               in_place=True)
        raw, dropped = builder.raw_tokens, builder.dropped_tokens + dropped
        del builder, words, mapping
    else:
        if vocab is None:
            # Written to a file (stream_path, corpora larger than memory): the
            # stream is written once, in the merged vocabulary's ids, so the
            # share is read twice: counted first, then encoded.
            counting_path = f"{path}.counting"
            try:
                builder = core.CorpusBuilder(max_sentence_length=max_sentence_length,
                                             vocab_memory_limit=vocab_limit,
                                             stream_path=counting_path)
                lines = run_together(group, "counting the words of its share",
                                     lambda: _feed(builder, share()))
                _check_shares(all_gather_object((lines, builder.raw_tokens, 0), group), world,
                              with_ids=False)
                builder.finish(1, 0)
                words, counts = builder.words(), builder.counts()
                del builder
            finally:
                if os.path.exists(counting_path):
                    os.remove(counting_path)
            vocab = merge_counts(words, counts, group, min_count=min_count,
                                 max_vocab_size=max_vocab_size)
            del words, counts
        builder = core.CorpusBuilder(max_sentence_length=max_sentence_length, stream_path=path)
        builder.set_vocabulary(vocab.words)
        lines = run_together(group, "encoding its share", lambda: _feed(builder, share()))
        builder.finish(0, 0)
        offsets = builder.take_offsets()
        ids = _take_ids(builder, path)
        raw, dropped = builder.raw_tokens, builder.dropped_tokens
        del builder
    stats = all_gather_object((lines, raw, len(ids)), group)
    _check_shares(stats, world, with_ids=True)
    info = CorpusShare(rank=rank, world_size=world, raw_tokens=sum(s[1] for s in stats),
                       n_tokens=sum(s[2] for s in stats), lines=sum(s[0] for s in stats),
                       rank_raw_tokens=tuple(s[1] for s in stats),
                       rank_n_tokens=tuple(s[2] for s in stats),
                       rank_lines=tuple(s[0] for s in stats))
    return EncodedCorpus(vocab, ids, offsets, raw, dropped, path or None, share=info)
