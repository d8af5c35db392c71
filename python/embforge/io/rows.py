"""Vector storage as the readers return it, and how it is filled.

``storage`` holds the vectors in its first ``len(words)`` rows followed by
SPARE_ROWS zero rows, so that the torch hand-off can append its special
tokens (``<pad>``, ``<unk>``, ...) without copying the matrix.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional

import numpy as np

from ._errors import show

__all__ = ["RowBuffer", "initial_rows", "FirstWins", "MAX_DIM", "check_dim"]

logger = logging.getLogger(__name__)

_GROWTH_BYTES = 64 << 20           # first allocation when the row count is not known
# The widest vectors a reader accepts. The spare rows are allocated even for a
# file that holds no vector, so a declared dimension is the one size no data
# backs: bounded, SPARE_ROWS float64 rows of it take 64 MiB. (Real embeddings
# are a few thousand wide.)
MAX_DIM = 1 << 22


def check_dim(dim: int, where: str) -> None:
    """Refuses a declared dimension above MAX_DIM; `where` starts the message
    (the file and the place of the value)."""
    if dim > MAX_DIM:
        raise ValueError(f"{where}: the dimension {dim} is larger than the {MAX_DIM} "
                         "this reader accepts (a damaged header?)")


class RowBuffer:
    """Float32 rows collected into one array. Nothing is allocated before the
    first block of rows has been read and checked; the array then starts at
    `initial` rows (at least the block), grows in place (``ndarray.resize``
    reallocates without a second copy) up to `max_rows`, and is finally
    trimmed to the rows read plus `spare` zero rows."""

    def __init__(self, dim: int, initial: int, max_rows: Optional[int], spare: int) -> None:
        self.dim, self.initial, self.max_rows, self.spare = dim, initial, max_rows, spare
        self.array: Optional[np.ndarray] = None
        self.capacity = 0
        self.count = 0

    def extend(self, block: np.ndarray) -> None:
        need = self.count + len(block)
        if self.array is None:
            self.capacity = max(need, self.initial)
            self.array = np.empty((self.capacity + self.spare, self.dim), dtype=np.float32)
        elif need > self.capacity:
            grown = max(need, 2 * self.capacity)
            if self.max_rows is not None:
                grown = max(need, min(grown, self.max_rows))
            self.array.resize((grown + self.spare, self.dim), refcheck=False)
            self.capacity = grown
        self.array[self.count:need] = block
        self.count = need

    def finish(self) -> np.ndarray:
        if self.array is None:
            return np.zeros((self.spare, self.dim), dtype=np.float32)
        if self.capacity != self.count:
            self.array.resize((self.count + self.spare, self.dim), refcheck=False)
        self.array[self.count:] = 0.0
        return self.array


def initial_rows(dim: int, wanted: Optional[int], bound: Optional[int]) -> int:
    """Rows to allocate with the first block: never more than the file can hold
    (`bound`, from its size) nor, when that is unknown, more than ~64 MiB."""
    cap = bound if bound is not None else max(1, _GROWTH_BYTES // (4 * dim))
    return cap if wanted is None else min(wanted, cap)


class FirstWins:
    """Words in file order with duplicates dropped (the first vector wins, as
    in gensim), with a single warning listing some of the duplicates."""

    def __init__(self) -> None:
        self.words: List[str] = []
        self.index: Dict[str, int] = {}
        self.duplicates: List[str] = []

    def add(self, word: str) -> bool:
        if word in self.index:
            self.duplicates.append(word)
            return False
        self.index[word] = len(self.words)
        self.words.append(word)
        return True

    def warn(self, path: str) -> None:
        if self.duplicates:
            shown = ", ".join(show(w, 30) for w in self.duplicates[:5])
            logger.warning("%s: %d duplicate word(s) (%s%s); kept the first vector of each, "
                           "as gensim does", path, len(self.duplicates), shown,
                           ", ..." if len(self.duplicates) > 5 else "")

