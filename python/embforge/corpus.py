"""Corpus streaming and encoding into a compact id stream.

A corpus is a file path (plain, .gz, .bz2 or .xz, recognised by content), a
list of such paths, or a re-iterable of sentences (lists of str tokens, as
gensim takes). Text is read in large byte chunks on a helper thread while the
native CorpusBuilder tokenises the previous chunk with the GIL released
(corpus_text.py); files are read on several threads by corpus_threads.py.
What comes out is an EncodedCorpus (encoded_corpus.py).

Across processes (``encode(..., process_group=...)`` or ``distributed=True``)
each rank reads only its share and the vocabulary is merged into exactly
the single-process one (distributed/corpus_share.py).

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
import tempfile
from typing import TYPE_CHECKING, Any, Optional, cast, overload

from ._typing import Corpus, Memory, StrPath
from ._checks import MIN_MEMORY, check_vocab_limits, parse_memory
from ._native import core
from ._workers import default_workers
from .corpus_text import files_of, iter_text_chunks, prefetched
from .corpus_threads import build_from_files
from .encoded_corpus import CorpusShare, EncodedCorpus, from_builder
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .distributed.group import Group

__all__ = ["CorpusShare", "EncodedCorpus", "encode", "iter_text_chunks", "stream_memory",
           "DEFAULT_MEMORY", "STREAM_SHARE"]

# The RAM encode() lets the stream take by default: 1/16 of the trainers'
# default budget of 1 GB, rounded.
DEFAULT_MEMORY = "64MB"
# A trainer lets its encoded corpus take 1/16 of its `memory` budget in RAM. A
# memory-mapped stream costs training little (threads read it in pieces of
# thousands of ids, from the file cache once read), while co-occurrence
# counting, which shares the budget, spills less with every byte it gets.
STREAM_SHARE = 16


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
    ValueError on every rank. `memory`, `temp_dir` and `workers` apply to
    the share as to a whole corpus. A group of one encodes as a process
    alone does. Neither: this process encodes alone, whatever
    torch.distributed holds.

    `workers`: threads counting and encoding files (None: every core); the
    result is the same for any number (see corpus_threads.py). Token lists
    are encoded on one thread, except a rank's share of them.
    """
    if isinstance(source, EncodedCorpus):
        return source
    check_vocab_limits(min_count, max_vocab_size)
    if int(max_sentence_length) < 1:
        raise ValueError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    memory_limit = 0 if memory is None else parse_memory(memory)
    vocab_limit = 0 if vocab_memory is None else parse_memory(vocab_memory)
    spill_dir = _spill_dir(temp_dir)
    n_workers = default_workers() if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError(f"workers must be >= 1 or None, got {workers}")
    if distributed or process_group is not None:
        from .distributed.group import resolve_group
        group = cast("Group", resolve_group(distributed, process_group))
        if group.world_size > 1:
            from .distributed.corpus_share import encode_share
            return encode_share(source, vocab, group, int(min_count), max_vocab_size,
                                int(max_sentence_length), stream_path, vocab_limit,
                                workers=n_workers, memory_limit=memory_limit,
                                spill_dir=spill_dir)
        # a group of one holds the whole corpus: encoded as alone (threads, no
        # merge of counts), the vocabulary a single process builds
    path = os.fspath(stream_path) if stream_path is not None else ""
    files, between_files = files_of(source)
    if n_workers > 1 and files is not None:
        builder = build_from_files(
            files, workers=n_workers, words=None if vocab is None else list(vocab.words),
            min_count=int(min_count), max_vocab_size=int(max_vocab_size or 0),
            max_sentence_length=int(max_sentence_length), stream_path=path,
            memory_limit=memory_limit, spill_dir=spill_dir, vocab_memory_limit=vocab_limit,
            between_files=between_files)
        return from_builder(builder, vocab, path)
    builder = core.CorpusBuilder(max_sentence_length=int(max_sentence_length), stream_path=path,
                                 memory_limit=memory_limit, spill_dir=spill_dir,
                                 vocab_memory_limit=vocab_limit)
    if vocab is not None:
        builder.set_vocabulary(vocab.words)
    for chunk in prefetched(iter_text_chunks(source)):
        builder.feed(chunk)
    builder.finish(int(min_count), int(max_vocab_size or 0))
    return from_builder(builder, vocab, path)


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
