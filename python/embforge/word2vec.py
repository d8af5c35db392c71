"""Word2Vec: skip-gram and CBOW with negative sampling, gensim-compatible API.

    model = Word2Vec(sg=1, vector_size=100, workers=2).fit("corpus.txt.gz")
    model.wv.most_similar("king")

The constructor also accepts gensim's ``sentences=`` / ``corpus_file=`` and then
trains at once, as gensim does; ``build_vocab`` + ``train(..., epochs=)`` keep
gensim's meaning. The model owns the training state (output weights, the
encoded corpus, sampling tables); ``wv`` owns the vocabulary and the vectors.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

from ._typing import Array, Corpus, Memory, StrPath
from . import _native
from ._checks import check_number, parse_memory
from ._workers import resolve_workers
from .callbacks import call_callbacks as _call
from .backends import get_backend
from .backends.arrays import largest_magnitude
from .corpus import EncodedCorpus, encode, stream_memory
from .distributed.group import resolve_group
from .distributed.replicas import rank_seed, replicas_for
from .distributed.sync_schedule import HOT_SYNC_ROWS, SyncPlan
from .keyedvectors import KeyedVectors
from .history import TrainingHistory
from .progress import make_bar, run_polled
from .training.interrupt import ctrl_c_stops
from .training_guard import TrainingGuard
from .vocab import Vocabulary
from .vocab_update import VocabularyUpdates
from .word2vec_files import Word2VecFiles
from .word2vec_queries import Word2VecQueries


if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Word2Vec"]

logger = logging.getLogger(__name__)

MAX_VECTOR_SIZE = 1 << 16
# A weight past this means the run has diverged, even while it is finite.
# Trained weights stay within a few units (bench corpus: largest 2.1, also
# across 4 ranks; toy corpus at alpha 0.2 and 50 epochs: 3.4), and the
# sigmoid is flat past |x| = 6 (kMaxExp), so such a row dots to far past it
# with any trained row and stops learning. Replicas summed too rarely across
# 4 ranks grew to 2.4e6 and stayed finite, with analogy 0.007: without
# this, that run would have saved them as if nothing had happened.
WEIGHT_LIMIT = 1000.0


class Word2Vec(VocabularyUpdates, Word2VecQueries, Word2VecFiles):
    """Skip-gram (``sg=1``) or CBOW (``sg=0``, gensim's default) with negative sampling.

    Parameters keep gensim's names and defaults, with three differences:
    ``alpha=None`` means 0.025 for skip-gram and 0.05 for CBOW (word2vec.c's
    rule), ``workers=None`` means every CPU core (divided among the processes
    torchrun started on this machine), and only negative sampling
    with ``cbow_mean=1`` is implemented (``hs=1`` raises). ``device="cuda"``
    trains on the GPU when embforge was built with CUDA.

    ``distributed=True`` (torch's default process group) or
    ``process_group=`` trains across the processes of a torch.distributed job
    (torchrun; gloo for the CPU, NCCL for GPUs): every rank builds the
    vocabulary of the whole corpus and trains on its own share, and the
    ranks' models are combined in tiers by frequency: the most frequent
    words' rows every ``hot_sync_interval`` ids (by default 65,536 for two
    ranks, 65,536 (2 / N)^2 for N), twice as many rows every second time,
    and so on up to the whole model, which also goes at each epoch's end and
    every ``sync_interval`` ids when given (every 2.2M without tiers,
    ``hot_sync_rows=0``);
    ``combine="sum"`` adds every rank's change (except the first
    ``hot_average_rows`` rows', at most 1/256 of the vocabulary, which are
    averaged; by default 64 up to 4 ranks, 16 N past them; past 8 ranks
    they move by a velocity of momentum ``hot_average_momentum``, by default
    0.5), ``"average"`` averages the models; see
    embforge.distributed.replicas and embforge.distributed.sync_schedule.
    ``sync_dtype="float16"`` sends the changes in half the bytes, for links
    between nodes. Every rank ends with the same vectors.

    ``memory`` bounds what grows with the corpus: the encoded corpus (4 bytes
    a token, 8 a sentence) is held in RAM up to 1/16 of it (62.5 MB of the
    default "1GB", about 15M tokens); a larger one is written to temporary
    files under ``temp_dir`` (default: the system's), deleted at once and
    memory-mapped, so the process's anonymous memory does not grow with the
    corpus (embforge.corpus). ``memory=None`` holds it in RAM whatever its
    size. The vectors are the same either way. The weights (2 x vocabulary x
    vector_size floats) are not part of the budget. The files are read and
    encoded on the ``workers`` threads (the ids are the same for any number),
    each counting distinct words in a table held to ``memory``.
    """

    def __init__(self, sentences: Optional[Corpus] = None,
                 corpus_file: Optional[Union[StrPath, Sequence[StrPath]]] = None, *,
                 vector_size: int = 100, alpha: Optional[float] = None, window: int = 5,
                 min_count: int = 5, max_vocab_size: Optional[int] = None, sample: float = 1e-3,
                 seed: int = 1, workers: Optional[int] = None, min_alpha: float = 1e-4,
                 sg: int = 0, hs: int = 0, negative: int = 5, ns_exponent: float = 0.75,
                 cbow_mean: int = 1, epochs: int = 5, shrink_windows: bool = True,
                 max_sentence_length: int = 10000, compute_loss: bool = True,
                 callbacks: Sequence[Any] = (), device: str = "cpu",
                 progress: Optional[bool] = None, distributed: bool = False,
                 process_group: Any = None, sync_interval: Optional[int] = None, combine: str = "sum",
                 hot_sync_interval: Optional[int] = None, hot_sync_rows: int = HOT_SYNC_ROWS,
                 hot_average_rows: Optional[int] = None,
                 hot_average_momentum: Optional[float] = None, sync_dtype: str = "float32",
                 memory: Memory = "1GB", temp_dir: Optional[StrPath] = None) -> None:
        if hs:
            raise ValueError("hierarchical softmax (hs=1) is not implemented; use negative sampling")
        if cbow_mean != 1:
            raise ValueError("only cbow_mean=1 (the mean of the context vectors) is implemented")
        if sg not in (0, 1, True, False):
            raise ValueError(f"sg must be 0 (CBOW) or 1 (skip-gram), got {sg!r}")
        self.sg = int(sg)
        self.vector_size = check_number("vector_size", vector_size, 1, MAX_VECTOR_SIZE, integer=True)
        self.window = check_number("window", window, 1, 10000, integer=True)
        self.negative = check_number("negative", negative, 1, 1000, integer=True)
        self.min_count = check_number("min_count", min_count, 0, integer=True)
        self.max_vocab_size = (None if max_vocab_size is None
                               else check_number("max_vocab_size", max_vocab_size, 1, integer=True))
        self.sample = check_number("sample", sample, 0.0, 1.0)
        self.alpha = (0.025 if self.sg else 0.05) if alpha is None else alpha
        check_number("alpha", self.alpha, 0.0, 10.0, low_open=True)
        self.min_alpha = check_number("min_alpha", min_alpha, 0.0, self.alpha)
        self.ns_exponent = check_number("ns_exponent", ns_exponent, -10.0, 10.0)
        self.epochs = check_number("epochs", epochs, 1, integer=True)
        self.workers = resolve_workers(workers)
        self.seed = check_number("seed", seed, 0, 2**64 - 1, integer=True)
        self.shrink_windows = bool(shrink_windows)
        self.max_sentence_length = check_number("max_sentence_length", max_sentence_length, 1, integer=True)
        self.compute_loss = bool(compute_loss)
        self.callbacks = tuple(callbacks)
        if memory is not None:
            parse_memory(memory)
        self.memory = memory
        self.temp_dir = temp_dir
        self._backend = get_backend(device)
        self.device = self._backend.device
        # Training across processes (torch.distributed): each rank trains its
        # share of the corpus and the replicas are combined (how:
        # distributed/replicas.py) in tiers of frequent rows; when, and
        # which rows, is distributed/sync_schedule.py's, from these four
        # settings (None: chosen by the number of ranks). Without a group
        # this process trains alone, whatever torch.distributed holds.
        self.sync_interval = (None if sync_interval is None else
                              check_number("sync_interval", sync_interval, 1, integer=True))
        self.hot_sync_interval = (None if hot_sync_interval is None else
                                  check_number("hot_sync_interval", hot_sync_interval, 1,
                                               integer=True))
        self.hot_sync_rows = check_number("hot_sync_rows", hot_sync_rows, 0, integer=True)
        self.hot_average_rows = (None if hot_average_rows is None else
                                 check_number("hot_average_rows", hot_average_rows, 0,
                                              integer=True))
        self.hot_average_momentum = (None if hot_average_momentum is None else
                                     check_number("hot_average_momentum", hot_average_momentum,
                                                  0.0, 0.999))
        self._group = resolve_group(distributed, process_group)
        # "float16": each rank's changes travel as float16, half the bytes
        # of every sync (distributed/replicas.py). Bench corpus, 2 ranks, 3
        # seeds, paired (runs of one thread a rank are deterministic): no
        # mean score moved by more than 0.0006 against float32, skip-gram or
        # CBOW; 8 ranks, skip-gram seed 1: within 0.002. float32 stays the
        # default: on one machine the casts cost more than the bytes save (a
        # whole sync of a 58k x 100 model 1.3-1.4x slower on 2 processes).
        self._replicas = replicas_for(self._group, combine, sync_dtype)
        self.combine = combine
        self.sync_dtype = sync_dtype
        self.progress = progress

        self.wv: Optional[KeyedVectors] = None
        self.syn1neg: Array = None  # on the backend's device
        self.vocab: Optional[Vocabulary] = None
        self.training_loss: List[float] = []   # summed loss of each epoch trained, in order
        self.history = TrainingHistory()  # epoch rows and points within epochs (plot_history)
        self.epochs_trained = 0
        self.interrupted = False
        self._guard = TrainingGuard("Word2Vec model")
        self.train_seconds = 0.0        # wall time of the last train() call
        self.words_per_second = 0.0     # raw corpus tokens / s of the last train() call
        self._corpus: Optional[EncodedCorpus] = None
        self._corpus_source = None
        self._tables: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
        self._native_progress = _native.core.Progress()
        self._storage: Array = None  # the backend's array under wv: input vectors, then spare rows
        self._hot_rows = -1  # CPU kernel's thread-private hot rows (-1: automatic); for benchmarks

        if sentences is not None and corpus_file is not None:
            raise ValueError("pass either sentences or corpus_file, not both")
        if sentences is not None or corpus_file is not None:
            self.fit(sentences if sentences is not None else cast("Corpus", corpus_file))

    # ------------------------------------------------------------ vocabulary
    def build_vocab(self, corpus_iterable: Optional[Corpus] = None,
                    corpus_file: Optional[Union[StrPath, Sequence[StrPath]]] = None,
                    update: bool = False, progress_per: Any = None, **_ignored: Any) -> "Word2Vec":
        """Reads the corpus once: builds the vocabulary and encodes the text.

        With `update`, grows the vocabulary of a built (or trained) model as
        gensim does: words already known keep their ids and vectors and have
        the new counts added to theirs, words of the new text counted at
        least `min_count` times are appended after them (most frequent first),
        and the new text becomes the corpus train() uses by default
        (see embforge.vocab_update)."""
        source = _one_source(corpus_iterable, corpus_file)
        if update:
            return self._update_vocab(source)
        start = time.perf_counter()
        self._replicas.check_same("Word2Vec settings", self._settings())
        corpus = encode(source, min_count=self.min_count, max_vocab_size=self.max_vocab_size,
                        max_sentence_length=self.max_sentence_length, process_group=self._group,
                        **self.stream_options())
        self._set_corpus(corpus, source)
        self._reset_weights(corpus.vocab)
        logger.info("vocabulary of %d words from %d tokens (%d out of vocabulary) in %.2fs",
                    len(corpus.vocab), corpus.raw_tokens, corpus.dropped_tokens,
                    time.perf_counter() - start)
        return self

    def stream_options(self) -> Dict[str, Any]:
        """encode()'s `memory`, `temp_dir` and `vocab_memory` for this model's
        budget, and its `workers`: the model's threads read and encode the
        files too (the ids are the same for any number)."""
        return {"memory": stream_memory(self.memory), "temp_dir": self.temp_dir,
                "vocab_memory": self.memory, "workers": self.workers}

    def _set_corpus(self, corpus: Optional[EncodedCorpus], source: Any) -> None:
        self._corpus = corpus
        self._corpus_source = source

    def _reset_weights(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        # The input vectors are the first rows of wv's storage (on the
        # backend's device), so training writes the vectors users read.
        self._storage, self.syn1neg = self._backend.init_word2vec(len(vocab), self.vector_size,
                                                                  self.seed)
        self.wv = KeyedVectors.from_storage(vocab.words, self._storage, vocab.counts)
        self._make_tables()
        self.training_loss = []
        self.history = TrainingHistory()
        self.epochs_trained = 0

    def _make_tables(self) -> None:
        counts = cast("Vocabulary", self.vocab).counts  # set before the tables are made
        keep = _native.core.subsampling_thresholds(counts, float(self.sample))
        weights = counts.astype(np.float64) ** self.ns_exponent
        noise_keep, noise_alias = _native.core.build_alias_table(weights)
        self._tables = (keep, noise_keep, noise_alias)

    @property
    def corpus_total_words(self) -> int:
        """Raw tokens of the last corpus read (gensim's name)."""
        return self._corpus.raw_tokens if self._corpus is not None else 0

    # ------------------------------------------------------------ training
    def fit(self, corpus: Union[Corpus, EncodedCorpus], epochs: Optional[int] = None) -> "Word2Vec":
        """Builds the vocabulary from `corpus` (unless built) and trains on it."""
        if self.wv is None:
            self.build_vocab(corpus)
        self.train(corpus, epochs=epochs)
        return self

    def train(self, corpus_iterable: Optional[Corpus] = None,
              corpus_file: Optional[Union[StrPath, Sequence[StrPath]]] = None,
              total_examples: Optional[int] = None, total_words: Optional[int] = None,
              epochs: Optional[int] = None, start_alpha: Optional[float] = None,
              end_alpha: Optional[float] = None, compute_loss: Optional[bool] = None,
              callbacks: Optional[Sequence[Any]] = None, start_epoch: int = 0, **_ignored: Any
              ) -> "Word2Vec":
        """Trains `epochs` passes over the corpus (gensim semantics).

        The learning rate falls linearly from `start_alpha` (default `alpha`) to
        `end_alpha` (default `min_alpha`) over all words of all epochs of this
        call. `start_epoch` continues such a schedule: the rate then falls over
        `start_epoch + epochs` epochs and this call trains the last `epochs` of
        them, with the same per-epoch rates as the uninterrupted call (how a
        checkpoint resumes). A corpus other than the one given to `build_vocab`
        is encoded with the existing vocabulary first.
        """
        if self.wv is None:
            raise RuntimeError("build_vocab() must be called before train(), or use fit()")
        source = _one_source(corpus_iterable, corpus_file, allow_none=True)
        corpus = self._encoded(source)
        epochs = self.epochs if epochs is None else check_number("epochs", epochs, 1, integer=True)
        start_alpha = self.alpha if start_alpha is None else start_alpha
        end_alpha = self.min_alpha if end_alpha is None else end_alpha
        check_number("start_alpha", start_alpha, 0.0, 10.0, low_open=True)
        check_number("end_alpha", end_alpha, 0.0, 10.0)
        start_epoch = check_number("start_epoch", start_epoch, 0, integer=True)
        if self.workers > len(corpus):
            raise ValueError(f"workers={self.workers} exceeds the {len(corpus)} sentences of the corpus; "
                             "use fewer workers")
        if compute_loss is not None:
            self.compute_loss = bool(compute_loss)
        callbacks = self.callbacks if callbacks is None else tuple(callbacks)
        with self._guard.training():
            self._run(corpus, epochs, start_alpha, end_alpha, callbacks, start_epoch)
        return self

    def _encoded(self, source: Any) -> EncodedCorpus:
        if source is None or source is self._corpus_source or isinstance(source, EncodedCorpus) \
                and source is self._corpus:
            if self._corpus is None:
                raise ValueError("no corpus: pass one to train()")
            return self._corpus
        if isinstance(source, EncodedCorpus):
            if source.vocab != self.vocab:
                raise ValueError("the EncodedCorpus was encoded with another vocabulary")
            return source
        corpus = encode(source, vocab=self.vocab, max_sentence_length=self.max_sentence_length,
                        process_group=self._group, **self.stream_options())
        self._set_corpus(corpus, source)
        return corpus

    def stop(self) -> None:
        """Ends a running train() at the next sentence (from another thread)."""
        self._native_progress.request_stop()

    def _run(self, corpus: EncodedCorpus, epochs: int, start_alpha: float, end_alpha: float,
             callbacks: Sequence[Any], start_epoch: int = 0) -> None:
        progress = self._native_progress
        progress.clear_stop()
        self.interrupted = False
        replicas = self._replicas
        raw_per_id = corpus.raw_tokens / max(1, corpus.n_tokens)
        # The bar counts the whole job's words: rank 0's, scaled by the job's
        # words over its own (the ranks go through their shares together: every
        # rank ends each slice at the same sync).
        job_words = replicas.total(corpus.raw_tokens)
        to_job = job_words / max(1, corpus.raw_tokens)
        bar = make_bar(self.progress if replicas.is_leader else False, epochs * job_words,
                       "skip-gram" if self.sg else "CBOW", "word")
        _call(callbacks, "on_train_begin", self)
        started = time.perf_counter()
        done_before = 0.0

        first_epoch = self.epochs_trained
        self.history.start_call()

        def poll() -> None:
            done = done_before + progress.work_done * raw_per_id
            self.history.sample(first_epoch + done / max(1, corpus.raw_tokens), done, progress,
                                learning_rate=True, started=started)
            if bar is not None:
                bar.update(done * to_job - bar.n)
                if progress.loss_count:
                    bar.set_postfix(loss=f"{progress.loss_sum / progress.loss_count:.4f}",
                                    lr=f"{progress.learning_rate:.5f}", refresh=False)

        plan = self._sync_plan()
        slices = replicas.slices(corpus.n_tokens, plan.interval)
        schedule = plan.epoch(slices)
        replicas.start((self._input_rows(), self.syn1neg), average_first=plan.averaged_rows,
                       average_momentum=plan.momentum)
        # Ctrl-C asks the native call in progress to stop and the loop to
        # end after it, wherever it lands (training/interrupt.py)
        with ctrl_c_stops(progress.request_stop):
            try:
                # the rates of epoch e of a schedule of `total` epochs, computed
                # alike on resume (start_epoch > 0), so they match bit for bit
                total = start_epoch + epochs
                for e in range(start_epoch, total):
                    _call(callbacks, "on_epoch_begin", self)
                    a0 = start_alpha + (end_alpha - start_alpha) * e / total
                    a1 = start_alpha + (end_alpha - start_alpha) * (e + 1) / total
                    # Each slice's learning rate runs over its share of the epoch's ids,
                    # counted over the whole job (every rank's ids) when distributed.
                    ends = replicas.job_fractions(
                        self._slice_ends(corpus, self.epochs_trained, slices), corpus.n_tokens)
                    loss, rng, stopped = 0.0, 0, False
                    epoch_started, epoch_words = time.perf_counter(), done_before
                    for part in range(slices):
                        # the epoch's own endpoints at its ends (a0 + (a1 - a0) * 1.0
                        # need not be a1 in floating point)
                        s0 = a0 if part == 0 else a0 + (a1 - a0) * ends[part]
                        s1 = a1 if part == slices - 1 else a0 + (a1 - a0) * ends[part + 1]

                        def piece(s0: float = s0, s1: float = s1, part: int = part, rng: int = rng
                                  ) -> Dict[str, Any]:
                            return self._train_epoch(corpus, s0, s1, self.epochs_trained, part, slices, rng)

                        stats, interrupted = run_polled(self._backend.on_caller_stream(piece), progress,
                                                        poll)
                        done_before += stats["ids_processed"] * raw_per_id
                        loss += stats["loss"]
                        rng = stats["rng_end"]
                        stopped = replicas.sync((self._input_rows(), self.syn1neg),
                                                interrupted or stats["stopped"], rows=schedule[part])
                        if stopped:
                            break
                    # After a sync every rank holds the same weights: they all see
                    # the same divergence and raise together.
                    self._check_not_diverged(e + 1, start_alpha, plan.setting)
                    loss = replicas.total(loss)
                    self.training_loss.append(loss if self.compute_loss else float("nan"))
                    self.epochs_trained += 1
                    seconds = time.perf_counter() - epoch_started
                    self.history.add_epoch(epoch=self.epochs_trained, loss=self.training_loss[-1],
                                           learning_rate=a1 if not stopped else progress.learning_rate,
                                           words_per_second=(done_before - epoch_words) / max(seconds, 1e-9),
                                           seconds=seconds, complete=not stopped)
                    if stopped:
                        self.interrupted = True
                        logger.warning("training stopped during epoch %d; the vectors are usable", e + 1)
                        break
                    _call(callbacks, "on_epoch_end", self)
            finally:
                if bar is not None:
                    bar.close()
                self.train_seconds = time.perf_counter() - started
                self.words_per_second = done_before / max(self.train_seconds, 1e-9)
                cast("KeyedVectors", self.wv)._invalidate()  # made with the vocabulary
        # every rank's words: the job's speed
        self.words_per_second = replicas.total(self.words_per_second)
        _call(callbacks, "on_train_end", self)

    def _check_not_diverged(self, epoch: int, start_alpha: float,
                            interval: Tuple[str, int]) -> None:
        """Raises FloatingPointError when the weights are no longer finite or
        have grown past WEIGHT_LIMIT (see there): the run has diverged."""
        largest = max(largest_magnitude(self._input_rows()), largest_magnitude(self.syn1neg))
        if largest <= WEIGHT_LIMIT:
            return
        what = ("are no longer finite" if not np.isfinite(largest) else
                f"grew past {WEIGHT_LIMIT:g} (largest {largest:.3g})")
        advice = f"learning rate {start_alpha:g} is too large for this corpus; train again with a smaller alpha"
        if self._replicas.world_size > 1:
            advice += (f", or sync the {self._replicas.world_size} ranks more often "
                       f"({interval[0]}, now {interval[1]} ids a rank)")
        raise FloatingPointError(f"training diverged in epoch {epoch}: the weights {what} ({advice})")

    def _sync_plan(self) -> SyncPlan:
        """When the replicas are combined across ranks, and which rows."""
        return SyncPlan(self._replicas.world_size, len(cast("Vocabulary", self.vocab)),
                        sync_interval=self.sync_interval, hot_sync_interval=self.hot_sync_interval,
                        hot_sync_rows=self.hot_sync_rows, hot_average_rows=self.hot_average_rows,
                        hot_average_momentum=self.hot_average_momentum)

    def _slice_ends(self, corpus: EncodedCorpus, epoch: int, slices: int) -> List[float]:
        """Where each of the epoch's slices ends, as fractions of its ids."""
        if slices == 1:
            return [0.0, 1.0]
        return self._backend.word2vec_slice_ends(corpus, self._train_seed(), int(epoch), slices)

    def _train_seed(self) -> int:
        return rank_seed(self.seed, self._replicas.rank)

    def _train_epoch(self, corpus: EncodedCorpus, alpha_start: float, alpha_end: float,
                     epoch: int, part: int = 0, parts: int = 1, rng: int = 0) -> Dict[str, Any]:
        params = _native.core.Word2VecParams(
            vector_size=int(self.vector_size), skip_gram=bool(self.sg), window=int(self.window),
            negative=int(self.negative), shrink_windows=bool(self.shrink_windows),
            alpha_start=float(alpha_start), alpha_end=float(alpha_end), seed=self._train_seed(),
            epoch=int(epoch), workers=int(self.workers), hot_rows=int(self._hot_rows),
            slice_index=int(part), slice_count=int(parts), rng_start=int(rng),
            compute_loss=bool(self.compute_loss))
        return self._backend.train_word2vec_epoch(corpus, self._input_rows(), self.syn1neg,
                                                  self._tables, params,
                                                  progress=self._native_progress)

    def _input_rows(self) -> Any:
        """The input vectors where they live: the word rows of wv's storage."""
        return self._storage[:len(cast("Vocabulary", self.vocab))]

    def get_latest_training_loss(self) -> float:
        """Loss summed over the last epoch (gensim's name; ours is float64 and per epoch)."""
        return self.training_loss[-1] if self.training_loss else 0.0

    def _settings(self) -> Dict[str, Any]:
        """What every rank of a distributed run must agree on (thread counts may differ)."""
        names = ("sg", "vector_size", "alpha", "window", "min_count", "max_vocab_size", "sample",
                 "seed", "min_alpha", "negative", "ns_exponent", "epochs", "shrink_windows",
                 "max_sentence_length", "compute_loss", "sync_interval", "combine",
                 "hot_sync_interval", "hot_sync_rows", "hot_average_rows", "hot_average_momentum",
                 "sync_dtype")
        return {name: getattr(self, name) for name in names}

    def plot_history(self, path: Optional[StrPath] = None, **options: Any) -> "Figure":
        """Training curves from ``self.history`` (loss per epoch and within epochs, words/s, learning rate), kept in the
        model's archive; returns the matplotlib Figure and writes a PNG to
        `path` (see embforge.plots.plot_history; needs matplotlib)."""
        from .plots import plot_history
        return plot_history(self, path, **options)

    def __repr__(self) -> str:
        kind = "skip-gram" if self.sg else "CBOW"
        size = len(self.wv) if self.wv is not None else 0
        return f"Word2Vec({kind}, vocab={size}, vector_size={self.vector_size}, device={self.device!r})"


def _one_source(corpus_iterable: Optional[Corpus],
                corpus_file: Optional[Union[StrPath, Sequence[StrPath]]], allow_none: bool = False
                ) -> Any:
    if corpus_iterable is not None and corpus_file is not None:
        raise ValueError("pass either corpus_iterable or corpus_file, not both")
    source = corpus_iterable if corpus_iterable is not None else corpus_file
    if source is None and not allow_none:
        raise ValueError("no corpus given")
    return source
