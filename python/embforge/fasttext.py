"""FastText: skip-gram and CBOW over words and their character n-grams, with
gensim's API; vectors for words never seen in training.

    model = FastText(sg=1, vector_size=100, workers=2).fit("corpus.txt.gz")
    model.wv.most_similar("kernal")          # unseen: built from its n-grams
    model.save_facebook_model("model.bin")   # fastText's format (gensim reads it)

The trainer is Word2Vec's (schedule, progress bar, Ctrl-C, callbacks,
history) with the model's rows replaced: an input matrix of vocabulary +
``bucket`` rows (word rows, then n-gram rows) trained by the backend's
FastText kernel (CPU threads, or the CUDA kernel with ``device="cuda"``), in
one process.
"""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Union, cast

import numpy as np

from ._typing import Array, Corpus, StrPath
from . import _native
from ._checks import check_allocation
from ._workers import default_workers
from .backends.arrays import all_finite
from .fasttext_kv import FastTextKeyedVectors, check_ngram_settings
from .history import TrainingHistory
from .io import fasttext_bin
from .io.archive import check_shapes, read_archive, write_archive
from .vocab import Vocabulary
from .word2vec import Word2Vec
from .word2vec_queries import FLOAT_BYTES

if TYPE_CHECKING:
    from .corpus import EncodedCorpus

__all__ = ["FastText", "load_facebook_model", "load_facebook_vectors", "save_facebook_model"]

logger = logging.getLogger(__name__)

MODEL_MAGIC = "embforge.FastText"
MODEL_VERSION = 1

# Input rows start uniform in +-2/dim: 4x word2vec.c's range (fastText and
# gensim use 2x). A word's vector is the mean of ~20 rows, so with
# word2vec.c's range it starts ~4.5x smaller than a word2vec vector and
# learning starts slowly: on a 1.2M-token slice of the benchmark corpus
# (3 seeds, skip-gram) analogy was 0.386 at 1x, 0.405 at 2x and 0.442 at 4x
# against gensim's 0.427 (CBOW: 0.404, 0.465 at 4x, gensim 0.454); WordSim
# and SimLex moved within the seed spread.
INIT_SCALE = 4.0


