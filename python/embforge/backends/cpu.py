"""The CPU backend: numpy arrays and the threaded kernels of ``_core``.

Everything here is host memory. Co-occurrence counting spills sorted runs to
a private temporary directory (removed afterwards, on errors and Ctrl-C too)
and may leave a result too large for the budget on disk, memory-mapped.
GloVe trains in memory, or out of core in shuffled blocks of a temporary
file (glove_blocks) when the pairs do not fit the budget.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, Dict, IO, List, Optional, Tuple, Union

import numpy as np

from .._typing import StrPath
from .. import _native
from ..distributed.consistency import run_together
from ..distributed.cooccurrence import count_partition
from ..glove_blocks import (GroupedPairs, PairBlocks, Stratum, StratifiedBlocks, StratumSpans,
                            check_fits, plan as plan_training, stratum_seed, stratum_sizes)
from .._layout import SPARE_ROWS
from ..io import cooc_file
from ..io.atomic import atomic_write
from .base import Backend, CooccurrenceCount

if TYPE_CHECKING:
    from ..cooccurrence import Cooccurrence
    from ..corpus import EncodedCorpus
    from ..distributed.group import Group

__all__ = ["CpuBackend"]

logger = logging.getLogger(__name__)

class CpuBackend(Backend):
    counts_to_file = True

    def as_array(self, array: Any) -> np.ndarray:
        return np.asarray(array)  # e.g. a CPU torch tensor: shares its memory

    def copy_into(self, target: Any, host: np.ndarray) -> None:
        target[...] = host

    # -------------------------------------------------------------- word2vec
    def init_word2vec(self, vocab_size: int, dim: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
        storage = np.empty((vocab_size + SPARE_ROWS, dim), dtype=np.float32)
        storage[vocab_size:] = 0.0
        _native.core.init_word2vec_input(storage[:vocab_size], seed)
        return storage, np.zeros((vocab_size, dim), dtype=np.float32)

    def train_word2vec_epoch(self, corpus: "EncodedCorpus", input: Any, output: Any, tables: Any,
                             params: Any, *, progress: Any) -> Dict[str, Any]:
        keep, noise_keep, noise_alias = tables
        return _native.core.train_word2vec_epoch(corpus.ids, corpus.offsets, input, output, keep,
                                                 noise_keep, noise_alias, params, progress=progress)

    def word2vec_slice_ends(self, corpus: "EncodedCorpus", seed: int, epoch: int, slices: int) -> List[float]:
        # slices are runs of the epoch's shuffled chunks: sizes vary a little
        ids = _native.core.word2vec_slice_ids(corpus.offsets, seed, epoch, slices)
        ends: List[float] = (np.concatenate(([0], np.cumsum(ids)))
                             / max(1, int(ids.sum()))).tolist()
        return ends

    # -------------------------------------------------------------- fastText
    def check_fasttext(self) -> None:
        pass

    def init_fasttext(self, vocab_size: int, bucket: int, dim: int, seed: int, scale: float,
                      initial: Any = None, workers: int = 1
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        storage = np.zeros((vocab_size + SPARE_ROWS, dim), dtype=np.float32)
        if initial is not None:
            input, output = (np.ascontiguousarray(a, dtype=np.float32) for a in initial)
            return input, output, storage
        input = np.empty((vocab_size + bucket, dim), dtype=np.float32)
        # the model's threads: the numbers do not depend on their count
        _native.core.init_word2vec_input(input, seed, scale=scale, workers=workers)
        return input, np.zeros((vocab_size, dim), dtype=np.float32), storage

    def train_fasttext_epoch(self, corpus: "EncodedCorpus", input: Any, output: Any, subwords: Any,
                             tables: Any, params: Any, *, progress: Any) -> Dict[str, Any]:
        offsets, ids = subwords
        keep, noise_keep, noise_alias = tables
        return _native.core.train_fasttext_epoch(corpus.ids, corpus.offsets, input, output, offsets,
                                                 ids, keep, noise_keep, noise_alias, params,
                                                 progress=progress)

    def fasttext_word_vectors(self, input: Any, subwords: Any, bucket: int, out: Any, workers: int
                              ) -> None:
        _native.core.fasttext_word_vectors(input, subwords[0], subwords[1], bucket, out, workers)

    # --------------------------------------------------------- co-occurrence
    def count_cooccurrences(self, encoded: "EncodedCorpus", *, window: int, symmetric: bool,
                            distance_weighting: bool, workers: int, memory: Any, memory_bytes: int,
                            temp_dir: Optional[StrPath], max_product: int, path: Optional[StrPath],
                            archive_config: Dict[str, Any], progress: Any) -> CooccurrenceCount:
        spill_dir = tempfile.mkdtemp(prefix="embforge-cooccur-", dir=temp_dir)
        try:
            result_dir = os.path.join(spill_dir, "result")
            os.mkdir(result_dir)
            params = _native.core.CooccurParams(
                window=window, symmetric=symmetric, distance_weighting=distance_weighting,
                workers=workers, memory_bytes=memory_bytes, temp_dir=spill_dir,
                max_product=max_product, result_dir=result_dir, result_to_files=path is not None)
            rows, cols, values, stats = _native.core.count_cooccurrences(
                encoded.ids, encoded.offsets, len(encoded.vocab), params, progress=progress)
            source = None
            if stats.get("result_file_counts") and not stats["stopped"]:
                source = _result_archive(result_dir, stats, archive_config, encoded.vocab, path,
                                         temp_dir)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
        if source is not None:
            rows, cols, values = (cooc_file.memmap(source[0], source[1][name])
                                  for name, _ in cooc_file.COLUMNS)
            logger.info("co-occurrence: the result (%d nonzeros) is in %s", stats["nnz"],
                        os.fspath(path) if path is not None else "an unnamed temporary file")
        elif stats["planned_peak_bytes"] > memory_bytes:
            logger.warning("the result (%d nonzeros, %.0f MB) does not fit the memory budget of "
                           "%.0f MB", len(values), len(values) * 12 / 1e6, memory_bytes / 1e6)
        return CooccurrenceCount(rows, cols, values, stats, source)

    def count_cooccurrences_to_glove(self, encoded: "EncodedCorpus", fd: int, name: str, *,
                                     window: int, symmetric: bool, distance_weighting: bool,
                                     workers: int, memory_bytes: int,
                                     temp_dir: Optional[StrPath], max_product: int,
                                     progress: Any) -> CooccurrenceCount:
        spill_dir = tempfile.mkdtemp(prefix="embforge-cooccur-", dir=temp_dir)
        try:
            params = _native.core.CooccurParams(
                window=window, symmetric=symmetric, distance_weighting=distance_weighting,
                workers=workers, memory_bytes=memory_bytes, temp_dir=spill_dir,
                max_product=max_product, glove_fd=fd, glove_name=name)
            rows, cols, values, stats = _native.core.count_cooccurrences(
                encoded.ids, encoded.offsets, len(encoded.vocab), params, progress=progress)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
        return CooccurrenceCount(rows, cols, values, stats)

    def count_cooccurrence_partition(self, encoded: "EncodedCorpus", group: "Group", *,
                                     window: int, symmetric: bool, distance_weighting: bool,
                                     workers: int, memory_bytes: int, temp_dir: Optional[StrPath],
                                     max_product: int, archive_config: Dict[str, Any],
                                     progress: Any) -> CooccurrenceCount:
        spill_dir = tempfile.mkdtemp(prefix="embforge-cooccur-", dir=temp_dir)
        try:
            rows, cols, values, stats = count_partition(
                encoded, group, window=window, symmetric=symmetric,
                distance_weighting=distance_weighting, workers=workers,
                memory_bytes=memory_bytes, spill_dir=spill_dir, max_product=max_product,
                progress=progress)

            def archive() -> Any:
                """A partition left in files (count_partition's "result"
                folder) as the archive one process's count makes; None when
                it is in memory."""
                if not stats["result_file_counts"]:
                    return None
                return _result_archive(os.path.join(spill_dir, "result"), stats, archive_config,
                                       encoded.vocab, None, temp_dir)
            # every rank takes part: a failure to write it (a full disk) raises on all of them
            source = run_together(group, "writing its partition's archive", archive,
                                  discard=lambda opened: opened[0].close() if opened else None)
        finally:
            shutil.rmtree(spill_dir, ignore_errors=True)
        if source is not None:
            rows, cols, values = (cooc_file.memmap(source[0], source[1][name])
                                  for name, _ in cooc_file.COLUMNS)
            logger.info("co-occurrence: rank %d's partition (%d nonzeros) is in an unnamed "
                        "temporary file", group.rank, stats["nnz"])
        return CooccurrenceCount(rows, cols, values, stats, source)

    def upload_matrix(self, rows: Any, cols: Any, values: Any
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise ValueError("to_device() needs a CUDA device ('cuda' or 'cuda:N'), got 'cpu'; "
                         "to_host() gives host arrays")

    # ----------------------------------------------------------------- GloVe
    def init_glove(self, vocab_size: int, dim: int, seed: int
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        weights = np.empty((2 * vocab_size, dim + 1), dtype=np.float32)
        gradsq = np.empty_like(weights)
        _native.core.init_glove(weights, gradsq, int(seed))
        storage = np.zeros((vocab_size + SPARE_ROWS, dim), dtype=np.float32)
        return weights, gradsq, storage

    def check_glove_fits(self, memory_bytes: int, vocab_size: int, vector_size: int,
                         out_of_core: Optional[bool]) -> None:
        check_fits(memory_bytes, vocab_size, vector_size, out_of_core)

    def glove_pairs(self, matrix: "Cooccurrence", *, x_max: float, alpha: float, memory_bytes: int,
                    vector_size: int, out_of_core: Optional[bool], seed: int, workers: int,
                    temp_dir: Optional[StrPath], strata: int = 1
                    ) -> Union["_MemoryPairs", PairBlocks, StratifiedBlocks]:
        matrix = matrix.to_host()  # a matrix counted on a GPU trains here from a host copy
        layout = plan_training(memory_bytes, matrix.nnz, len(matrix.vocab), vector_size,
                               matrix.on_disk, out_of_core)
        if layout.out_of_core and strata > 1:
            strata_blocks = StratifiedBlocks(matrix, strata, layout.blocks, layout.chunk_entries,
                                             x_max, alpha, seed, workers, temp_dir)
            logger.info("GloVe: %d pairs out of core, in %d strata of blocks of up to %d pairs",
                        matrix.nnz, strata, strata_blocks.largest_block)
            return strata_blocks
        if layout.out_of_core:
            blocks = PairBlocks(matrix, layout.blocks, layout.chunk_entries, x_max, alpha, seed,
                                workers, temp_dir)
            logger.info("GloVe: %d pairs out of core, in %d blocks of up to %d pairs", matrix.nnz,
                        layout.blocks, blocks.native.largest_block)
            return blocks
        if strata <= 1:
            pairs = _native.core.make_glove_pairs(matrix.rows, matrix.cols, matrix.values,
                                                  len(matrix.vocab), x_max, alpha, workers)
            return _MemoryPairs(pairs, [len(pairs)], seed=seed)
        return _MemoryPairs(*_stratified_pairs(matrix, strata, x_max, alpha, workers), seed=seed)


# Matrix entries grouped into strata at a time: the copies stay small next
# to the pairs (16 bytes an entry) and the matrix (12).
_STRATIFY_CHUNK = 1 << 22


def _stratified_pairs(matrix: "Cooccurrence", strata: int, x_max: float, alpha: float,
                      workers: int) -> Tuple[np.ndarray, List[int]]:
    """The pair records of `matrix`, stratum after stratum (context word %
    strata), each stratum's in the matrix's order; and the strata's sizes."""
    sizes = stratum_sizes(matrix, strata, _STRATIFY_CHUNK)
    pairs = np.empty((matrix.nnz, 4), dtype=np.uint32)
    start = 0
    for stratum, size in enumerate(sizes):
        pieces = Stratum(matrix, stratum, strata, size).iter_chunks(_STRATIFY_CHUNK)
        for rows, cols, values in pieces:
            if len(rows):
                pairs[start:start + len(rows)] = _native.core.make_glove_pairs(
                    rows, cols, values, len(matrix.vocab), x_max, alpha, workers)
                start += len(rows)
    return pairs, sizes


