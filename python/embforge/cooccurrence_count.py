"""Counting a corpus's co-occurrences: what ``cooccurrence()`` and
``cooccurrence_to_glove()`` share (arguments checked, the corpus encoded
within the budget, the native count run under a progress bar with Ctrl-C),
and ``cooccurrence_to_glove()`` itself: the count written straight to
glove.c's ``cooccurrence.bin``, never held in memory.

    embforge.cooccurrence_to_glove("corpus.txt.gz", "cooccurrence.bin", window=10,
                                   vocab_path="vocab.txt")
"""
from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, NamedTuple, Optional, Sized, cast

from ._typing import Corpus, Memory, StrPath
from . import _native
from ._checks import MIN_MEMORY, check_number, parse_memory
from ._workers import resolve_workers
from .backends import get_backend
from .backends.base import Backend, CooccurrenceCount
from .corpus import EncodedCorpus, encode, stream_memory
from .io.atomic import atomic_write
from .progress import make_bar, run_polled
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .distributed.group import Group

__all__ = ["GloveCount", "cooccurrence_to_glove"]

logger = logging.getLogger(__name__)

NO_SENTENCE_LIMIT = 1 << 62     # cooccur never splits a line


class Prepared(NamedTuple):
    """A count's checked arguments and its encoded corpus."""
    encoded: EncodedCorpus
    window: int
    workers: int
    memory_bytes: int           # what counting may use (the corpus's share set aside on the CPU)
    max_product: int


def prepare_count(backend: Backend, corpus: "Corpus | EncodedCorpus", vocab: Optional[Vocabulary],
                  *, window: int, min_count: int, max_vocab_size: Optional[int],
                  workers: Optional[int], memory: Memory, temp_dir: Optional[StrPath],
                  max_product: int, group: "Optional[Group]") -> Prepared:
    """Checks the arguments and encodes `corpus` (unless it is encoded)."""
    window = int(check_number("window", window, 1, 1 << 20, integer=True))
    workers = resolve_workers(workers)
    memory_bytes = parse_memory(memory)
    max_product = int(check_number("max_product", max_product, -1, integer=True))
    if temp_dir is not None and not os.path.isdir(os.fspath(temp_dir)):
        error = NotADirectoryError if os.path.exists(os.fspath(temp_dir)) else FileNotFoundError
        raise error(f"temp_dir {os.fspath(temp_dir)!r} is not a directory")

    if isinstance(corpus, EncodedCorpus):
        if vocab is not None and vocab != corpus.vocab:
            raise ValueError("the EncodedCorpus was encoded with another vocabulary than `vocab`")
        encoded = corpus
    else:
        share = stream_memory(memory_bytes)
        encoded = encode(corpus, vocab=vocab, min_count=min_count, max_vocab_size=max_vocab_size,
                         max_sentence_length=NO_SENTENCE_LIMIT, process_group=group,
                         memory=share, temp_dir=temp_dir, vocab_memory=memory_bytes,
                         workers=workers)
        if backend.device == "cpu":
            # The corpus's share is set aside whether the stream is in RAM or
            # mapped: it also pays for what counting's plan does not see (the
            # vocabulary, the interpreter's objects, the allocator's slack;
            # 20-50 MB over the plan measured at 1 GB). A GPU's budget is its
            # workspace in device memory.
            memory_bytes = max(MIN_MEMORY, memory_bytes - max(share, encoded.ram_bytes))
    if len(encoded.vocab) == 0 or encoded.n_tokens == 0:
        raise ValueError("the corpus has no in-vocabulary words (empty corpus, or min_count too high)")
    return Prepared(encoded, window, workers, memory_bytes, max_product)