class FastText(Word2Vec):
    """Skip-gram (``sg=1``) or CBOW (``sg=0``) with negative sampling, each
    word's input vector the mean of its own row and its character n-gram rows.

    Parameters keep gensim's names and defaults (``min_n=3``, ``max_n=6``,
    ``bucket=2_000_000``), with Word2Vec's differences (``alpha=None``: 0.025
    for skip-gram, 0.05 for CBOW; ``workers=None``: every core (shared by the
    ranks torchrun started on the machine); negative
    sampling only). ``bucket x vector_size`` float32 rows are allocated up
    front (800 MB at the defaults): the constructor refuses sizes larger than
    the memory available (on the host; with ``device="cuda"`` the rows live
    in device memory). One process (no ``distributed=``), and only
    ``word_ngrams=1``.
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
                 progress: Optional[bool] = None, min_n: int = 3, max_n: int = 6,
                 bucket: int = 2_000_000, word_ngrams: int = 1) -> None:
        check_ngram_settings(min_n, max_n, bucket)
        if word_ngrams != 1:
            raise ValueError(f"word_ngrams={word_ngrams!r}: only 1 is supported (word n-grams "
                             "are a feature of fastText's supervised models)")
        super().__init__(vector_size=vector_size, alpha=alpha, window=window,
                         min_count=min_count, max_vocab_size=max_vocab_size, sample=sample,
                         seed=seed, workers=workers, min_alpha=min_alpha, sg=sg, hs=hs,
                         negative=negative, ns_exponent=ns_exponent, cbow_mean=cbow_mean,
                         epochs=epochs, shrink_windows=shrink_windows,
                         max_sentence_length=max_sentence_length, compute_loss=compute_loss,
                         callbacks=callbacks, device=device, progress=progress)
        self._backend.check_fasttext()
        self.min_n, self.max_n, self.bucket = int(min_n), int(max_n), int(bucket)
        self.word_ngrams = 1
        # the n-gram rows alone, before any corpus is read: fail early
        check_allocation(f"FastText's n-gram rows (bucket={self.bucket} x vector_size="
                         f"{self.vector_size} float32)", self.bucket * self.vector_size * 4)
        self._input: Array = None      # [vocab + bucket, dim]: word rows, then n-gram rows
        # (offsets, ids): each vocabulary word's input rows
        self._subwords: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self.wv: Optional[FastTextKeyedVectors] = None
        if sentences is not None and corpus_file is not None:
            raise ValueError("pass either sentences or corpus_file, not both")
        if sentences is not None or corpus_file is not None:
            self.fit(sentences if sentences is not None else cast("Corpus", corpus_file))

    # ------------------------------------------------------------ model rows
    def _reset_weights(self, vocab: Vocabulary,
                       initial: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> None:
        words = vocab.words
        longest = max((len(w) for w in words), default=0)
        if longest + 2 < self.min_n:
            raise ValueError(f"min_n={self.min_n} is longer than every word of the vocabulary "
                             f"(the longest has {longest} characters, {longest + 2} with its < > "
                             "markers): no word would have an n-gram")
        n, dim = len(vocab), self.vector_size
        self._check_model_fits(n)
        self.vocab = vocab
        self._subwords = _native.core.fasttext_subwords(words, self.min_n, self.max_n, self.bucket)
        self._input, self.syn1neg, self._storage = self._backend.init_fasttext(
            n, self.bucket, dim, self.seed, INIT_SCALE, initial, workers=self.workers)
        self.wv = FastTextKeyedVectors.from_rows(words, self._input, self.min_n, self.max_n,
                                                 self.bucket, vocab.counts, storage=self._storage,
                                                 subwords=self._subwords)
        self._make_tables()
        self.training_loss = []
        self.history = TrainingHistory()
        self.epochs_trained = 0
        self._compose()

    def _compose(self) -> None:
        """wv.vectors from the input rows: each word's mean of its subword rows."""
        self._backend.fasttext_word_vectors(self._input, self._subwords, self.bucket,
                                            self._storage[:len(cast("Vocabulary", self.vocab))],
                                            self.workers)
        cast("FastTextKeyedVectors", self.wv)._invalidate()  # made with the weights

    def _check_model_fits(self, words: int) -> None:
        """Says how much a model of `words` words takes and refuses it when
        the memory cannot hold it: the input rows (words + buckets), the
        output rows and the composed vectors, float32."""
        dim = self.vector_size
        nbytes = ((words + self.bucket) + words + words) * dim * FLOAT_BYTES
        logger.info("FastText: allocating %.1f MB (%d words + %d buckets) x %d dims, float32",
                    nbytes / 1e6, words, self.bucket, dim)
        check_allocation(f"FastText with {words} words + bucket={self.bucket} rows x "
                         f"vector_size={dim}", nbytes)

    def _grow(self, vocab: Vocabulary) -> None:
        """Weights for `vocab`, whose first words are the current ones (build_vocab
        with update=True; see vocab_update): the old words' rows, every n-gram
        row and the old output rows are kept; new words' own rows are drawn as
        in a new model of that size and their output rows start at zero. The
        n-gram rows move down by the number of new words (fastText's layout
        puts the word rows first), so the input matrix is a new array; ``wv``
        stays the same object over it, and arrays handed out before no longer
        share its memory."""
        backend, n, dim = self._backend, len(vocab), self.vector_size
        old = len(cast(Vocabulary, self.vocab))  # a built model's
        self._check_model_fits(n)
        input_rows, syn1neg, storage = self._backend.init_fasttext(n, self.bucket, dim, self.seed,
                                                                   INIT_SCALE, workers=self.workers)
        # through the host: the backend contract copies host data in
        old_input = backend.to_host(self._input)
        backend.copy_into(input_rows[:old], old_input[:old])
        backend.copy_into(input_rows[n:], old_input[old:])
        backend.copy_into(syn1neg[:old], backend.to_host(self.syn1neg))
        self.vocab, self._input, self.syn1neg, self._storage = vocab, input_rows, syn1neg, storage
        self._subwords = _native.core.fasttext_subwords(vocab.words, self.min_n, self.max_n,
                                                        self.bucket)
        wv = cast("FastTextKeyedVectors", self.wv)  # made with the vocabulary
        generation = wv._generation
        wv._setup(list(vocab.words), storage, vocab.counts)
        wv._input, wv._subwords = input_rows, self._subwords
        wv._generation = generation + 1  # a cache computed before is not kept
        self._make_tables()
        self._compose()

    def estimate_memory(self, vocab_size: Optional[int] = None,
                        report: Optional[Dict[str, int]] = None) -> Dict[str, int]:
        """Word2Vec's report (see there) with FastText's rows: ``"vectors"``
        holds the word rows and the composed vectors, ``"vectors_ngrams"``
        (gensim's name) the ``bucket`` n-gram rows, allocated whatever the
        corpus."""
        report = super().estimate_memory(vocab_size, report)   # validates vocab_size
        if vocab_size is None:
            vocab_size = len(self.wv) if self.wv is not None else 0
        word_rows = int(vocab_size) * self.vector_size * FLOAT_BYTES
        report["vectors"] += word_rows
        report["vectors_ngrams"] = self.bucket * self.vector_size * FLOAT_BYTES
        report["total"] += word_rows + report["vectors_ngrams"]
        return report

    def _input_rows(self) -> Any:
        return self._input

    def _run(self, *args: Any, **kwargs: Any) -> None:
        try:
            super()._run(*args, **kwargs)
        finally:
            self._compose()

    def _train_epoch(self, corpus: EncodedCorpus, alpha_start: float, alpha_end: float, epoch: int,
                     part: int = 0, parts: int = 1, rng: int = 0) -> Dict[str, Any]:
        if parts != 1:
            raise ValueError("FastText trains whole epochs in one process")
        params = _native.core.FastTextParams(
            vector_size=int(self.vector_size), skip_gram=bool(self.sg), window=int(self.window),
            negative=int(self.negative), shrink_windows=bool(self.shrink_windows),
            alpha_start=float(alpha_start), alpha_end=float(alpha_end), seed=int(self.seed),
            epoch=int(epoch), workers=int(self.workers), min_n=self.min_n, max_n=self.max_n,
            bucket=self.bucket)
        return self._backend.train_fasttext_epoch(corpus, self._input, self.syn1neg,
                                                  self._subwords, self._tables, params,
                                                  progress=self._native_progress)

    # ------------------------------------------------------------ persistence
    _NAMES = ("sg", "vector_size", "alpha", "window", "min_count", "max_vocab_size", "sample",
              "seed", "workers", "min_alpha", "negative", "ns_exponent", "epochs",
              "shrink_windows", "max_sentence_length", "compute_loss", "min_n", "max_n", "bucket")

    def _settings(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self._NAMES if name != "workers"}

    def _config(self) -> Dict[str, Any]:
        config = {name: getattr(self, name) for name in self._NAMES}
        config.update(format=MODEL_MAGIC, version=MODEL_VERSION,
                      epochs_trained=self.epochs_trained,
                      training_loss=[float(x) for x in self.training_loss],
                      history=self.history.to_json())
        return config

    def save(self, path: StrPath) -> None:
        """Saves the trainable model (input rows with the n-grams, output
        weights, vocabulary, settings) in one archive, atomically; no pickle."""
        if self.wv is None:
            raise ValueError("nothing to save: the model has no vocabulary yet")
        self._guard.check_idle("save")
        vocab = cast("Vocabulary", self.vocab)  # made with wv
        write_archive(path, self._config(), vocab.words, counts=vocab.counts,
                      input=self._backend.to_host(self._input),
                      syn1neg=self._backend.to_host(self.syn1neg))

    @classmethod
    def load(cls, path: StrPath, device: str = "cpu", **options: Any) -> "FastText":
        """Loads a model written by save(); validates every array."""
        config, words, arrays = read_archive(path, "FastText model", ("counts", "input", "syn1neg"),
                                             MODEL_MAGIC, MODEL_VERSION)
        try:
            kwargs = {name: config[name] for name in cls._NAMES}
        except KeyError as error:
            raise ValueError(f"{path}: not an embforge FastText model (no {error})") from None
        n, dim, bucket = len(words), int(kwargs["vector_size"]), kwargs["bucket"]
        check_ngram_settings(kwargs["min_n"], kwargs["max_n"], bucket)
        counts, input_rows, syn1neg = arrays["counts"], arrays["input"], arrays["syn1neg"]
        check_shapes(path, (("counts", counts, (n,)), ("input", input_rows, (n + bucket, dim)),
                            ("syn1neg", syn1neg, (n, dim))))
        if not (all_finite(input_rows) and all_finite(syn1neg)):
            raise ValueError(f"{path}: the model holds NaN or infinite weights")
        kwargs.update(options)
        model = cls(device=device, **kwargs)
        model._reset_weights(Vocabulary(words, counts), (input_rows, syn1neg))
        model.epochs_trained = int(config.get("epochs_trained", 0))
        model.training_loss = list(config.get("training_loss", []))
        model.history = TrainingHistory.from_json(config.get("history"), os.fspath(path))
        return model

    def save_facebook_model(self, path: StrPath) -> None:
        """Writes fastText's .bin format: fastText, gensim's
        ``load_facebook_model`` and :func:`load_facebook_model` read it."""
        save_facebook_model(self, path)

    def __repr__(self) -> str:
        kind = "skip-gram" if self.sg else "CBOW"
        size = len(self.wv) if self.wv is not None else 0
        return (f"FastText({kind}, vocab={size}, bucket={self.bucket}, n-grams {self.min_n}.."
                f"{self.max_n}, vector_size={self.vector_size}, device={self.device!r})")


