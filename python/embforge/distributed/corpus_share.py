"""Reading and encoding a corpus across processes: each rank its share.

Files are shared by io/line_ranges.py (blocks of bytes dealt round-robin,
cut at line starts); token lists by blocks of consecutive sentences dealt
the same way. Before reading, the ranks compare their parameters and a
fingerprint of the corpus (consistency.py) and refuse, all together, when
they differ. Each rank counts its share's words; vocabulary.py merges the
counts into exactly the Vocabulary one process builds from the whole
corpus.

``encode_share`` is what ``corpus.encode(..., process_group=...)`` runs: each
rank ends with the EncodedCorpus of its share, in the merged vocabulary's
ids, with the whole corpus's totals in its ``share``, read once on the
rank's threads within its memory budget. ``count_share`` only counts (what
a vocabulary file needs: no id stream), on the rank's threads.
"""
from __future__ import annotations

import os
from functools import partial
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._native import core
from .._typing import StrPath
from .._checks import check_vocab_limits
from .._workers import default_workers
from ..corpus_text import files_of, iter_text_chunks, prefetched, sentence_chunks
from ..corpus_threads import build_from_chunks, merge_parts, read_chunks
from ..encoded_corpus import CorpusShare, EncodedCorpus, take_ids
from ..io.line_ranges import BLOCKS_PER_RANK, as_path_list, files_fingerprint, rank_share
from ..vocab import Vocabulary
from .collectives import all_gather_object, all_reduce
from .consistency import check_same, digest, run_together
from .group import Group
from .vocabulary import merge_counts

__all__ = ["encode_share", "count_share"]


def _paths_of(source: Any) -> Optional[List[str]]:
    """The files of `source`, or None for token lists (TypeError for what
    iter_text_chunks refuses)."""
    files, _ = files_of(source)
    if files is None and (isinstance(source, Iterator) or not hasattr(source, "__iter__")):
        next(iter_text_chunks(source))  # raises the TypeError that explains it
    return files


def _check_same_corpus(group: Group, files: Optional[List[str]], sentences: Any = None) -> None:
    """Refuses, on every rank, ranks that read different corpora: the files'
    fingerprints (size, first and last bytes), or the token lists'."""
    fingerprint = run_together(group, "reading its corpus fingerprint",
                               lambda: files_fingerprint(files) if files is not None
                               else _sentences_fingerprint(sentences))
    check_same(group, "the corpus", {"files" if files is not None else "sentences": fingerprint})


