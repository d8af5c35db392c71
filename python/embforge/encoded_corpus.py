"""The encoded corpus: one uint32 id stream plus sentence offsets.

What corpus.encode returns and every trainer reads: in RAM, or a read-only
memory map of a file (``stream_path``, or temporary files past the
``memory`` budget, unlinked as soon as they are created). Encoded across
processes, it is one rank's share and ``share`` (a CorpusShare) holds the
whole corpus's totals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, List, Optional, Tuple

import numpy as np

from ._typing import StrPath
from .vocab import Vocabulary

if TYPE_CHECKING:
    from ._native import core

__all__ = ["CorpusShare", "EncodedCorpus", "from_builder", "take_ids"]


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


def from_builder(builder: "core.CorpusBuilder", vocab: Optional[Vocabulary],
                 path: str) -> EncodedCorpus:
    """The EncodedCorpus of a finished builder (`vocab`: the fixed one it
    used, None: its own; `path`: its stream file, "" for none)."""
    if vocab is None:
        vocab = Vocabulary(builder.words(), builder.counts())
    offsets = builder.take_offsets()
    return EncodedCorpus(vocab, take_ids(builder, path), offsets, builder.raw_tokens,
                         builder.dropped_tokens, path or None)


def take_ids(builder: "core.CorpusBuilder", path: Optional[StrPath]) -> np.ndarray:
    """The finished builder's id stream: in memory, or the memory map of `path`."""
    if not path:
        return builder.take_ids()
    return (np.memmap(path, dtype=np.uint32, mode="r") if builder.n_ids
            else np.zeros(0, dtype=np.uint32))