def save_facebook_model(model: FastText, path: StrPath) -> None:
    """Writes `model` as a fastText .bin (gensim's function of that name)."""
    if model.wv is None:
        raise ValueError("nothing to save: the model has no vocabulary yet")
    args = dict(dim=model.vector_size, ws=model.window, epoch=model.epochs,
                min_count=model.min_count, neg=model.negative, word_ngrams=1,
                loss=fasttext_bin.LOSS_NS,
                model=fasttext_bin.MODEL_SKIPGRAM if model.sg else fasttext_bin.MODEL_CBOW,
                bucket=model.bucket, minn=model.min_n, maxn=model.max_n, lr_update_rate=100,
                t=model.sample)
    vocab = cast("Vocabulary", model.vocab)  # made with wv
    ntokens = model.corpus_total_words or int(vocab.total_count)
    fasttext_bin.write_fasttext_bin(path, args, vocab.words, vocab.counts, ntokens,
                                    model._backend.to_host(model._input),
                                    model._backend.to_host(model.syn1neg))


def load_facebook_model(path: StrPath, device: str = "cpu", unicode_errors: str = "strict",
                        **options: Any) -> FastText:
    """A trainable FastText from a fastText .bin (recognised by its magic
    number): its settings, vocabulary and both matrices."""
    data = fasttext_bin.read_fasttext_bin(path, unicode_errors)
    a = data.args
    if a["loss"] != fasttext_bin.LOSS_NS or data.output.shape != (len(data.words), a["dim"]):
        raise ValueError(f"{path}: trained with loss {a['loss']} (not negative sampling): its "
                         "output weights cannot continue training here; load_facebook_vectors "
                         "reads its vectors")
    kwargs = dict(sg=int(a["model"] == fasttext_bin.MODEL_SKIPGRAM), vector_size=a["dim"],
                  window=a["ws"], epochs=max(1, a["epoch"]), min_count=max(0, a["min_count"]),
                  negative=max(1, a["neg"]), sample=min(1.0, max(0.0, a["t"])), min_n=a["minn"],
                  max_n=a["maxn"], bucket=a["bucket"])
    kwargs.update(options)
    model = FastText(device=device, **kwargs)
    model._reset_weights(Vocabulary(data.words, data.counts), (data.input, data.output))
    return model


def load_facebook_vectors(path: StrPath, unicode_errors: str = "strict") -> FastTextKeyedVectors:
    """The vectors of a fastText .bin (words and n-gram rows), without the
    output weights."""
    data = fasttext_bin.read_fasttext_bin(path, unicode_errors)
    a = data.args
    kv = FastTextKeyedVectors.from_rows(data.words, data.input, a["minn"], a["maxn"],
                                        a["bucket"], data.counts)
    kv.adjust_vectors(workers=default_workers())
    return kv
