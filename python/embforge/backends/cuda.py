"""The CUDA backend: model state in device memory, kernels from ``_cuda``.

The model's state lives on the GPU as torch (or CuPy) arrays (device_arrays):
Word2Vec's input and output weights, GloVe's weights, squared-gradient sums
and pair records, and the storage under ``wv``, so the vectors reach PyTorch
without a copy. Only per-launch scalars (loss, cost, counts) come back.

What the GPU does differently, on purpose:
- co-occurrence: ``memory`` is the device workspace; the GPU does not spill,
  so a matrix that outgrows it raises an error naming the budget, and a
  count is never written straight to a file (``path=`` is refused);
- GloVe: the pair order of an epoch is a permutation keyed by (seed, epoch)
  that the kernel computes itself (no order array; pairs in strata, for
  ranks that train by stratum, get one permutation a stratum, keyed by
  (seed + stratum, epoch), as the CPU shuffles each stratum on its own);
  the update rule is the CPU's (glove_math.h) with glove.c's bias step: the
  kernel takes the bias rate from GloveParams, but only 1 has been checked
  against the CPU (by emulation), so another ``bias_learning_rate`` is
  refused rather than trusted; out-of-core training is CPU-only (the pairs
  live on the device), so ``out_of_core=True`` is refused;
- FastText: the kernel walks the stream as word2vec's does (randomness keyed
  by stream position, windows and noise words drawn on the device), with the
  CPU's update order within a window (csrc/cuda/ft_core.cuh); the subword
  lists are built once on the host and uploaded with the corpus.

Before any kernel reads it, the encoded corpus is checked on the device
(cuda_checks: offsets from 0 to len(ids), ids below the vocabulary), once per
corpus. Kernel launches are asynchronous, so a kernel that faults is reported
by a later call naming no kernel; ``EMBFORGE_CUDA_SYNC=1`` in the environment
makes every launcher wait for its kernel and name it and its launch arguments
when it failed (slower: for finding faults, csrc/cuda/launch_debug.h).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .._typing import StrPath
from . import cuda_fasttext, cuda_launch
from .._layout import SPARE_ROWS
from ..glove_blocks import GroupedPairs, StratumSpans, stratum_seed
from .arrays import to_host
from .base import Backend, CooccurrenceCount
from .device_arrays import array_module, on_caller_stream

if TYPE_CHECKING:
    from ..cooccurrence import Cooccurrence
    from ..corpus import EncodedCorpus
    from ..distributed.group import Group

__all__ = ["CudaBackend"]

logger = logging.getLogger(__name__)

# The fields of a Word2VecParams that the GPU launch loop takes.
_WORD2VEC_FIELDS = ("skip_gram", "window", "negative", "shrink_windows", "alpha_start", "alpha_end",
                    "seed", "epoch", "compute_loss")


class CudaBackend(Backend):
    def copy_into(self, target: Any, host: np.ndarray) -> None:
        target[...] = array_module().upload(np.ascontiguousarray(host), self.device)

    def on_caller_stream(self, call: Callable[..., Any]) -> Callable[..., Any]:
        return on_caller_stream(call, self.device)

    # -------------------------------------------------------------- word2vec
    def init_word2vec(self, vocab_size: int, dim: int, seed: int) -> Tuple[Any, Any]:
        return cuda_launch.allocate_word2vec(vocab_size, dim, seed, self.device, SPARE_ROWS)

    def train_word2vec_epoch(self, corpus: "EncodedCorpus", input: Any, output: Any, tables: Any, params: Any, *, progress: Any) -> Dict[str, Any]:
        # workers and hot_rows are the CPU kernel's; the GPU's launch tuning
        # is cuda_launch's (defaults). A slice of the epoch is a range of
        # stream positions here (the kernel's randomness is keyed by position,
        # so ranges need no RNG hand-over); the kernel interpolates the
        # learning rate over the whole stream, so the slice's endpoints are
        # turned into the line through them.
        settings = {name: getattr(params, name) for name in _WORD2VEC_FIELDS}
        n, k, parts = len(corpus.ids), params.slice_index, params.slice_count
        begin, end = n * k // parts, n * (k + 1) // parts
        if parts > 1 and end > begin:
            slope = (params.alpha_end - params.alpha_start) / (end - begin)
            settings["alpha_start"] = params.alpha_start - slope * begin
            settings["alpha_end"] = settings["alpha_start"] + slope * n
        return cuda_launch.train_word2vec_epoch(corpus.ids, corpus.offsets, input, output, *tables,
                                                **settings, progress=progress, begin=begin, end=end)

    def word2vec_slice_ends(self, corpus: "EncodedCorpus", seed: int, epoch: int, slices: int
                            ) -> List[float]:
        n = len(corpus.ids)  # slices are equal ranges of stream positions
        return [(n * k // slices) / max(1, n) for k in range(slices + 1)]

    # -------------------------------------------------------------- fastText
    def check_fasttext(self) -> None:
        pass

    def init_fasttext(self, vocab_size: int, bucket: int, dim: int, seed: int, scale: float,
                      initial: Optional[tuple[Any, Any]] = None, workers: int = 1
                      ) -> tuple[Any, Any, Any]:
        return cuda_fasttext.allocate_fasttext(vocab_size, bucket, dim, seed, scale, self.device,
                                               SPARE_ROWS, initial)

    def train_fasttext_epoch(self, corpus: Any, input: Any, output: Any, subwords: tuple[Any, Any],
                             tables: tuple[Any, Any, Any], params: Any, *,
                             progress: Any) -> dict[str, Any]:
        # workers is the CPU kernel's; the GPU's launch tuning is cuda_fasttext's
        return cuda_fasttext.train_fasttext_epoch(
            corpus.ids, corpus.offsets, input, output, *subwords, *tables, bucket=params.bucket,
            skip_gram=params.skip_gram, window=params.window, negative=params.negative,
            shrink_windows=params.shrink_windows, alpha_start=params.alpha_start,
            alpha_end=params.alpha_end, seed=params.seed, epoch=params.epoch, min_n=params.min_n,
            max_n=params.max_n, progress=progress)

    def fasttext_word_vectors(self, input: Any, subwords: tuple[Any, Any], bucket: int, out: Any,
                              workers: int) -> None:
        cuda_fasttext.fasttext_word_vectors(input, subwords[0], subwords[1], bucket, out)

    # --------------------------------------------------------- co-occurrence
    def count_cooccurrences(self, encoded: "EncodedCorpus", *, window: int, symmetric: bool,
                            distance_weighting: bool, workers: int, memory: Any, memory_bytes: int,
                            temp_dir: Optional[StrPath], max_product: int, path: Optional[StrPath],
                            archive_config: Dict[str, Any], progress: Any) -> CooccurrenceCount:
        try:
            rows, cols, values, stats = cuda_launch.count_cooccurrences(
                encoded.ids, encoded.offsets, len(encoded.vocab), window=window,
                symmetric=symmetric, distance_weighting=distance_weighting,
                memory_bytes=memory_bytes, progress=progress, device=self.device)
        except RuntimeError as error:  # e.g. the matrix outgrew the workspace: name the knob
            raise RuntimeError(f"co-occurrence on {self.device} with memory={memory!r} "
                               f"({memory_bytes} bytes of device workspace): {error}") from error
        return CooccurrenceCount(rows, cols, values, stats)

    @property
    def partition_count_device(self) -> str:
        return "cpu"  # the exact merge needs the CPU count's fixed-point sums (below)

    def count_cooccurrence_partition(self, encoded: "EncodedCorpus", group: "Group",
                                     **_settings: Any) -> CooccurrenceCount:
        raise ValueError(f"distributed co-occurrence counting runs on the CPU only: the count on "
                         f"{self.device!r} does not hand out its fixed-point sums, which the "
                         "ranks' exact merge needs (count with device='cpu')")

    def upload_matrix(self, rows: Any, cols: Any, values: Any) -> Tuple[Any, Any, Any]:
        """Arrays already on this device are kept, others copied here
        (through the host when they are on another GPU)."""
        arrays = array_module()
        return tuple(a if arrays.is_device_array(a) and arrays.device(a) == self.device
                     else arrays.upload(np.ascontiguousarray(to_host(a)), self.device)
                     for a in (rows, cols, values))

    # ----------------------------------------------------------------- GloVe
    def check_glove(self, out_of_core: Optional[bool], bias_learning_rate: float) -> None:
        if out_of_core:
            raise ValueError(f"out_of_core=True: out-of-core training is CPU-only; on "
                             f"{self.device!r} the pairs and the model are in device memory "
                             "(use out_of_core=None, or device='cpu')")
        if bias_learning_rate != 1.0:
            raise ValueError(f"bias_learning_rate={bias_learning_rate!r}: the CUDA kernel "
                             "uses glove.c's bias step (bias_learning_rate=1); use 1.0, or "
                             "device='cpu'")

    def init_glove(self, vocab_size: int, dim: int, seed: int) -> Tuple[Any, Any, Any]:
        weights, gradsq = cuda_launch.allocate_glove(vocab_size, dim, seed, self.device)
        storage = array_module().zeros((vocab_size + SPARE_ROWS, dim), "float32", self.device)
        return weights, gradsq, storage

    def glove_pairs(self, matrix: "Cooccurrence", *, x_max: float, alpha: float, memory_bytes: int,
                    vector_size: int, out_of_core: Optional[bool], seed: int, workers: int,
                    temp_dir: Optional[StrPath], strata: int = 1) -> "_DevicePairs":
        # A host matrix is uploaded for this call only (not cached like the
        # corpus: it can be large and is not needed once the pairs exist); an
        # on-disk matrix is uploaded whole.
        rows, cols, values = self.upload_matrix(matrix.rows, matrix.cols, matrix.values)
        pairs = cuda_launch.make_glove_pairs(rows, cols, values, len(matrix.vocab), x_max, alpha,
                                             device=self.device)
        sizes = [int(pairs.shape[0])]
        if strata > 1:
            # grouped on the device: the sort keys, order and grouped copy take
            # about twice the pairs' memory again, until the ungrouped pairs go
            pairs, sizes = array_module().group_rows(pairs, _PAIR_COL, strata)
        return _DevicePairs(pairs, sizes, seed)


_PAIR_COL = 1  # the context word's column in a pair record (glove::Pair: row, col, log_x, weight)


class _DevicePairs(GroupedPairs):
    """Pair records on the device, grouped in strata by context word (the
    pairs of context word c in stratum c % strata, stratum by stratum; one
    stratum when not asked for more); the kernel draws each epoch's order.

    As _MemoryPairs on the CPU: an epoch may train one stratum
    (``stratum=``), visiting it in its own permutation, and a part of it
    (``part`` of ``parts``, slices of that one permutation)."""

    sliceable = True

    def __init__(self, pairs: Any, stratum_sizes: List[int], seed: int) -> None:
        self.pairs = pairs
        self.spans = StratumSpans(stratum_sizes)
        self.seed = int(seed)

    def train_epoch(self, weights: Any, gradsq: Any, params: Any, *, progress: Any, part: int = 0,
                    parts: int = 1, stratum: Optional[int] = None) -> Dict[str, Any]:
        pairs, seed = self.pairs, self.seed
        if stratum is not None:
            lo, hi = self.spans.span(stratum)
            pairs, seed = pairs[lo:hi], stratum_seed(self.seed, stratum)
        n = int(pairs.shape[0])
        return cuda_launch.train_glove_epoch(pairs, None, weights, gradsq,
                                             learning_rate=params.learning_rate,
                                             grad_clip=params.grad_clip, seed=seed,
                                             epoch=params.epoch, progress=progress,
                                             begin=n * part // parts, end=n * (part + 1) // parts)

    def close(self) -> None:
        self.pairs = None