def _sentence_share(sentences: Any, rank: int, world_size: int) -> Iterator[Sequence[str]]:
    """Rank `rank`'s token lists: blocks of ceil(n / (64 * world_size))
    consecutive sentences dealt round-robin (as line_ranges deals bytes)."""
    n = len(sentences) if hasattr(sentences, "__len__") else sum(1 for _ in sentences)
    per = max(1, -(-n // (BLOCKS_PER_RANK * world_size)))
    return (s for i, s in enumerate(sentences) if (i // per) % world_size == rank)


def _sentences_fingerprint(sentences: Any) -> Dict[str, Any]:
    """The number of sentences and a digest of a sample (the first 64, and
    64 spread over the rest when they can be indexed)."""
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


def encode_share(source: Any, vocab: Optional[Vocabulary], group: "Group", min_count: int,
                 max_vocab_size: Optional[int], max_sentence_length: int,
                 stream_path: Optional[StrPath], vocab_limit: int = 0, *, workers: int = 1,
                 memory_limit: int = 0, spill_dir: str = "") -> EncodedCorpus:
    """Rank `group.rank`'s EncodedCorpus of `source` (see corpus.encode, which
    checked the arguments): its share, in the ids of the vocabulary the
    whole corpus gives (or `vocab`), the whole corpus's totals in ``share``.
    Read once, on `workers` threads, each counting its own words and
    writing provisional ids (corpus_threads.read_chunks); the ranks then
    merge their counts into the vocabulary and each writes its stream in it.
    `vocab_limit`: bytes the table of a thread's distinct words may take (0:
    no bound). `memory_limit` and `spill_dir`: as encode's `memory` and
    `temp_dir`, for the share (its threads' provisional streams, then its
    stream: up to twice the stream at the end, as encode on threads)."""
    rank, world = group.rank, group.world_size
    files = _paths_of(source)
    check_same(group, "encode parameters", {
        "min_count": min_count, "max_vocab_size": int(max_vocab_size or 0),
        "max_sentence_length": max_sentence_length,
        "corpus kind": "files" if files is not None else "token lists",
        "vocab": None if vocab is None else digest([vocab.words, vocab.counts])})
    _check_same_corpus(group, files, source)
    lines = 0

    def share() -> Iterator[bytes]:
        # advanced by one thread at a time (the threads take pieces under a
        # lock: corpus_threads._Run.take), so `lines` needs no lock of its own
        nonlocal lines
        chunks = (rank_share(files, rank, world) if files is not None
                  else sentence_chunks(_sentence_share(source, rank, world)))
        for chunk in prefetched(chunks):
            lines += chunk.count(b"\n")
            yield chunk

    path = f"{os.fspath(stream_path)}.rank{rank}" if stream_path is not None else ""
    # One thread writes its ids to the file from the start, rewritten there in
    # place once the vocabulary is known (never held in RAM nor written
    # twice); several threads' parts are merged into it.
    part_path = path if workers == 1 else ""
    parts, segments = run_together(group, "reading its share", partial(
        read_chunks, share(), workers=workers, words=None if vocab is None else vocab.words,
        memory_limit=memory_limit, spill_dir=spill_dir, vocab_memory_limit=vocab_limit,
        stream_path=part_path))
    raw = sum(int(part.raw_tokens) for part in parts)
    _check_shares(all_gather_object((lines, raw, 0), group), world, with_ids=False)
    if vocab is None:
        # every word: min_count applies to the merged counts (the sum may
        # pass the table's memory budget: every rank must hear of it)
        counted, counts = run_together(group, "counting the words of its share",
                                       partial(core.CorpusBuilder.summed_counts, parts))
        vocab = merge_counts(counted, counts, group, min_count=min_count,
                             max_vocab_size=max_vocab_size)
        del counted, counts
    builder = run_together(group, "encoding its share", partial(
        merge_parts, parts, segments, words=vocab.words, min_count=0, max_vocab_size=0,
        max_sentence_length=max_sentence_length, stream_path="" if part_path else path,
        memory_limit=memory_limit, spill_dir=spill_dir))
    del parts, segments  # the parts are empty now; their tables go too
    offsets = builder.take_offsets()
    ids = take_ids(builder, path)
    dropped = builder.dropped_tokens
    del builder
    stats = all_gather_object((lines, raw, len(ids)), group)
    _check_shares(stats, world, with_ids=True)
    info = CorpusShare(rank=rank, world_size=world, raw_tokens=sum(s[1] for s in stats),
                       n_tokens=sum(s[2] for s in stats), lines=sum(s[0] for s in stats),
                       rank_raw_tokens=tuple(s[1] for s in stats),
                       rank_n_tokens=tuple(s[2] for s in stats),
                       rank_lines=tuple(s[0] for s in stats))
    return EncodedCorpus(vocab, ids, offsets, raw, dropped, path or None, share=info)


def count_share(paths: Union[StrPath, Sequence[StrPath]], group: Group, *, min_count: int,
                max_vocab_size: Optional[int], vocab_memory: int = 0,
                workers: Optional[int] = None) -> Tuple[Vocabulary, int, int]:
    """The Vocabulary of the files `paths` (a path or a list) as one process
    counting them all builds it (corpus_threads.count_words), counted across
    the ranks of `group`: each rank counts the words of its share on
    `workers` threads (None: its cores, divided among the ranks on its
    machine), without encoding it, and the counts are merged. Returns (the
    vocabulary, the whole corpus's tokens, those left out of the
    vocabulary), the same on every rank. A rank whose share holds no token
    (a corpus of fewer lines than ranks) counts nothing. Ranks given
    different parameters or files raise ValueError, all of them.
    `vocab_memory`: bytes the table of a thread's distinct words may take (0:
    no bound)."""
    files = as_path_list(paths)
    rank, world = group.rank, group.world_size
    threads = default_workers() if workers is None else int(workers)
    if threads < 1:
        raise ValueError(f"workers must be >= 1 or None, got {workers}")
    check_same(group, "counting parameters", {
        "min_count": int(min_count), "max_vocab_size": int(max_vocab_size or 0)})
    check_vocab_limits(min_count, max_vocab_size)  # the same on every rank by now: all raise
    _check_same_corpus(group, files)
    # every word: min_count applies to the merged counts
    builder = run_together(group, "counting the words of its share", lambda: build_from_chunks(
        rank_share(files, rank, world), workers=threads, words=None, min_count=1,
        max_vocab_size=0, max_sentence_length=1, vocab_memory_limit=int(vocab_memory),
        count_only=True))
    words, counts, own = (([], np.zeros(0, dtype=np.int64), 0) if builder is None
                          else (builder.words(), builder.counts(), int(builder.raw_tokens)))
    raw = int(all_reduce(np.array([own], dtype=np.int64), group)[0])
    if raw == 0:
        raise ValueError(f"the corpus is empty: no tokens in {', '.join(files)}")
    vocab = merge_counts(words, counts, group, min_count=int(min_count),
                         max_vocab_size=max_vocab_size)
    return vocab, raw, raw - int(sum(vocab.counts))
