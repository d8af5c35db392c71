"""Out-of-core GloVe training: the pairs in blocks of a temporary file.

In memory, training holds every pair as a 16-byte record plus a 4-byte
order (20 bytes a pair) next to the model. When that does not fit the
memory budget, or when the matrix itself is on disk (Cooccurrence.on_disk),
``PairBlocks`` writes the records once into an unnamed temporary file, in
blocks that are random samples of the matrix, and every epoch trains the
blocks one at a time in a fresh random order, each block's pairs shuffled in
memory (csrc/include/embforge/glove_blocks.h). The file has no name: it is
gone when the PairBlocks is closed or freed, and when the process ends,
however it ends.

Memory: the model (weights and AdaGrad sums, 2 x 2V x (d+1) float32, plus
the output vectors) and then one block at a time, 20 bytes a pair (24 are
planned for: block sizes vary a little and the shuffle needs some room),
while writing, pieces of the matrix at 28 bytes an entry (12 read, 16
sorted into blocks). The budget must hold the model and a block of
MIN_BLOCK_PAIRS pairs: ``plan`` says how much that is when it does not.

``StratifiedBlocks`` keeps one such file per stratum of the context words
(the pairs of context word c in stratum c % strata), for distributed GloVe's
strata (GloVe._epoch_steps); each is written from the matrix's pieces, one
piece in memory at a time, as a single file is.
"""
from __future__ import annotations

import math
import tempfile
from typing import (TYPE_CHECKING, Any, Dict, IO, Iterator, List, NamedTuple, Optional, Protocol,
                    Tuple)

import numpy as np

from ._typing import StrPath
from ._layout import SPARE_ROWS
from ._native import core

if TYPE_CHECKING:
    from .cooccurrence import Cooccurrence

__all__ = ["MIN_BLOCK_PAIRS", "Plan", "plan", "model_bytes", "PairBlocks", "Stratum",
           "StratifiedBlocks", "StratumSpans", "GroupedPairs", "stratum_sizes", "stratum_seed", "check_stratum"]

IN_MEMORY_BYTES_PER_PAIR = 20   # glove::Pair record + uint32 order
BLOCK_BYTES_PER_PAIR = 24       # the same, plus slack for block sizes and the shuffle
WRITE_BYTES_PER_ENTRY = 28      # a piece read from the matrix (12) + its records (16)
MIN_BLOCK_PAIRS = 4096


class Plan(NamedTuple):
    out_of_core: bool
    blocks: int          # 1 in memory
    chunk_entries: int   # matrix entries written at a time (out of core)


def model_bytes(vocab_size: int, vector_size: int) -> int:
    """Weights and AdaGrad sums [2V, d+1] float32 each, plus the output vectors."""
    return 2 * (2 * vocab_size * (vector_size + 1) * 4) + (vocab_size + SPARE_ROWS) * vector_size * 4


# the smallest block out of core
_LEAST_BLOCK_BYTES = MIN_BLOCK_PAIRS * max(BLOCK_BYTES_PER_PAIR, WRITE_BYTES_PER_ENTRY)


def _too_small(memory: int, vocab_size: int, vector_size: int) -> ValueError:
    model = model_bytes(vocab_size, vector_size)
    return ValueError(
        f"memory={memory} bytes is too small for out-of-core GloVe training: the model of "
        f"{vocab_size} words x {vector_size} dimensions takes {model} bytes and a block of at "
        f"least {MIN_BLOCK_PAIRS} pairs {_LEAST_BLOCK_BYTES} more; give memory >= "
        f"{model + _LEAST_BLOCK_BYTES} bytes")


def check_fits(memory: int, vocab_size: int, vector_size: int, out_of_core: Optional[bool]
               ) -> None:
    """Raises plan()'s ValueError where it would raise for any matrix of a
    vocabulary of `vocab_size` words (at least one nonzero): what a trainer
    can refuse before the count's time is spent. Out of core, the model and
    the smallest block must fit; left to choose (None), a model without
    room for one pair in memory goes out of core, where it does not fit."""
    if out_of_core is False:
        return
    model = model_bytes(vocab_size, vector_size)
    least = _LEAST_BLOCK_BYTES if out_of_core else IN_MEMORY_BYTES_PER_PAIR
    if model + least > memory:
        raise _too_small(memory, vocab_size, vector_size)


