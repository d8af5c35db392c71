"""GloVe: global vectors from a co-occurrence matrix, trained with AdaGrad.

    model = GloVe(vector_size=100, window=10, epochs=25).fit("corpus.txt.gz")
    model.wv.most_similar("king");  model.cost_history

``fit`` takes a corpus (counted first with :func:`embforge.cooccurrence`) or a
:class:`Cooccurrence`. Training follows Stanford's glove.c (the formulas are in
csrc/include/embforge/glove_math.h): main and context vectors plus biases,
initialised uniform in [-0.5, 0.5)/d, AdaGrad with squared-gradient sums
starting at 1, gradients clipped to +-grad_clip before the learning rate,
bias steps without the learning rate (as glove.c since 2020; set
`bias_learning_rate=learning_rate` for older glove.c), Hogwild threads. Differences:
float32 instead of double, and a fresh random pair order every epoch (glove.c
shuffles its file once). The cost of an epoch is glove.c's: the summed
0.5 f(x) (w.c + b + b~ - log x)^2 divided by the number of pairs.
"""
from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

from ._typing import Array, Corpus, Memory, StrPath
from . import _native
from ._checks import check_number
from ._workers import resolve_workers
from .callbacks import call_callbacks
from .backends import get_backend
from .backends.arrays import all_finite
from .cooccurrence import Cooccurrence, cooccurrence, parse_memory
from .distributed.consistency import run_together
from .distributed.group import resolve_group
from .distributed.replicas import replicas_for
from .io.archive import read_archive, write_archive
from .keyedvectors import KeyedVectors
from .history import TrainingHistory
from .progress import make_bar, run_polled
from .training.interrupt import ctrl_c_stops
from .training_guard import TrainingGuard
from .vocab import Vocabulary


if TYPE_CHECKING:
    from .corpus import EncodedCorpus
    from matplotlib.figure import Figure

__all__ = ["GloVe"]

logger = logging.getLogger(__name__)

MODEL_MAGIC = "embforge.GloVe"
MODEL_VERSION = 1
OUTPUTS = ("sum", "main", "context")  # glove.c -model 2, and either half


