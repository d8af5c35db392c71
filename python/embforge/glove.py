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
import sys
import time
from typing import Optional

import numpy as np

from . import _native
from ._checks import check_number
from .cooccurrence import Cooccurrence, cooccurrence, parse_memory
from .formats import SPARE_ROWS, read_archive, write_archive
from .glove_blocks import PairBlocks, plan as plan_training
from .keyedvectors import KeyedVectors
from .progress import make_bar, run_polled
from .vocab import Vocabulary

__all__ = ["GloVe", "add_glove_train_arguments", "cli_train_glove"]

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

    Memory: `memory` bounds counting and training. Training holds the model
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

    `device="cuda"` (or "cuda:N") counts and trains on the GPU (cuda_glove):
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
    """

    def __init__(self, vector_size: int = 100, x_max: float = 100.0, alpha: float = 0.75,
                 learning_rate: float = 0.05, epochs: int = 25, window: int = 15,
                 symmetric: bool = True, distance_weighting: bool = True, min_count: int = 5,
                 max_vocab_size: Optional[int] = None, workers: Optional[int] = None, seed: int = 1,
                 memory="1GB", temp_dir=None, grad_clip: float = 100.0, output_vectors: str = "sum",
                 reshuffle: bool = True, device: str = "cpu", progress: Optional[bool] = None,
                 bias_learning_rate: float = 1.0, out_of_core: Optional[bool] = None):
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
        self.workers = ((os.cpu_count() or 1) if workers is None
                        else check_number("workers", workers, 1, 1024, integer=True))
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
        self.device = _native.resolve_device(device)
        if self.device != "cpu":  # [CUDA] what the GPU path does not do (see the class docstring)
            if self.out_of_core:
                raise ValueError(f"out_of_core=True: out-of-core training is CPU-only; on "
                                 f"{self.device!r} the pairs and the model are in device memory "
                                 "(use out_of_core=None, or device='cpu')")
            if self.bias_learning_rate != 1.0:
                raise ValueError(f"bias_learning_rate={self.bias_learning_rate!r}: the CUDA kernel "
                                 "uses glove.c's bias step (bias_learning_rate=1); use 1.0, or "
                                 "device='cpu'")
        self.progress = progress

        self.vocab: Optional[Vocabulary] = None
        self.cooccurrence: Optional[Cooccurrence] = None
        self.weights: Optional[np.ndarray] = None   # [2V, d+1]: main rows, then context rows; bias last
        self.gradsq: Optional[np.ndarray] = None
        self.wv: Optional[KeyedVectors] = None
        self.cost_history: list = []                # glove.c's cost of every epoch trained
        self.epochs_trained = 0
        self.interrupted = False
        self.train_seconds = 0.0
        self.pairs_per_second = 0.0
        self._pairs: Optional[np.ndarray] = None
        self._order: Optional[np.ndarray] = None
        self._order_epoch: Optional[int] = None
        self._blocks: Optional[PairBlocks] = None   # the pairs, when training out of core
        self._native_progress = _native.core.Progress()

    # ------------------------------------------------------------ setup
    def count(self, corpus) -> Cooccurrence:
        """Counts `corpus` with this model's counting options, on its device
        (a GPU matrix stays there: keep_on_device=True)."""
        return cooccurrence(corpus, self.vocab, window=self.window, symmetric=self.symmetric,
                            distance_weighting=self.distance_weighting, min_count=self.min_count,
                            max_vocab_size=self.max_vocab_size, workers=self.workers,
                            memory=self.memory, temp_dir=self.temp_dir, progress=self.progress,
                            device=self.device, keep_on_device=True)

    def _use(self, matrix: Cooccurrence) -> None:
        if self.vocab is None:
            self._reset_weights(matrix.vocab)
        elif matrix.vocab != self.vocab:
            raise ValueError("the co-occurrence matrix has another vocabulary than this model")
        if matrix.nnz == 0:
            raise ValueError("the co-occurrence matrix is empty: nothing to train on")
        self.cooccurrence = matrix
        self._release_pairs()
        if self.device != "cpu":  # [CUDA, issue 5] pairs on the device; no order array (see train)
            from . import cuda_glove  # never out of core: that path is CPU-only
            self._pairs = cuda_glove.make_pairs(matrix, self.x_max, self.alpha, self.device)
            return
        matrix = matrix.to_host()  # a matrix counted on the GPU trains here from a host copy
        layout = plan_training(parse_memory(self.memory), matrix.nnz, len(matrix.vocab),
                               self.vector_size, matrix.on_disk, self.out_of_core)
        if layout.out_of_core:
            self._blocks = PairBlocks(matrix, layout.blocks, layout.chunk_entries, self.x_max,
                                      self.alpha, self.seed, self.workers, self.temp_dir)
            logger.info("GloVe: %d pairs out of core, in %d blocks of up to %d pairs", matrix.nnz,
                        layout.blocks, self._blocks.native.largest_block)
            return
        self._pairs = _native.core.make_glove_pairs(matrix.rows, matrix.cols, matrix.values,
                                                    len(matrix.vocab), self.x_max, self.alpha,
                                                    self.workers)
        self._order = np.empty(matrix.nnz, dtype=np.uint32)
        self._order_epoch = None  # epoch whose permutation _order holds

    def _release_pairs(self) -> None:
        """Drops the training pairs of the previous matrix (and its pair file)."""
        if self._blocks is not None:
            self._blocks.close()
        self._blocks = self._pairs = self._order = self._order_epoch = None

    def _reset_weights(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        if self.device != "cpu":  # [CUDA, issue 5] the same initial weights, on the device
            from . import cuda_glove
            self.weights, self.gradsq, storage = cuda_glove.allocate(
                len(vocab), self.vector_size, int(self.seed), self.device, SPARE_ROWS)
            self._cuda_storage = storage
        else:
            rows = 2 * len(vocab)
            self.weights = np.empty((rows, self.vector_size + 1), dtype=np.float32)
            self.gradsq = np.empty_like(self.weights)
            _native.core.init_glove(self.weights, self.gradsq, int(self.seed))
            storage = np.zeros((len(vocab) + SPARE_ROWS, self.vector_size), dtype=np.float32)
        self.wv = KeyedVectors.from_storage(vocab.words, storage, vocab.counts)
        self._update_wv()
        self.cost_history = []
        self.epochs_trained = 0

    def _update_wv(self) -> None:
        n, d = len(self.vocab), self.vector_size
        if self.device != "cpu":  # [CUDA, issue 5] computed on the device, into wv's device rows
            from . import cuda_glove
            cuda_glove.write_vectors(self._cuda_storage[:n], self.weights, n, d, self.output_vectors)
            self.wv._invalidate()
            return
        out = self.wv._storage[:n]
        if self.output_vectors == "main":
            out[...] = self.weights[:n, :d]
        elif self.output_vectors == "context":
            out[...] = self.weights[n:, :d]
        else:
            np.add(self.weights[:n, :d], self.weights[n:, :d], out=out)
        self.wv._invalidate()

    # ------------------------------------------------------------ training
    def fit(self, corpus, epochs: Optional[int] = None) -> "GloVe":
        """Counts `corpus` (unless it is a Cooccurrence) and trains on it."""
        matrix = corpus if isinstance(corpus, Cooccurrence) else self.count(corpus)
        self._use(matrix)
        return self.train(epochs)

    def train(self, epochs: Optional[int] = None) -> "GloVe":
        """Trains `epochs` more passes (default: `self.epochs`) over the
        matrix given to fit(); each pass in a fresh random order."""
        if self._pairs is None and self._blocks is None:
            raise RuntimeError("no co-occurrence matrix: call fit() first")
        epochs = self.epochs if epochs is None else check_number("epochs", epochs, 1, integer=True)
        core = _native.core
        progress = self._native_progress
        progress.clear_stop()
        self.interrupted = False
        nnz = self.cooccurrence.nnz
        bar = make_bar(self.progress, epochs * nnz, "GloVe", "pair")
        started = time.perf_counter()
        done = 0
        try:
            for _ in range(epochs):
                order_epoch = self.epochs_trained if self.reshuffle else 0
                if self._blocks is None and order_epoch != self._order_epoch:
                    if self.device == "cpu":  # [CUDA] the kernel draws its own permutation
                        core.glove_shuffle(self._order, int(self.seed), order_epoch, self.workers)
                    self._order_epoch = order_epoch

                def poll():
                    if bar is not None:
                        bar.update(done + progress.work_done - bar.n)
                        if progress.loss_count:
                            bar.set_postfix(cost=f"{progress.loss_sum / progress.loss_count:.4f}",
                                            refresh=False)

                def epoch():
                    params = core.GloveParams(
                        vector_size=int(self.weights.shape[1]) - 1, learning_rate=self.learning_rate,
                        grad_clip=self.grad_clip, bias_learning_rate=self.bias_learning_rate,
                        seed=int(self.seed), epoch=int(order_epoch), workers=self.workers)
                    if self._blocks is not None:
                        return self._blocks.train_epoch(self.weights, self.gradsq, params,
                                                        progress=progress)
                    return core.train_glove_epoch(self._pairs, self._order, self.weights,
                                                  self.gradsq, params, progress=progress)

                call = epoch
                if self.device != "cpu":  # [CUDA, issue 5] same result dict, order of (seed, epoch)
                    from . import cuda_glove
                    call = cuda_glove.epoch_call(
                        self._pairs, self.weights, self.gradsq, learning_rate=self.learning_rate,
                        grad_clip=self.grad_clip, seed=self.seed, order_epoch=self._order_epoch,
                        progress=progress, device=self.device)
                stats, interrupted = run_polled(call, progress, poll)
                done += stats["pairs"]
                if stats["skipped"]:
                    logger.warning("epoch %d: %d pairs skipped (NaN or infinite diff)",
                                   self.epochs_trained + 1, stats["skipped"])
                if interrupted or stats["stopped"]:
                    self.interrupted = True
                    logger.warning("training stopped during epoch %d; the vectors are usable",
                                   self.epochs_trained + 1)
                    break
                self.cost_history.append(stats["cost"] / nnz)
                self.epochs_trained += 1
                logger.info("epoch %d: cost %.6f", self.epochs_trained, self.cost_history[-1])
        finally:
            if bar is not None:
                bar.close()
            self.train_seconds = time.perf_counter() - started
            self.pairs_per_second = done / max(self.train_seconds, 1e-9)
            self._update_wv()
        return self

    def stop(self) -> None:
        """Ends a running train() at the next block of pairs (from another thread)."""
        self._native_progress.request_stop()

    # ------------------------------------------------------------ persistence
    def _config(self) -> dict:
        names = ("vector_size", "x_max", "alpha", "learning_rate", "epochs", "window", "symmetric",
                 "distance_weighting", "min_count", "max_vocab_size", "workers", "seed", "grad_clip",
                 "output_vectors", "reshuffle", "epochs_trained", "bias_learning_rate")
        config = {name: getattr(self, name) for name in names}
        config["memory"] = parse_memory(self.memory)
        config.update(format=MODEL_MAGIC, version=MODEL_VERSION,
                      cost_history=[float(c) for c in self.cost_history])
        return config

    def save(self, path) -> None:
        """Saves the trainable model (weights, squared-gradient sums, vocabulary,
        settings) as one .npz of plain arrays, atomically, loadable without
        pickle. The co-occurrence matrix is not included (Cooccurrence.save)."""
        if self.weights is None:
            raise ValueError("nothing to save: the model has not been fitted")
        weights, gradsq = self.weights, self.gradsq
        if self.device != "cpu":  # [CUDA, issue 5] host copies of the device state
            from . import cuda_glove
            weights, gradsq = cuda_glove.host(weights), cuda_glove.host(gradsq)
        write_archive(path, self._config(), self.vocab.words, counts=self.vocab.counts,
                      weights=weights, gradsq=gradsq)

    @classmethod
    def load(cls, path, device: str = "cpu") -> "GloVe":
        """Loads a model written by save(); validates every array. Call fit()
        with a Cooccurrence of the same vocabulary to train further."""
        config, words, arrays = read_archive(path, "GloVe model", ("counts", "weights", "gradsq"),
                                             MODEL_MAGIC, MODEL_VERSION)
        counts, weights, gradsq = arrays["counts"], arrays["weights"], arrays["gradsq"]
        try:
            trained = int(config.pop("epochs_trained"))
            history = [float(c) for c in config.pop("cost_history")]
            kwargs = {k: config[k] for k in ("vector_size", "x_max", "alpha", "learning_rate",
                                             "epochs", "window", "symmetric", "distance_weighting",
                                             "min_count", "max_vocab_size", "workers", "seed",
                                             "memory", "grad_clip", "output_vectors",
                                             "reshuffle")}
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
            if not np.isfinite(array).all():
                raise ValueError(f"{path}: {name} holds NaN or infinite values")
        if (gradsq < 1.0).any():
            raise ValueError(f"{path}: gradsq holds values below 1 (AdaGrad sums start at 1)")
        model._reset_weights(vocab)
        if model.device != "cpu":  # [CUDA, issue 5] write the device buffers
            from . import cuda_glove
            cuda_glove.copy_in(model.weights, weights, model.device)
            cuda_glove.copy_in(model.gradsq, gradsq, model.device)
        else:
            model.weights[...] = weights
            model.gradsq[...] = gradsq
        model._update_wv()
        model.epochs_trained = trained
        model.cost_history = history
        return model

    def __repr__(self) -> str:
        size = len(self.vocab) if self.vocab is not None else 0
        return (f"GloVe(vocab={size}, vector_size={self.vector_size}, "
                f"epochs_trained={self.epochs_trained})")


# ------------------------------------------------------------------ CLI
def add_glove_train_arguments(group) -> None:
    """GloVe options of `embforge train --model glove` (an argparse group)."""
    group.add_argument("--x-max", type=float, default=100.0,
                       help="GloVe: weighting cutoff x_max (default 100)")
    group.add_argument("--weight-power", type=float, default=0.75,
                       help="GloVe: exponent of the weighting f(x) (glove.c -alpha; default 0.75)")
    group.add_argument("--eta", type=float, default=None,
                       help="GloVe: learning rate (glove.c -eta; default 0.05; --alpha also works)")
    group.add_argument("--grad-clip", type=float, default=100.0,
                       help="GloVe: gradient clipping (default 100)")
    group.add_argument("--memory", default="1GB",
                       help="GloVe: memory budget for counting and training, e.g. 4GB (default "
                            "1GB); past it, CPU training goes out of core (on a GPU: the counting "
                            "workspace)")
    group.add_argument("--temp-dir", default=None,
                       help="GloVe: where counting spills runs and training keeps its pair file")
    group.add_argument("--asymmetric", action="store_true", help="GloVe: count left contexts only")
    group.add_argument("--no-distance-weighting", action="store_true",
                       help="GloVe: count 1 per pair, not 1/distance")
    group.add_argument("--vectors", choices=OUTPUTS, default="sum",
                       help="GloVe: write main+context (sum, glove.c -model 2), main or context")
    group.add_argument("--cooccurrence", default=None,
                       help="GloVe: train on this saved matrix (Cooccurrence.save) instead of "
                            "counting the corpus")
    group.add_argument("--save-cooccurrence", default=None,
                       help="GloVe: also save the counted matrix (.bin: GloVe binary)")


def cli_train_glove(args) -> int:
    """`embforge train --model glove`: count, train, write vectors."""
    from .cli import save_vectors
    eta = args.eta if getattr(args, "eta", None) is not None else (getattr(args, "alpha", None) or 0.05)
    model = GloVe(vector_size=args.size, window=args.window or 15, epochs=args.epochs or 25,
                  min_count=args.min_count, workers=args.threads, seed=args.seed,
                  x_max=args.x_max, alpha=args.weight_power, learning_rate=eta,
                  grad_clip=args.grad_clip, memory=args.memory, temp_dir=args.temp_dir,
                  symmetric=not args.asymmetric, distance_weighting=not args.no_distance_weighting,
                  output_vectors=args.vectors, device=args.device,
                  progress=False if args.quiet else None)
    if args.cooccurrence:
        matrix = Cooccurrence.load(args.cooccurrence, mmap=True)  # CPU: trained out of core
    else:
        matrix = model.count(args.corpus[0] if len(args.corpus) == 1 else list(args.corpus))
    if args.save_cooccurrence:
        if args.save_cooccurrence.endswith(".bin"):
            matrix.save_glove_binary(args.save_cooccurrence)
        else:
            matrix.save(args.save_cooccurrence)
    model.fit(matrix)
    save_vectors(model.wv, args.output)
    if getattr(args, "save_model", None):
        model.save(args.save_model)
    state = "stopped early (Ctrl-C); vectors saved so far" if model.interrupted else "done"
    cost = f", cost {model.cost_history[-1]:.4f}" if model.cost_history else ""
    print(f"{state}: {len(model.wv)} words x {model.vector_size}, {matrix.nnz} pairs, "
          f"{model.pairs_per_second / 1e6:.2f}M pair-updates/s{cost} -> {args.output}",
          file=sys.stderr)
    return 130 if model.interrupted else 0
