"""The distributed vocabulary: per-rank word counts merged into exactly the
Vocabulary one process builds from the whole corpus.

Each word has one owner rank, ``crc32(utf-8 bytes) % world_size`` (stable
across processes and machines, unlike Python's salted ``hash()``). Every rank
sends each owner the counts of the words it owns (one all-to-all: a word's
count travels once per rank that saw it), owners sum them, keep the words
seen at least ``min_count`` times (0 counts as 1) and, with
``max_vocab_size``, only their own best ``max_vocab_size`` (the global best
are among the union of the owners' best, since each word's whole count is at
one owner), and the survivors are gathered on every rank, which sorts them
as the native builder does: count descending, ties by byte order. Traffic
scales with the distinct words, never with every rank's full table sent to
every rank.
"""
from __future__ import annotations

import zlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..vocab import Vocabulary
from .collectives import all_gather_bytes
from .exchange import exchange
from .group import Group

__all__ = ["merge_counts", "owner_ranks"]


def owner_ranks(words: Sequence[bytes], world_size: int) -> np.ndarray:
    """The owner rank of each word (its utf-8 bytes)."""
    return (np.fromiter((zlib.crc32(w) for w in words), dtype=np.uint64, count=len(words))
            % np.uint64(world_size)).astype(np.int64)


def _pack(words: Sequence[bytes], counts: np.ndarray) -> bytes:
    """n (int64), n counts (int64), then the words joined by newlines (a word
    never holds whitespace)."""
    counts = np.ascontiguousarray(counts, dtype="<i8")
    packed: bytes = (np.int64(len(words)).astype("<i8").tobytes() + counts.tobytes()
                     + b"\n".join(words))
    return packed


def _unpack(data: Any) -> Tuple[List[bytes], np.ndarray]:
    data = bytes(data)
    n = int(np.frombuffer(data[:8], dtype="<i8")[0])
    counts = np.frombuffer(data[8:8 + 8 * n], dtype="<i8")
    words = data[8 + 8 * n:].split(b"\n") if n else []
    if len(words) != n:
        raise RuntimeError(f"corrupt vocabulary message: {n} counts but {len(words)} words")
    return words, counts


def _best(table: Any, limit: Optional[int]) -> List[Tuple[int, bytes]]:
    """(count, word) pairs, count descending then byte order, at most `limit`."""
    ranked = sorted((-c, w) for w, c in table)
    if limit:
        ranked = ranked[:limit]
    return [(-c, w) for c, w in ranked]


def merge_counts(words: Sequence[str], counts: Any, group: Group, *, min_count: int,
                 max_vocab_size: Optional[int] = None) -> Vocabulary:
    """The vocabulary of the whole corpus from this rank's `words` and
    `counts` (each word once; any order). Every rank must call it; all get
    the same Vocabulary. No word surviving min_count raises ValueError on
    every rank, as the single-process encode does."""
    threshold = max(int(min_count), 1)
    limit = int(max_vocab_size) if max_vocab_size else None
    encoded = [w.encode("utf-8") for w in words]
    counts = np.asarray(counts, dtype=np.int64)
    owners = owner_ranks(encoded, group.world_size)
    parts = []
    for rank in range(group.world_size):
        mine = np.flatnonzero(owners == rank)
        parts.append(_pack([encoded[i] for i in mine.tolist()], counts[mine]))
    total: Dict[bytes, int] = {}
    for message in exchange(parts, group):
        got_words, got_counts = _unpack(message)
        for word, count in zip(got_words, got_counts.tolist()):
            total[word] = total.get(word, 0) + count
    kept = _best(((w, c) for w, c in total.items() if c >= threshold), limit)
    # what the error below names when nothing survives anywhere: the most
    # frequent word (count descending, then byte order, as _best ranks),
    # found in one pass rather than by sorting every distinct word
    top = min(((-c, w) for w, c in total.items()), default=None)
    summary = np.array([len(total), -top[0] if top else -1], dtype="<i8").tobytes()
    packed = _pack([w for _, w in kept], np.array([c for c, _ in kept], dtype=np.int64))
    gathered = all_gather_bytes(summary + (top[1] if top else b"") + b"\n" + packed, group)
    merged: List[Tuple[int, bytes]] = []
    distinct, best = 0, (-1, b"")
    for reply in gathered:
        n_distinct, best_count = np.frombuffer(reply[:16], dtype="<i8").tolist()
        cut = reply.index(b"\n", 16)
        distinct += n_distinct
        if best_count > best[0]:
            best = (best_count, reply[16:cut])
        got_words, got_counts = _unpack(reply[cut + 1:])
        merged += zip(got_counts.tolist(), got_words)
    if not merged:
        raise ValueError(f"no word occurs at least min_count={threshold} times ({distinct} "
                         f"distinct words; the most frequent, {best[1].decode('utf-8')[:40]!r}, "
                         f"occurs {best[0]} times)")
    final = _best(((w, c) for c, w in merged), limit)
    return Vocabulary([w.decode("utf-8") for _, w in final], [c for c, _ in final])