class GloVe:
    """GloVe trainer (Pennington et al. 2014) with glove.c's defaults.

    Counting options (used when `fit` gets a corpus): `window`, `symmetric`,
    `distance_weighting`, `min_count`, `max_vocab_size`, `memory`, `temp_dir`.
    Training: `vector_size`, `x_max`, `alpha` (the weighting exponent),
    `learning_rate` (glove.c's eta), `epochs`, `grad_clip`, `workers` (None:
    all cores), `seed`, `bias_learning_rate` (the biases' step is
    bias_learning_rate * f(x) * diff, AdaGrad-scaled; glove.c: 1, no eta).
    `output_vectors`: "sum" (main + context, glove.c's
    -model 2), "main" or "context" for ``wv``. `reshuffle=False` keeps the
    first epoch's pair order for every epoch (glove.c's protocol: it shuffles
    its co-occurrence file once).

    Memory: `memory` bounds counting and training. Counting a corpus holds
    its encoded stream in RAM up to 1/16 of it (memory-mapped from a deleted
    temporary file past that) and counts within the other 15/16 (cooccurrence()).
    Training holds the model
    (weights and gradsq, 2 x 2V x (d+1) float32) and the matrix's pairs as
    16-byte records (row, col, log x, f(x), computed once) plus a 4-byte order
    per pair (at most 2^32 - 1 pairs). When those do not fit `memory`, or the
    Cooccurrence is on disk, training is out of core (`out_of_core=None`
    decides; True/False forces it): the records go to an unnamed temporary
    file under `temp_dir` in random blocks that fit the budget, and each epoch
    trains the blocks in a fresh random order, each block's pairs shuffled in
    memory (glove_blocks.py). The file goes when the model is freed or fit()
    gets another matrix. The budget must hold the model plus a block of 4096
    pairs (the error says how much that is).

    `device="cuda"` (or "cuda:N") counts and trains on the GPU (backends/cuda.py):
    ``weights``, ``gradsq`` and the storage of ``wv`` are device arrays (torch,
    else CuPy), so ``wv.to_torch()`` shares them; `workers` does not apply, and
    the pair order of an epoch is a permutation of (seed, epoch) drawn on the
    device (another order than the CPU's, so the same seed gives vectors of
    the same quality, not the same vectors). The update rule is the CPU's
    (glove_math.h), with glove.c's bias step: the CUDA kernel takes no
    `bias_learning_rate`, so another value than 1 raises ValueError there.
    Out-of-core training is CPU-only: on a GPU `memory` bounds counting only
    (the device workspace), the pairs and the model live in device memory
    whatever their size (an on-disk Cooccurrence is uploaded whole), and
    `out_of_core=True` raises ValueError (None and False train in memory).

    `callbacks`: gensim-style hooks (on_train_begin, on_epoch_begin,
    on_epoch_end, on_train_end, each given the model; a plain callable is
    on_epoch_end), as Word2Vec's; ``wv`` is brought up to date before
    on_epoch_end.

    Across processes (`distributed=True` or `process_group=`; gloo on the
    CPU, NCCL with one GPU a rank): each of W ranks trains the pairs of the
    rows it owns (row % W), counted on the CPU (the exact merge of the ranks'
    counts needs its fixed-point sums; a GPU model's pairs go to the GPU
    after). With `stratify`
    (the default) it trains them in W strata an epoch, the pairs of context
    word c with c % W == (rank + k) % W in the k-th, and passes each
    stratum's context rows on to the rank that trains them next: no two
    ranks change the same row between syncs, so the model gets the updates
    of one process (in another order of the pairs) and each row is taken
    from the rank that holds it at the end of train() (and of each epoch
    when callbacks read the model). `stratify=False` adds
    up the ranks' changes to the context rows every `sync_interval` pairs
    instead, which lags one process's cost curve and can diverge past 2
    ranks. `sync_dtype`: the type those changes are summed in ("float16":
    half their bytes); rows taken from their holder go as they are.
    """

    def __init__(self, vector_size: int = 100, x_max: float = 100.0, alpha: float = 0.75,
                 learning_rate: float = 0.05, epochs: int = 25, window: int = 15,
                 symmetric: bool = True, distance_weighting: bool = True, min_count: int = 5,
                 max_vocab_size: Optional[int] = None, workers: Optional[int] = None,
                 seed: int = 1, memory: Memory = "1GB", temp_dir: Optional[StrPath] = None,
                 grad_clip: float = 100.0, output_vectors: str = "sum", reshuffle: bool = True,
                 device: str = "cpu", progress: Optional[bool] = None,
                 bias_learning_rate: float = 1.0, out_of_core: Optional[bool] = None,
                 callbacks: Sequence[Any] = (), distributed: bool = False,
                 process_group: Any = None, sync_interval: int = 20_000_000,
                 sync_dtype: str = "float32", stratify: bool = True) -> None:
        self.vector_size = check_number("vector_size", vector_size, 1, 1 << 16, integer=True)
        self.x_max = float(check_number("x_max", x_max, 0.0, low_open=True))
        self.alpha = float(check_number("alpha", alpha, 0.0, 10.0))
        self.learning_rate = float(check_number("learning_rate", learning_rate, 0.0, 100.0, low_open=True))
        self.epochs = check_number("epochs", epochs, 1, integer=True)
        self.window = check_number("window", window, 1, 1 << 20, integer=True)
        self.symmetric = bool(symmetric)
        self.distance_weighting = bool(distance_weighting)
        self.min_count = check_number("min_count", min_count, 0, integer=True)
        self.max_vocab_size = (None if max_vocab_size is None
                               else check_number("max_vocab_size", max_vocab_size, 1, integer=True))
        self.workers = resolve_workers(workers)
        self.seed = check_number("seed", seed, 0, 2**64 - 1, integer=True)
        self.memory = memory
        parse_memory(memory)
        self.temp_dir = temp_dir
        self.grad_clip = float(check_number("grad_clip", grad_clip, 0.0, low_open=True))
        self.bias_learning_rate = float(check_number("bias_learning_rate", bias_learning_rate, 0.0,
                                                     100.0, low_open=True))
        if output_vectors not in OUTPUTS:
            raise ValueError(f"output_vectors must be one of {OUTPUTS}, got {output_vectors!r}")
        self.output_vectors = output_vectors
        self.reshuffle = bool(reshuffle)
        self.out_of_core = None if out_of_core is None else bool(out_of_core)
        self._backend = get_backend(device)
        self.device = self._backend.device
        self._backend.check_glove(self.out_of_core, self.bias_learning_rate)
        # Across processes (torch.distributed): each rank counts its share,
        # owns a partition of the matrix's rows and trains their pairs. The
        # main rows, which only their owner trains, are gathered from it
        # where the whole model is read (after train()'s last epoch; after
        # each when a callback reads it); so are the context rows with
        # strata (`stratify`: each stratum's rows pass from rank to rank).
        # Without strata the ranks' changes to the context rows and their
        # AdaGrad sums are added up every `sync_interval` pairs
        # (distributed/replicas.py, combine="sum": squared gradients add).
        # See _epoch_steps.
        self.sync_interval = check_number("sync_interval", sync_interval, 1, integer=True)
        self._group = resolve_group(distributed, process_group)
        # "float16": the summed changes (the context rows without strata)
        # travel as float16, half their bytes (as Word2Vec's sync_dtype);
        # rows gathered from their holder go as they are, exact. Measured
        # when every sync summed changes: kdocs, 2 ranks, 10 epochs, syncs every
        # 500k or 20M pairs: every epoch's cost the same as float32's to
        # within 1e-5. The AdaGrad sums' changes stay far inside float16's
        # range (the largest sum after a first epoch on kdocs: 2,938).
        self._replicas = replicas_for(self._group, "sum", sync_dtype)
        self.sync_dtype = sync_dtype
        # Across W ranks, each trains one stratum of the context words at a
        # time, W an epoch, so that no two change the same row between syncs:
        # the updates of one process (_epoch_steps). Without strata every
        # rank changes every context row between syncs, and the summed steps
        # overshoot: on kdocs (10 epochs, one sync an epoch) the cost ended
        # 4.8% above one process's on 2 ranks, and diverged on 4 and 8;
        # stratified, within 0.2% on 2, 4 and 8 (bench/RESULTS.md).
        self.stratify = bool(stratify)
        self.progress = progress
        self.callbacks = tuple(callbacks)

        self.vocab: Optional[Vocabulary] = None
        self.cooccurrence: Optional[Cooccurrence] = None
        # [2V, d+1] on the backend's device: main rows, then context rows; bias last
        self.weights: Array = None
        self.gradsq: Array = None
        self.wv: Optional[KeyedVectors] = None
        self.cost_history: List[float] = []                # glove.c's cost of every epoch trained
        self.history = TrainingHistory()            # epoch rows and points within epochs
        self.epochs_trained = 0
        self.interrupted = False
        self._guard = TrainingGuard("GloVe model")
        self.train_seconds = 0.0
        self.pairs_per_second = 0.0
        self._storage: Array = None  # the backend's array under wv: output vectors, then spare rows
        # the backend's training pairs of `cooccurrence` (Backend.glove_pairs)
        self._pairs: Any = None
        self._native_progress = _native.core.Progress()

    # ------------------------------------------------------------ setup
    def count(self, corpus: Union[Corpus, EncodedCorpus]) -> Cooccurrence:
        """Counts `corpus` with this model's counting options, on its device
        (a GPU matrix stays there: keep_on_device=True); across ranks where
        the backend counts partitions (on the CPU for a GPU model: the
        training pairs go to the GPU after)."""
        across = self._replicas.world_size > 1
        return cooccurrence(corpus, self.vocab, window=self.window, symmetric=self.symmetric,
                            distance_weighting=self.distance_weighting, min_count=self.min_count,
                            max_vocab_size=self.max_vocab_size, workers=self.workers,
                            memory=self.memory, temp_dir=self.temp_dir, progress=self.progress,
                            device=self._backend.partition_count_device if across else self.device,
                            keep_on_device=True, process_group=self._group,
                            on_vocab=self._check_fits)

    def _check_fits(self, vocab: Vocabulary) -> None:
        """Refuses, before counting, a model of `vocab` that cannot train
        within `memory` whatever the matrix (the backend's rule)."""
        self._backend.check_glove_fits(parse_memory(self.memory), len(vocab), self.vector_size,
                                       self.out_of_core)

    def _settings(self) -> Dict[str, Any]:
        """What every rank of a distributed run must agree on (thread counts may differ)."""
        names = ("vector_size", "x_max", "alpha", "learning_rate", "epochs", "window", "symmetric",
                 "distance_weighting", "min_count", "max_vocab_size", "seed", "grad_clip",
                 "output_vectors", "reshuffle", "bias_learning_rate", "sync_interval",
                 "sync_dtype", "stratify")
        return {name: getattr(self, name) for name in names}

    def _use(self, matrix: Cooccurrence) -> None:
        self._replicas.check_same("GloVe settings", self._settings())
        if self._replicas.world_size > 1 and matrix.partition is None:
            matrix = matrix.own_rows(self._group)  # a whole matrix: train this rank's rows

        def check() -> None:
            if self.vocab is not None and matrix.vocab != self.vocab:
                raise ValueError("the co-occurrence matrix has another vocabulary than this model")
            if matrix.nnz == 0:
                raise ValueError("the co-occurrence matrix is empty: nothing to train on")

        def pairs() -> Any:
            return self._backend.glove_pairs(
                matrix, x_max=self.x_max, alpha=self.alpha, memory_bytes=parse_memory(self.memory),
                vector_size=self.vector_size, out_of_core=self.out_of_core, seed=int(self.seed),
                workers=self.workers, temp_dir=self.temp_dir,
                strata=self._replicas.world_size if self.stratify else 1)
        # Across ranks, a rank whose matrix is refused (a partition may be
        # empty), whose plan does not fit its own memory or whose pair file
        # cannot be written stops every rank with its reason, none left
        # waiting to train.
        together = self._group if self._replicas.world_size > 1 else None
        run_together(together, "checking its co-occurrence matrix", check)
        self._release_pairs()
        self._pairs = run_together(together, "building its training pairs", pairs,
                                   discard=lambda built: built.close())
        if self.vocab is None:
            self._reset_weights(matrix.vocab)
        self.cooccurrence = matrix

    def _release_pairs(self) -> None:
        """Drops the training pairs of the previous matrix (and its pair file)."""
        if self._pairs is not None:
            self._pairs.close()
        self._pairs = None

    def _reset_weights(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.weights, self.gradsq, self._storage = self._backend.init_glove(
            len(vocab), self.vector_size, int(self.seed))
        self.wv = KeyedVectors.from_storage(vocab.words, self._storage, vocab.counts)
        self._update_wv()
        self.cost_history = []
        self.history = TrainingHistory()
        self.epochs_trained = 0

    def _update_wv(self) -> None:
        # In place, where the weights live (numpy, torch and CuPy all take
        # these slice assignments), so the GPU's vectors never visit the host.
        n, d = len(cast("Vocabulary", self.vocab)), self.vector_size  # set with the weights
        out = self._storage[:n]
        if self.output_vectors == "context":
            out[...] = self.weights[n:, :d]
        else:
            out[...] = self.weights[:n, :d]
            if self.output_vectors == "sum":
                out += self.weights[n:, :d]
        cast("KeyedVectors", self.wv)._invalidate()

    # ------------------------------------------------------------ training
    def fit(self, corpus: Union[Corpus, EncodedCorpus, Cooccurrence], epochs: Optional[int] = None
            ) -> "GloVe":
        """Counts `corpus` (unless it is a Cooccurrence) and trains on it."""
        matrix = corpus if isinstance(corpus, Cooccurrence) else self.count(corpus)
        self._use(matrix)
        return self.train(epochs)

    def train(self, epochs: Optional[int] = None, callbacks: Optional[Sequence[Any]] = None
              ) -> "GloVe":
        """Trains `epochs` more passes (default: `self.epochs`) over the
        matrix given to fit(); each pass in a fresh random order. `callbacks`
        (default: the model's) replace the model's for this call."""
        if self._pairs is None:
            raise RuntimeError("no co-occurrence matrix: call fit() first")
        epochs = self.epochs if epochs is None else check_number("epochs", epochs, 1, integer=True)
        callbacks = self.callbacks if callbacks is None else tuple(callbacks)
        with self._guard.training():
            self._run(epochs, callbacks)
        return self

    def _run(self, epochs: int, callbacks: Sequence[Any]) -> None:
        progress = self._native_progress
        progress.clear_stop()
        self.interrupted = False
        replicas = self._replicas
        local = cast("Cooccurrence", self.cooccurrence).nnz  # _use() set it
        nnz = int(replicas.total(local))  # the cost is per pair of the whole matrix
        steps = self._epoch_steps(replicas, local)
        # the bar counts the whole job's pairs: rank 0's, scaled by the job's over its own
        to_job = nnz / max(1, local)
        bar = make_bar(self.progress if replicas.is_leader else False, epochs * nnz, "GloVe", "pair")
        started = time.perf_counter()
        done = 0

        first_epoch = self.epochs_trained
        self.history.start_call()

        def poll() -> None:
            now = done + progress.work_done
            self.history.sample(first_epoch + now / max(1, local), now, progress,
                                learning_rate=False, started=started)
            if bar is not None:
                bar.update(now * to_job - bar.n)
                if progress.loss_count:
                    bar.set_postfix(cost=f"{progress.loss_sum / progress.loss_count:.4f}",
                                    refresh=False)

        # main rows, context rows, and their sums (see _epoch_steps). A
        # main row has one holder, its owner (row % W == rank); with strata
        # a context row too, the rank training its stratum, which begins
        # each epoch with stratum `rank`: such rows are gathered from their
        # holder, and no copy of them is kept (replicas.py). Without strata
        # every rank changes the context rows, and the syncs within an
        # epoch add up their changes.
        n = len(cast("Vocabulary", self.vocab))
        halves = (self.weights[:n], self.weights[n:], self.gradsq[:n], self.gradsq[n:])
        context = (1, 3)
        stratified = steps[0][0] is not None
        held = replicas.rank if stratified else None
        replicas.start(halves, held=(replicas.rank, held, replicas.rank, held))
        # The model is gathered whole (every row from its holder) only where
        # something reads it: after this call's last epoch, and after every
        # epoch when a callback (a checkpoint) looks at it on some rank.
        # Otherwise an epoch ends as its other steps do, its stratum's
        # context rows passed on, so that each rank holds its own stratum
        # again for the next: 2 V rows a rank puts on the wire an epoch,
        # where a gather every epoch would add 4 V (W - 1) / W. No rank reads
        # another's main rows, so they stay with their owner until the end.
        whole_each_epoch = not replicas.everyone(not callbacks)
        call_callbacks(callbacks, "on_train_begin", self)
        # Ctrl-C asks the native call in progress to stop and the loop to
        # end after it, wherever it lands (training/interrupt.py)
        with ctrl_c_stops(progress.request_stop):
            try:
                for epoch in range(epochs):
                    whole = whole_each_epoch or epoch == epochs - 1
                    call_callbacks(callbacks, "on_epoch_begin", self)
                    # the epoch of the params picks the pair order: the epochs
                    # trained so far, or always 0 without reshuffling
                    order_epoch = self.epochs_trained if self.reshuffle else 0
                    params = _native.core.GloveParams(
                        vector_size=int(self.vector_size), learning_rate=self.learning_rate,
                        grad_clip=self.grad_clip, bias_learning_rate=self.bias_learning_rate,
                        seed=int(self.seed), epoch=int(order_epoch), workers=int(self.workers))
                    cost, skipped, stopped = 0.0, 0, False
                    epoch_started, epoch_pairs = time.perf_counter(), done
                    for step, (stratum, part, parts, combines, passes) in enumerate(steps):

                        def piece(stratum: Optional[int] = stratum, part: int = part,
                                  parts: int = parts) -> Dict[str, Any]:
                            where = {} if stratum is None else {"stratum": stratum}
                            result: Dict[str, Any] = self._pairs.train_epoch(
                                self.weights, self.gradsq, params, progress=progress, part=part,
                                parts=parts, **where)
                            return result

                        stats, interrupted = run_polled(self._backend.on_caller_stream(piece), progress,
                                                        poll)
                        done += stats["pairs"]
                        cost += stats["cost"]
                        skipped += stats["skipped"]
                        last = step == len(steps) - 1
                        stopped = replicas.sync(halves, interrupted or stats["stopped"],
                                                only=None if last and whole else combines)
                        if stopped:
                            break
                        if stratum is not None and (passes or (last and not whole)):
                            # on to the rank that trains it next
                            strata = replicas.world_size
                            replicas.rotate(context, slice(stratum, None, strata),
                                            slice((stratum + 1) % strata, None, strata))
                    if skipped:
                        logger.warning("epoch %d: %d pairs skipped (NaN or infinite diff)",
                                       self.epochs_trained + 1, skipped)
                    if stopped:
                        self.interrupted = True
                        logger.warning("training stopped during epoch %d; the vectors are usable",
                                       self.epochs_trained + 1)
                        break
                    self.cost_history.append(replicas.total(cost) / nnz)
                    self.epochs_trained += 1
                    seconds = time.perf_counter() - epoch_started
                    self.history.add_epoch(epoch=self.epochs_trained, cost=self.cost_history[-1],
                                           pairs_per_second=(done - epoch_pairs) / max(seconds, 1e-9),
                                           seconds=seconds, complete=True)
                    logger.info("epoch %d: cost %.6f", self.epochs_trained, self.cost_history[-1])
                    if callbacks:
                        self._update_wv()
                        call_callbacks(callbacks, "on_epoch_end", self)
            finally:
                if bar is not None:
                    bar.close()
                self.train_seconds = time.perf_counter() - started
                self.pairs_per_second = done / max(self.train_seconds, 1e-9)
                self._update_wv()
        self.pairs_per_second = replicas.total(self.pairs_per_second)  # the job's speed
        call_callbacks(callbacks, "on_train_end", self)

    def _epoch_steps(self, replicas: Any, local: int
                     ) -> List[Tuple[Optional[int], int, int, Tuple[int, ...], bool]]:
        """An epoch's steps: (stratum or None, part, parts, which of the
        halves of _run the sync after it combines, whether the stratum's
        context rows then pass to the rank that trains them next); where _run
        needs the whole model (after the last epoch; after each one when a
        callback reads it), the epoch's last step combines everything
        whatever it says; otherwise it combines what it says and, in strata,
        passes its stratum on too.

        Each rank trains the pairs of its own rows (row % W == rank), so a
        main row is changed by its owner alone and read by no other rank;
        the syncs within an epoch combine only the context rows (halves 1
        and 3), which every rank changes. Stratified (`stratify`: pairs in
        memory, out of core or on a GPU): W strata an epoch, rank r
        training the pairs of context words c with c % W == (r + k) % W in
        the k-th, so that no two ranks change the same row between syncs;
        after each stratum its context rows go to the rank that trains them
        next (rank r - 1: Replicas.rotate, V / W rows, not an all-reduce of
        all V), and a sync that needs the whole model gathers every row from
        the one rank that holds it. Every update is one a single process
        would make, in another order of the pairs: the weights end bit for bit where those
        of one process training the ranks' pairs in the same order do. A stratum in
        memory longer than `sync_interval` pairs is trained in parts whose
        syncs combine nothing (they pass a stop on; a stop combines
        everything). Otherwise (or when some rank's pairs are not in W
        strata) the epoch goes in parts of about
        `sync_interval` pairs, every rank changing context rows between
        syncs: their AdaGrad sums lag the other ranks' squared gradients,
        and the cost curve lags one process's (bench/RESULTS.md)."""
        context = (1, 3)
        strata = replicas.world_size
        if strata > 1 and replicas.everyone(self._pairs.strata == strata):
            parts = replicas.slices(max(self._pairs.stratum_sizes), self.sync_interval,
                                    self._pairs.sliceable)
            return [((replicas.rank + k) % strata, part, parts, (),
                     part == parts - 1 and k < strata - 1)
                    for k in range(strata) for part in range(parts)]
        if strata > 1 and self.stratify and replicas.is_leader:
            logger.warning(
                "GloVe: training without strata (some rank's pairs are not in %d strata): the "
                "ranks' changes are summed every %d pairs, and the cost "
                "lags one process's (on kdocs, 4 ranks syncing once an epoch diverged); sync more "
                "often (sync_interval)", strata, self.sync_interval)
        slices = replicas.slices(local, self.sync_interval, self._pairs.sliceable)
        return [(None, part, slices, context, False) for part in range(slices)]

    def stop(self) -> None:
        """Ends a running train() at the next block of pairs (from another thread)."""
        self._native_progress.request_stop()

    def plot_history(self, path: Optional[StrPath] = None, **options: Any) -> "Figure":
        """Training curves from ``self.history`` (cost per epoch, pairs/s), kept in the
        model's archive; returns the matplotlib Figure and writes a PNG to
        `path` (see embforge.plots.plot_history; needs matplotlib)."""
        from .plots import plot_history
        return plot_history(self, path, **options)

    # ------------------------------------------------------------ persistence
    def _config(self) -> Dict[str, Any]:
        names = ("vector_size", "x_max", "alpha", "learning_rate", "epochs", "window", "symmetric",
                 "distance_weighting", "min_count", "max_vocab_size", "workers", "seed", "grad_clip",
                 "output_vectors", "reshuffle", "epochs_trained", "bias_learning_rate",
                 "sync_interval", "sync_dtype", "stratify")
        config = {name: getattr(self, name) for name in names}
        config["memory"] = parse_memory(self.memory)
        config.update(format=MODEL_MAGIC, version=MODEL_VERSION,
                      cost_history=[float(c) for c in self.cost_history],
                      history=self.history.to_json())
        return config

    def save(self, path: StrPath) -> None:
        """Saves the trainable model (weights, squared-gradient sums, vocabulary,
        settings) as one .npz of plain arrays, atomically, loadable without
        pickle. The co-occurrence matrix is not included (Cooccurrence.save)."""
        if self.weights is None:
            raise ValueError("nothing to save: the model has not been fitted")
        self._guard.check_idle("save")
        vocab = cast("Vocabulary", self.vocab)  # made with wv
        write_archive(path, self._config(), vocab.words, counts=vocab.counts,
                      weights=self._backend.to_host(self.weights),
                      gradsq=self._backend.to_host(self.gradsq))

    @classmethod
    def load(cls, path: StrPath, device: str = "cpu", **options: Any) -> "GloVe":
        """Loads a model written by save(); validates every array. Call fit()
        with a Cooccurrence of the same vocabulary to train further."""
        config, words, arrays = read_archive(path, "GloVe model", ("counts", "weights", "gradsq"),
                                             MODEL_MAGIC, MODEL_VERSION)
        counts, weights, gradsq = arrays["counts"], arrays["weights"], arrays["gradsq"]
        try:
            trained = int(config.pop("epochs_trained"))
            history = [float(c) for c in config.pop("cost_history")]
            recorded = TrainingHistory.from_json(config.pop("history", None), os.fspath(path))
            kwargs = {k: config[k] for k in ("vector_size", "x_max", "alpha", "learning_rate",
                                             "epochs", "window", "symmetric", "distance_weighting",
                                             "min_count", "max_vocab_size", "workers", "seed",
                                             "memory", "grad_clip", "output_vectors",
                                             "reshuffle")}
            # files written before distributed training have no sync interval
            # and files from before strata trained without them
            kwargs.update(sync_interval=config.get("sync_interval", 20_000_000),
                          sync_dtype=config.get("sync_dtype", "float32"),
                          stratify=config.get("stratify", False), **options)
            model = cls(device=device, bias_learning_rate=config.get("bias_learning_rate", 1.0),
                        **kwargs)
            vocab = Vocabulary(words, counts)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid GloVe model ({error})") from error
        shape = (2 * len(vocab), model.vector_size + 1)
        for name, array in (("weights", weights), ("gradsq", gradsq)):
            if array.shape != shape or array.dtype != np.float32:
                raise ValueError(f"{path}: {name} has shape {array.shape} {array.dtype}, expected "
                                 f"{shape} float32")
            if not all_finite(array):
                raise ValueError(f"{path}: {name} holds NaN or infinite values")
        if (gradsq < 1.0).any():
            raise ValueError(f"{path}: gradsq holds values below 1 (AdaGrad sums start at 1)")
        model._reset_weights(vocab)
        model._backend.copy_into(model.weights, weights)
        model._backend.copy_into(model.gradsq, gradsq)
        model._update_wv()
        model.epochs_trained = trained
        model.cost_history = history
        model.history = recorded
        return model

    def __repr__(self) -> str:
        size = len(self.vocab) if self.vocab is not None else 0
        return (f"GloVe(vocab={size}, vector_size={self.vector_size}, "
                f"epochs_trained={self.epochs_trained})")

