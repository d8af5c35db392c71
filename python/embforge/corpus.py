"""Corpus streaming and encoding into a compact id stream.

A corpus is a file path (plain, .gz, .bz2 or .xz, recognised by content), a
list of such paths, or a re-iterable of sentences (lists of str tokens, as
gensim takes). Text is read in large byte chunks on a helper thread while the
native CorpusBuilder tokenises the previous chunk with the GIL released.
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Iterable, Iterator, List, Optional, Sequence

import numpy as np

from ._native import core
from .io.compression import open_binary
from .vocab import Vocabulary

__all__ = ["EncodedCorpus", "encode", "iter_text_chunks"]

CHUNK_BYTES = 4 << 20


def _file_chunks(path) -> Iterator[bytes]:
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
    text = "\n".join(" ".join(sentence) for sentence in sentences) + "\n"
    if len(text.split()) != sum(len(sentence) for sentence in sentences):
        # Some token held whitespace or was empty: name it.
        for sentence in sentences:
            for token in sentence:
                if not isinstance(token, str) or len(token.split()) != 1 or token.split()[0] != token:
                    raise ValueError(f"tokens must be non-empty str without whitespace, got {token!r}")
    return text.encode("utf-8")


def _is_path(item) -> bool:
    return isinstance(item, (str, os.PathLike))


def iter_text_chunks(source) -> Iterator[bytes]:
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
    slots: "queue.Queue" = queue.Queue(maxsize=depth)
    done = object()
    cancelled = threading.Event()

    def reader():
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


class EncodedCorpus:
    """A corpus as one uint32 id stream plus sentence boundaries.

    ``ids[offsets[i]:offsets[i+1]]`` is sentence i, in ids of ``vocab``. The
    stream is a numpy array, or a read-only memory map when it was written to
    a file (``stream_path``), so trainers read it by slices from many threads
    without holding it in RAM.
    """

    def __init__(self, vocab: Vocabulary, ids: np.ndarray, offsets: np.ndarray,
                 raw_tokens: int, dropped_tokens: int, path: Optional[str] = None):
        self.vocab = vocab
        self.ids = ids
        self.offsets = offsets
        self.raw_tokens = int(raw_tokens)
        self.dropped_tokens = int(dropped_tokens)
        self.path = path

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
        return (f"EncodedCorpus({len(self)} sentences, {self.n_tokens} ids, "
                f"{self.raw_tokens} raw tokens, vocabulary of {len(self.vocab)})")


def encode(source, vocab: Optional[Vocabulary] = None, *, min_count: int = 5,
           max_vocab_size: Optional[int] = None, max_sentence_length: int = 10000,
           stream_path=None) -> EncodedCorpus:
    """Reads `source` once: counts words and encodes the text into ids.

    Without `vocab`, the vocabulary is built from the corpus: words seen at
    least `min_count` times (0 counts as 1), at most `max_vocab_size` most
    frequent ones, ordered by count then by byte order. With `vocab`, its ids
    are used and other tokens dropped. Out-of-vocabulary tokens are dropped
    either way (the word2vec convention) and counted in ``dropped_tokens``.
    Lines longer than `max_sentence_length` tokens become several sentences.
    With `stream_path`, the id stream is written to that file and memory-mapped.
    """
    if isinstance(source, EncodedCorpus):
        return source
    if int(min_count) < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    if max_vocab_size is not None and int(max_vocab_size) < 1:
        raise ValueError(f"max_vocab_size must be >= 1 or None, got {max_vocab_size}")
    if int(max_sentence_length) < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    path = os.fspath(stream_path) if stream_path is not None else ""
    builder = core.CorpusBuilder(max_sentence_length=int(max_sentence_length), stream_path=path)
    if vocab is not None:
        builder.set_vocabulary(vocab.words)
    for chunk in _prefetched(iter_text_chunks(source)):
        builder.feed(chunk)
    builder.finish(int(min_count), int(max_vocab_size or 0))
    if vocab is None:
        vocab = Vocabulary(builder.words(), builder.counts())
    offsets = builder.take_offsets()
    if path:
        ids = (np.memmap(path, dtype=np.uint32, mode="r") if builder.n_ids
               else np.zeros(0, dtype=np.uint32))
    else:
        ids = builder.take_ids()
    return EncodedCorpus(vocab, ids, offsets, builder.raw_tokens, builder.dropped_tokens,
                         path or None)
