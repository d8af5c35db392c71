"""The contract every backend implements: what a trainer may ask of a device.

A backend owns every difference between devices: where arrays live, which
native module runs the kernels, what a device cannot do. Trainers hold one
backend (``get_backend(device)``) and call these methods; they never ask
which device they are on. To add a backend, subclass ``Backend``, implement
every method, and register the class in ``embforge.backends``.

Arrays a backend hands out (model weights, pair records, matrices) live on
its device; arrays it is given may be host (numpy) or its own device arrays.
Every long call takes a ``_core.Progress``, publishes work and loss to it, and
returns early, consistently, when a stop is requested.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .._typing import StrPath
from . import arrays

if TYPE_CHECKING:
    from ..cooccurrence import Cooccurrence
    from ..corpus import EncodedCorpus
    from ..distributed.group import Group

__all__ = ["Backend", "CooccurrenceCount"]


class CooccurrenceCount(NamedTuple):
    """A count's COO arrays (on the backend's device), its statistics, and,
    when the result went to disk, ``source``: (open archive file, members)."""
    rows: object
    cols: object
    values: object
    stats: Dict[str, Any]
    source: Optional[Tuple[Any, ...]] = None


class Backend:
    """One device kind. ``device`` is the normalised name ("cpu", "cuda:0")."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device!r})"

    # ---------------------------------------------------------------- arrays
    def to_host(self, array: Any) -> np.ndarray:
        """A numpy array of `array` (no copy for host data)."""
        return arrays.to_host(array)

    def as_array(self, array: Any) -> Any:
        """`array` as this backend computes on it (device arrays as they are)."""
        return array

    def copy_into(self, target: Any, host: np.ndarray) -> None:
        """Writes host data into an array this backend allocated (same shape)."""
        raise NotImplementedError

    def on_caller_stream(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """`call`, bound to whatever the calling thread would launch on, for
        running on a helper thread (progress.run_polled)."""
        return call

    # -------------------------------------------------------------- word2vec
    def init_word2vec(self, vocab_size: int, dim: int, seed: int) -> Tuple[Any, Any]:
        """``(storage, output)``: storage [vocab + SPARE_ROWS, dim], the word
        rows initialised as word2vec.c does (the same numbers on every
        backend) and the spare rows zero; output [vocab, dim] zeros."""
        raise NotImplementedError

    def train_word2vec_epoch(self, corpus: "EncodedCorpus", input: Any, output: Any, tables: Any,
                             params: Any, *, progress: Any) -> Dict[str, Any]:
        """One epoch over ``corpus.ids``/``corpus.offsets`` with ``params``, a
        ``_core.Word2VecParams`` (the contract of csrc's word2vec.h); `tables`
        is (keep_threshold, noise_keep, noise_alias). Returns loss,
        loss_terms, ids_processed, words_trained, stopped."""
        raise NotImplementedError

    def word2vec_slice_ends(self, corpus: "EncodedCorpus", seed: int, epoch: int, slices: int
                            ) -> List[float]:
        """Where each of an epoch's `slices` slices ends, as fractions of its
        ids (slices + 1 numbers from 0 to 1): how train_word2vec_epoch cuts an
        epoch given ``params.slice_index``/``slice_count``."""
        raise NotImplementedError

    # -------------------------------------------------------------- fastText
    # A backend without the kernels says so once, when the model is made,
    # instead of failing mid-training.
    def check_fasttext(self) -> None:
        """ValueError when this device cannot train FastText."""
        raise ValueError(f"FastText is not available on {self.device!r}: train with device='cpu'")

    def init_fasttext(self, vocab_size: int, bucket: int, dim: int, seed: int, scale: float,
                      initial: Any = None, workers: int = 1) -> Tuple[Any, Any, Any]:
        """``(input, output, storage)``: input [vocab + bucket, dim] (word
        rows, then n-gram rows) initialised as word2vec.c initialises its
        input, times `scale` (the same numbers on every backend), output
        [vocab, dim] zeros, and storage [vocab + SPARE_ROWS, dim] zeros for
        the composed word vectors. `initial`: host arrays (input, output) to
        start from instead (a loaded model). `workers`: CPU threads for the
        init (the numbers do not depend on them)."""
        self.check_fasttext()
        raise NotImplementedError

    def train_fasttext_epoch(self, corpus: "EncodedCorpus", input: Any, output: Any, subwords: Any,
                             tables: Any, params: Any, *, progress: Any) -> Dict[str, Any]:
        """One epoch with ``params``, a ``_core.FastTextParams`` (csrc's
        fasttext.h); `subwords` is (offsets, ids) from ``_core.fasttext_subwords``
        and `tables` (keep_threshold, noise_keep, noise_alias). Returns loss,
        loss_terms, ids_processed, words_trained, stopped."""
        self.check_fasttext()
        raise NotImplementedError

    def fasttext_word_vectors(self, input: Any, subwords: Any, bucket: int, out: Any, workers: int
                              ) -> None:
        """out[w] = the mean of word w's subword rows of `input`."""
        self.check_fasttext()

    # --------------------------------------------------------- co-occurrence
    # True when count_cooccurrences can write its result straight to a file
    # (path=) instead of holding it in memory.
    counts_to_file = False

    def check_cooccurrence(self, path: Optional[StrPath]) -> None:
        """ValueError for options this device cannot honour."""
        if path is not None and not self.counts_to_file:
            raise ValueError(f"path= writes the CPU count's result straight to disk; a count on "
                             f"{self.device!r} stays in memory: count, then call .save(path)")

    def count_cooccurrences(self, encoded: "EncodedCorpus", *, window: int, symmetric: bool,
                            distance_weighting: bool, workers: int, memory: Any, memory_bytes: int,
                            temp_dir: Optional[StrPath], max_product: int, path: Optional[StrPath],
                            archive_config: Dict[str, Any], progress: Any) -> CooccurrenceCount:
        """The co-occurrence matrix of an encoded corpus, sorted by (row, col),
        equal bit for bit on every backend. A result written to disk (at
        `path`, or past the budget) is an archive headed by `archive_config`."""
        raise NotImplementedError

    def count_cooccurrences_to_glove(self, encoded: "EncodedCorpus", fd: int, name: str, *,
                                     window: int, symmetric: bool, distance_weighting: bool,
                                     workers: int, memory_bytes: int,
                                     temp_dir: Optional[StrPath], max_product: int,
                                     progress: Any) -> CooccurrenceCount:
        """The matrix written from the start of the open file `fd` as glove.c's
        records (`name` in errors), never held in memory; the count's arrays
        are empty and stats["nnz"] is the number of records."""
        self.check_counts_to_glove()
        raise NotImplementedError

    def check_counts_to_glove(self) -> None:
        """ValueError where count_cooccurrences_to_glove does not run (asked
        before the corpus is encoded)."""
        if not self.counts_to_file:
            raise ValueError(f"counting straight to glove.c's file runs on the CPU, not "
                             f"{self.device!r}: count with cooccurrence(..., device=...), then "
                             "save_glove_binary(path)")

    @property
    def partition_count_device(self) -> str:
        """Where a trainer on this device counts a distributed co-occurrence
        matrix (count_cooccurrence_partition): here, unless this device
        cannot; the partition then comes here to be trained."""
        return self.device

    def count_cooccurrence_partition(self, encoded: "EncodedCorpus", group: "Group", *,
                                     window: int, symmetric: bool, distance_weighting: bool,
                                     workers: int, memory_bytes: int, temp_dir: Optional[StrPath],
                                     max_product: int, archive_config: Dict[str, Any],
                                     progress: Any) -> CooccurrenceCount:
        """This rank's partition (rows r % world_size == rank) of the matrix of
        the whole corpus spread over `group` (a distributed.Group), equal bit
        for bit to those rows of the single-process count, counted and
        merged within `memory_bytes`; a partition that might not fit is
        on disk (an unnamed archive headed by `archive_config`), as
        count_cooccurrences leaves a result past the budget."""
        raise ValueError(f"distributed co-occurrence counting is not available on {self.device!r}")

    def upload_matrix(self, rows: Any, cols: Any, values: Any) -> Tuple[Any, Any, Any]:
        """(rows, cols, values) on this device (Cooccurrence.to_device)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- GloVe
    def check_glove(self, out_of_core: Optional[bool], bias_learning_rate: float) -> None:
        """ValueError for GloVe options this device cannot honour."""

    def check_glove_fits(self, memory_bytes: int, vocab_size: int, vector_size: int,
                         out_of_core: Optional[bool]) -> None:
        """ValueError when a GloVe model of `vocab_size` words cannot train
        within `memory_bytes` whatever the matrix (glove_pairs would refuse
        it): checked before counting. Devices that budget otherwise check
        nothing here."""

    def init_glove(self, vocab_size: int, dim: int, seed: int) -> Tuple[Any, Any, Any]:
        """``(weights, gradsq, storage)``: the model [2V, d+1] twice,
        initialised as glove.c does (the same numbers on every backend), and
        zeroed output rows [V + SPARE_ROWS, d]."""
        raise NotImplementedError

    def glove_pairs(self, matrix: "Cooccurrence", *, x_max: float, alpha: float, memory_bytes: int,
                    vector_size: int, out_of_core: Optional[bool], seed: int, workers: int,
                    temp_dir: Optional[StrPath], strata: int = 1) -> Any:
        """The training pairs of `matrix` (a Cooccurrence): an object with
        ``train_epoch(weights, gradsq, params, *, progress, part=0, parts=1)
        -> dict`` (cost, pairs, skipped, stopped), where ``params`` is a
        ``_core.GloveParams`` whose ``epoch`` picks the pair order and
        part/parts a slice of that order (``sliceable`` says whether parts > 1
        works), and ``close()``. `strata` > 1 asks for the pairs grouped by
        context word c into strata c % strata: the object's ``strata`` says
        how many it has (1 where it cannot group them), and then
        ``train_epoch(..., stratum=s)`` trains stratum s only (its
        ``stratum_sizes`` pairs)."""
        raise NotImplementedError