def plan(memory: int, nnz: int, vocab_size: int, vector_size: int, on_disk: bool,
         out_of_core: Optional[bool]) -> Plan:
    """In memory when the pairs fit `memory` next to the model and the matrix
    is in memory (out_of_core=None), or when asked; else blocks that fit."""
    model = model_bytes(vocab_size, vector_size)
    if out_of_core is None:
        out_of_core = on_disk or model + IN_MEMORY_BYTES_PER_PAIR * nnz > memory
    if not out_of_core:
        return Plan(False, 1, nnz)
    room = memory - model
    if room < _LEAST_BLOCK_BYTES:
        raise _too_small(memory, vocab_size, vector_size)
    block_pairs = room // BLOCK_BYTES_PER_PAIR
    blocks = max(1, math.ceil(nnz / block_pairs))
    return Plan(True, blocks, max(1, room // WRITE_BYTES_PER_ENTRY))


class Entries(Protocol):
    """What PairBlocks reads: a Cooccurrence, or one stratum of one."""

    @property
    def nnz(self) -> int: ...

    @property
    def vocab(self) -> Any: ...

    def iter_chunks(self, entries: int) -> Iterator[Tuple[np.ndarray, ...]]: ...


class PairBlocks:
    """The training pairs of one Cooccurrence, in blocks of an unnamed file."""

    def __init__(self, matrix: Entries, blocks: int, chunk_entries: int, x_max: float,
                 alpha: float, seed: int, workers: int, temp_dir: Optional[StrPath] = None) -> None:
        self._file: Optional[IO[bytes]] = tempfile.TemporaryFile(prefix="embforge-glove-pairs-",
                                                                 dir=temp_dir)
        self._native: Optional[core.GloveBlockFile]  # set next; both None once closed
        try:
            self._native = core.GloveBlockFile(self._file.fileno(), matrix.nnz, blocks,
                                               len(matrix.vocab), int(seed), workers)
            for rows, cols, values in matrix.iter_chunks(chunk_entries):
                self._native.write(rows, cols, values, x_max, alpha, workers)
                del rows, cols, values  # one piece at a time: freed before the next is read
        except BaseException:
            self.close()
            raise

    @property
    def native(self) -> core.GloveBlockFile:
        """The core.GloveBlockFile (blocks, block_order, read_block, ...)."""
        if self._file is None or self._native is None:
            raise ValueError("the pair file is closed")
        return self._native

    sliceable = False  # an epoch is one pass over the blocks
    strata = 1  # blocks are random samples of the matrix, not strata of it

    def train_epoch(self, weights: Any, gradsq: Any, params: Any, *, progress: Any, part: int = 0,
                    parts: int = 1) -> Dict[str, Any]:
        """One epoch: the blocks in the order of (seed, params.epoch), each
        shuffled in memory; `params` is a core.GloveParams."""
        if parts != 1:
            raise ValueError(f"out-of-core pairs train whole epochs, not part {part} of {parts}")
        return self.native.train_epoch(weights, gradsq, params, progress=progress)

    def close(self) -> None:
        """Frees the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._native = None

    @property
    def closed(self) -> bool:
        return self._file is None


def stratum_sizes(matrix: Entries, strata: int, entries: int) -> List[int]:
    """The entries of `matrix` whose context word c has c % strata == s, for
    each s, counted `entries` at a time."""
    sizes = np.zeros(strata, dtype=np.int64)
    for _, cols, _ in matrix.iter_chunks(entries):
        sizes += np.bincount(cols % strata, minlength=strata)
    return [int(size) for size in sizes]


def stratum_seed(seed: int, stratum: int) -> int:
    """The seed of one stratum's visiting order: each stratum is shuffled on
    its own, keyed by (seed + stratum, epoch), wherever its pairs are."""
    return (int(seed) + int(stratum)) % (1 << 64)


def check_stratum(stratum: int, strata: int) -> None:
    """ValueError unless 0 <= stratum < strata."""
    if not 0 <= stratum < strata:
        raise ValueError(f"stratum must be in [0, {strata}), got {stratum}")


class StratumSpans:
    """Where each stratum's records lie in one array that holds them stratum
    after stratum (the in-memory and device pairs)."""

    def __init__(self, sizes: List[int]) -> None:
        self.sizes = [int(size) for size in sizes]
        self._starts = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.sizes)

    def span(self, stratum: int) -> Tuple[int, int]:
        """[begin, end) of stratum `stratum`'s records."""
        check_stratum(stratum, len(self.sizes))
        return int(self._starts[stratum]), int(self._starts[stratum + 1])


class GroupedPairs:
    """Pair records held stratum after stratum in one array (`spans` says
    where each lies): what the in-memory and device pairs share."""

    spans: StratumSpans

    @property
    def strata(self) -> int:
        return len(self.spans)

    @property
    def stratum_sizes(self) -> List[int]:
        return self.spans.sizes


class Stratum:
    """The entries of `matrix` whose context word c has c % strata ==
    stratum (`nnz` of them), piece by piece: what PairBlocks reads of one
    stratum."""

    def __init__(self, matrix: Entries, stratum: int, strata: int, nnz: int) -> None:
        self.matrix, self.stratum, self.strata, self.nnz = matrix, stratum, strata, nnz
        self.vocab = matrix.vocab

    def iter_chunks(self, entries: int) -> Iterator[Tuple[np.ndarray, ...]]:
        for rows, cols, values in self.matrix.iter_chunks(entries):
            mine = cols % self.strata == self.stratum
            yield rows[mine], cols[mine], values[mine]


class StratifiedBlocks:
    """The training pairs of one Cooccurrence in `strata` pair files, one per
    stratum of the context words, each trained as PairBlocks trains its
    file; ``train_epoch(..., stratum=s)`` trains stratum s only."""

    sliceable = False  # a stratum is one pass over its blocks

    def __init__(self, matrix: "Cooccurrence", strata: int, blocks: int, chunk_entries: int,
                 x_max: float, alpha: float, seed: int, workers: int,
                 temp_dir: Optional[StrPath] = None) -> None:
        self.stratum_sizes = stratum_sizes(matrix, strata, chunk_entries)
        self._files: List[PairBlocks] = []
        try:
            for stratum, size in enumerate(self.stratum_sizes):
                # each stratum's share of the blocks (a block fits the budget)
                share = max(1, math.ceil(blocks * size / max(1, matrix.nnz)))
                self._files.append(PairBlocks(
                    Stratum(matrix, stratum, strata, size), share, chunk_entries, x_max, alpha,
                    stratum_seed(seed, stratum), workers, temp_dir))
        except BaseException:
            self.close()
            raise

    @property
    def strata(self) -> int:
        return len(self.stratum_sizes)

    @property
    def largest_block(self) -> int:
        return max(blocks.native.largest_block for blocks in self._files)

    def train_epoch(self, weights: Any, gradsq: Any, params: Any, *, progress: Any, part: int = 0,
                    parts: int = 1, stratum: Optional[int] = None) -> Dict[str, Any]:
        """Stratum `stratum` (its blocks in the order of (seed + stratum,
        params.epoch)), or every stratum in turn."""
        if parts != 1:
            raise ValueError(f"out-of-core pairs train whole strata, not part {part} of {parts}")
        if stratum is not None:
            check_stratum(stratum, self.strata)
            return self._files[stratum].train_epoch(weights, gradsq, params, progress=progress)
        total: Dict[str, Any] = {}
        for blocks in self._files:
            stats = blocks.train_epoch(weights, gradsq, params, progress=progress)
            for key, value in stats.items():
                total[key] = (total.get(key, False) or value) if key == "stopped" else (
                    total.get(key, 0) + value)
            if stats.get("stopped"):
                break
        return total

    def close(self) -> None:
        """Frees the files (idempotent)."""
        for blocks in self._files:
            blocks.close()
        self._files = []
