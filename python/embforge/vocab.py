"""The vocabulary: words, their counts and ids (most frequent first)."""
from __future__ import annotations

from typing import Iterator, Iterable, Optional, Sequence, Set

import numpy as np

from ._typing import StrPath
from ._tokens import all_tokens, is_token
from .io.vocab_file import read_vocab_file, write_vocab_file

__all__ = ["Vocabulary"]


class Vocabulary:
    """Words ordered by descending count (ties by byte order), with their counts.

    Ids are positions in that order. Built by :func:`embforge.encode` (one pass
    that also encodes the corpus: ``encode(source, min_count=5).vocab``), and
    saved as GloVe's vocab format: one ``word count`` line per word.
    """

    def __init__(self, words: Sequence[str], counts: Optional[Iterable[int]] = None) -> None:
        self.words = list(words)
        if counts is None:
            counts = np.ones(len(self.words), dtype=np.int64)
        self.counts = np.ascontiguousarray(np.asarray(counts, dtype=np.int64))
        if self.counts.shape != (len(self.words),):
            raise ValueError(f"{len(self.words)} words but counts has shape {self.counts.shape}")
        if len(self.counts) and self.counts.min() < 0:
            raise ValueError(f"counts must be >= 0, got {int(self.counts.min())}")
        self.word_to_index = dict(zip(self.words, range(len(self.words))))
        if len(self.word_to_index) != len(self.words):
            seen: Set[str] = set()
            for duplicate in self.words:  # the first word seen a second time
                if duplicate in seen:
                    break
                seen.add(duplicate)
            raise ValueError(f"duplicate word in vocabulary: {duplicate!r}")
        if all_tokens(self.words):
            return
        for word in self.words:  # the first word that is not a token
            if not is_token(word):
                raise ValueError("vocabulary words must be non-empty str holding no ASCII whitespace "
                                 f"(space, tab, newline, CR, VT, FF), got {word!r}")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.word_to_index

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def __getitem__(self, word: str) -> int:
        """The id of `word` (KeyError when absent)."""
        return self.word_to_index[word]

    def count(self, word: str) -> int:
        return int(self.counts[self.word_to_index[word]])

    @property
    def total_count(self) -> int:
        """Sum of the counts: the in-vocabulary tokens of the corpus."""
        return int(self.counts.sum())

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocabulary) and self.words == other.words
                and np.array_equal(self.counts, other.counts))

    def __repr__(self) -> str:
        head = ", ".join(self.words[:5])
        return f"Vocabulary({len(self)} words: {head}{', ...' if len(self) > 5 else ''})"

    def save(self, path: StrPath) -> None:
        """Writes ``word count`` lines (GloVe's vocab format), atomically; a
        name ending in ``.gz`` is written gzip-compressed (see embforge.io.vocab_file)."""
        write_vocab_file(path, self.words, self.counts)

    @classmethod
    def load(cls, path: StrPath) -> "Vocabulary":
        """Reads ``word count`` lines (plain or compressed); order is kept as
        in the file. A malformed file is a ValueError naming the line."""
        words, counts = read_vocab_file(path)
        if not words:
            raise ValueError(f"{path}: empty vocabulary file")
        return cls(words, counts)