class _MemoryPairs(GroupedPairs):
    """Pair records in memory and the visiting order of the current epoch: a
    permutation of (seed, epoch) drawn when the epoch changes.

    The records may be grouped in strata by context word (the pairs of
    context word c in stratum c % strata, stratum by stratum): each
    stratum is then shuffled on its own, and an epoch may train one stratum
    (``stratum=``). Across ranks that own the rows by row % W, rank r
    training stratum (r + k) % W changes main rows and context rows no
    other rank changes meanwhile (GloVe._run)."""

    def __init__(self, pairs: np.ndarray, stratum_sizes: List[int], *, seed: int) -> None:
        # Any: close() releases both (None)
        self.pairs: Any = pairs
        self.order: Any = np.empty(len(pairs), dtype=np.uint32)
        self.order_epoch: Optional[int] = None
        self.seed = int(seed)
        self.spans = StratumSpans(stratum_sizes)

    sliceable = True

    def train_epoch(self, weights: Any, gradsq: Any, params: Any, *, progress: Any, part: int = 0,
                    parts: int = 1, stratum: Optional[int] = None) -> Dict[str, Any]:
        if params.epoch != self.order_epoch:
            for index in range(self.strata):
                # each stratum's own permutation, shifted to its records
                lo, hi = self.spans.span(index)
                segment = self.order[lo:hi]
                _native.core.glove_shuffle(segment, stratum_seed(self.seed, index), params.epoch,
                                           params.workers)
                segment += np.uint32(lo)
            self.order_epoch = params.epoch
        order = self.order
        if stratum is not None:
            lo, hi = self.spans.span(stratum)
            order = order[lo:hi]
        n = len(order)
        order = order[n * part // parts:n * (part + 1) // parts]
        return _native.core.train_glove_epoch(self.pairs, order, weights, gradsq, params,
                                              progress=progress)

    def close(self) -> None:
        self.pairs = self.order = None


def _result_archive(result_dir: Any, stats: Any, config: Any, vocab: Any, path: Optional[StrPath],
                    temp_dir: Optional[StrPath]) -> Tuple[Any, ...]:
    """Joins the native count's result files (cooccur.h: result_dir) into the
    archive at `path`, or into an unnamed temporary file; returns the open
    archive and its members (a Cooccurrence source)."""
    threads = range(len(stats["result_file_counts"]))
    columns = {name: cooc_file.file_chunks([cooc_file.result_path(result_dir, t, name)
                                            for t in threads])
               for name, _ in cooc_file.COLUMNS}
    file: IO[bytes]
    if path is not None:
        with atomic_write(path, "wb") as out:
            cooc_file.write_coo_archive(out, config, vocab.words, vocab.counts, stats["nnz"], columns)
        file = open(os.fspath(path), "rb")
    else:
        file = tempfile.TemporaryFile(prefix="embforge-cooccurrence-", dir=temp_dir)
    try:
        if path is None:
            cooc_file.write_coo_archive(file, config, vocab.words, vocab.counts, stats["nnz"], columns)
            file.flush()
        return file, cooc_file.open_members(file, [name for name, _ in cooc_file.COLUMNS])
    except BaseException:
        file.close()
        raise