def run_count(backend: Backend, encoded: EncodedCorpus,
              count: Callable[[Any], CooccurrenceCount], *, progress: Optional[bool],
              show_bar: bool, kept: str, job_tokens: Optional[int] = None) -> CooccurrenceCount:
    """Runs count(native_progress) on the caller's stream under a progress
    bar; Ctrl-C stops it (KeyboardInterrupt; `kept` says what a count that
    had finished before Ctrl-C left behind). Adds seconds and raw_tokens to
    the stats. `job_tokens`: the ids of every rank's share (the bar's total,
    this share's progress scaled to it); default: this share's."""
    logger.info("co-occurrence on %s: counting %d tokens, vocabulary of %d words", backend.device,
                encoded.n_tokens, len(encoded.vocab))
    native_progress = _native.core.Progress()
    total = encoded.n_tokens if job_tokens is None else job_tokens
    to_job = total / max(1, encoded.n_tokens)
    bar = make_bar(progress if show_bar else False, total, "co-occurrence", "word")
    started = time.perf_counter()

    def poll() -> None:
        if bar is not None:
            bar.update(native_progress.work_done * to_job - bar.n)

    result: CooccurrenceCount
    try:
        result, interrupted = run_polled(backend.on_caller_stream(lambda: count(native_progress)),
                                         native_progress, poll)
    finally:
        if bar is not None:
            bar.close()
    stats = result.stats
    if stats["stopped"]:
        raise KeyboardInterrupt("co-occurrence counting stopped; nothing was kept")
    if interrupted:  # Ctrl-C came once the count was whole (e.g. while it was being written)
        raise KeyboardInterrupt(f"co-occurrence counting had finished before Ctrl-C; {kept}")
    stats["seconds"] = time.perf_counter() - started
    stats["raw_tokens"] = encoded.raw_tokens
    stats.setdefault("nnz", len(cast(Sized, result.values)))  # a GPU count's stats do not say
    logger.info("co-occurrence on %s: %d nonzeros from %d tokens in %.2fs", backend.device,
                stats["nnz"], encoded.n_tokens, stats["seconds"])
    return result


class GloveCount(NamedTuple):
    """What cooccurrence_to_glove() wrote: the vocabulary of the file's ids
    (id i + 1 is ``vocab.words[i]``), its number of records and the count's
    statistics (as ``Cooccurrence.stats``)."""
    vocab: Vocabulary
    nnz: int
    stats: Dict[str, Any]


def cooccurrence_to_glove(corpus: "Corpus | EncodedCorpus", path: StrPath,
                          vocab: Optional[Vocabulary] = None, *,
                          vocab_path: Optional[StrPath] = None, window: int = 15,
                          symmetric: bool = True, distance_weighting: bool = True,
                          min_count: int = 5, max_vocab_size: Optional[int] = None,
                          workers: Optional[int] = None, memory: Memory = "1GB",
                          temp_dir: Optional[StrPath] = None, progress: Optional[bool] = None,
                          max_product: int = -1, device: str = "cpu") -> GloveCount:
    """Counts the co-occurrence matrix of `corpus` as ``cooccurrence()``
    does and writes it straight to `path` as glove.c's ``cooccurrence.bin``
    (the file ``cooccurrence(...).save_glove_binary(path)`` writes, byte for
    byte), atomically; `vocab_path` also writes the matching ``vocab.txt``.
    The matrix is never held in memory: the merge hands its rows to the file
    piece by piece (a few MB a thread), so the result may be larger than
    `memory`. Large files are written past the page cache (direct I/O) where
    the filesystem allows it. CPU only: another `device` is a ValueError (a
    GPU count: ``cooccurrence(..., device=...).save_glove_binary(path)``); one
    process (a distributed count: ``save()`` on every rank). Ctrl-C stops it
    and leaves no file."""
    backend = get_backend(device)
    backend.check_counts_to_glove()
    prepared = prepare_count(backend, corpus, vocab, window=window, min_count=min_count,
                             max_vocab_size=max_vocab_size, workers=workers, memory=memory,
                             temp_dir=temp_dir, max_product=max_product, group=None)
    encoded = prepared.encoded
    with atomic_write(path, "wb") as out:
        def count(native_progress: Any) -> CooccurrenceCount:
            return backend.count_cooccurrences_to_glove(
                encoded, out.fileno(), os.fspath(path), window=prepared.window,
                symmetric=bool(symmetric), distance_weighting=bool(distance_weighting),
                workers=prepared.workers, memory_bytes=prepared.memory_bytes, temp_dir=temp_dir,
                max_product=prepared.max_product, progress=native_progress)

        result = run_count(backend, encoded, count, progress=progress, show_bar=True,
                           kept=f"{os.fspath(path)} was not written")
    if vocab_path is not None:
        encoded.vocab.save(vocab_path)
    return GloveCount(encoded.vocab, int(result.stats["nnz"]), result.stats)
