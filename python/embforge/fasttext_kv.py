"""``FastTextKeyedVectors``: word vectors that answer for any string from its
character n-grams, with gensim's names and semantics.

    wv = model.wv
    wv["kernel"]            # a vocabulary word: the mean of its own row and its n-gram rows
    wv["kernelz"]           # any other string: the mean of its n-gram rows
    "kernelz" in wv         # True: it has n-grams (gensim's FastText `in`)
    wv.has_index_for("kernelz")   # False: not a vocabulary word

The rows live in one input matrix ``[len(wv) + bucket, vector_size]``
(fastText's layout): word w is row w, an n-gram hashing to h is row
``len(wv) + h % bucket``. ``vectors`` (what similarity queries, ``to_torch``
and the word2vec formats use) holds each vocabulary word's composed vector,
the mean of its subword rows; the trainer recomputes it after training
(``adjust_vectors``).

Differences from gensim, on purpose:

* a string without any n-gram (shorter than ``min_n`` with its markers) is a
  KeyError, not a zero vector, and ``in`` is False for it (gensim's ``in`` is
  True for every string);
* words cannot be added (``add_vectors``): they would have no subword rows.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from ._typing import Key, StrPath
from . import _native, evaluation
from ._checks import check_number
from ._layout import SPARE_ROWS
from .io.archive import read_archive, write_archive
from .backends.arrays import all_finite, as_array, device_of, is_host, to_host
from .keyedvectors import KeyedVectors
from .similarity import is_key

if TYPE_CHECKING:
    import torch
    from .evaluation import CorrelationResult
    from .torch_bridge import SubwordIds

__all__ = ["FastTextKeyedVectors"]

logger = logging.getLogger(__name__)

KV_MAGIC = "embforge.FastTextKeyedVectors"
KV_VERSION = 1


class FastTextKeyedVectors(KeyedVectors):
    """Vocabulary vectors plus n-gram rows (see the module doc)."""

    # set by from_rows (instances are made there, not by __init__)
    min_n: int
    max_n: int
    bucket: int
    _input: np.ndarray
    _subwords: Tuple[np.ndarray, np.ndarray]

    @classmethod
    def from_rows(cls, words: Sequence[str], input_rows: np.ndarray, min_n: int, max_n: int,
                  bucket: int, counts: Optional[ArrayLike] = None, *, storage: Any = None,
                  subwords: Optional[Tuple[np.ndarray, np.ndarray]] = None
                  ) -> "FastTextKeyedVectors":
        """Vectors over `input_rows` ``[len(words) + bucket, dim]`` (kept, not
        copied). `storage` (``[len(words) + SPARE_ROWS, dim]``) receives the
        composed vectors; `subwords` is ``_core.fasttext_subwords``' result
        for these words; both are made when not given."""
        words = list(words)
        input_rows = as_array(input_rows)  # a GPU array (a model on device="cuda") stays there
        if input_rows.ndim != 2 or input_rows.shape[0] != len(words) + bucket:
            raise ValueError(f"the input matrix has shape {input_rows.shape}, expected "
                             f"({len(words)} words + {bucket} buckets, dim)")
        dim = input_rows.shape[1]
        if storage is None:
            storage = np.zeros((len(words) + SPARE_ROWS, dim), dtype=np.float32)
        self = cls.from_storage(words, storage, counts)
        self.min_n, self.max_n, self.bucket = int(min_n), int(max_n), int(bucket)
        self._input = input_rows
        self._subwords = subwords if subwords is not None else _native.core.fasttext_subwords(
            words, self.min_n, self.max_n, self.bucket)
        return self

    def adjust_vectors(self, workers: int = 1) -> None:
        """Recomputes ``vectors`` from the input rows (gensim's name), on the
        device the rows live on."""
        if is_host(self._input):
            _native.core.fasttext_word_vectors(self._input, self._subwords[0], self._subwords[1],
                                               self.bucket, self._storage[:len(self)], int(workers))
        else:
            from .backends import get_backend  # noqa: PLC0415 - only for GPU rows
            get_backend(device_of(self._input)).fasttext_word_vectors(
                self._input, self._subwords, self.bucket, self._storage[:len(self)], int(workers))
        self._invalidate()

    # ------------------------------------------------------------ rows

    @property
    def vectors_vocab(self) -> np.ndarray:
        """The vocabulary words' own rows (gensim's name), a view."""
        return self._input[:len(self)]

    @property
    def vectors_ngrams(self) -> np.ndarray:
        """The ``bucket`` n-gram rows (gensim's name), a view."""
        return self._input[len(self):]

    @property
    def input_rows(self) -> np.ndarray:
        """The whole input matrix: word rows, then n-gram rows (fastText's)."""
        return self._input

    def ngram_rows(self, word: str) -> np.ndarray:
        """Rows of `word`'s n-grams in the input matrix (int64, fastText's
        order, repeats kept)."""
        hashed = _native.core.fasttext_ngram_rows(word, self.min_n, self.max_n, self.bucket)
        return hashed.astype(np.int64) + len(self)

    def subword_rows(self, word: str) -> np.ndarray:
        """The input rows whose mean is `word`'s vector: its own row (for a
        vocabulary word), then its n-gram rows. Empty when it has neither."""
        rows = self.ngram_rows(word)
        index = self.key_to_index.get(word, -1)
        return np.concatenate(([index], rows)) if index >= 0 else rows

    # ------------------------------------------------------------ keys

    def __contains__(self, key: object) -> bool:
        """True for vocabulary words and for any string with n-grams."""
        if self.has_index_for(key):
            return True
        return isinstance(key, str) and len(self.ngram_rows(key)) > 0

    def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
        """A vocabulary word's vector; for any other string the mean of its
        n-gram rows (a new array). KeyError when it has no n-gram."""
        if self.has_index_for(key) or not isinstance(key, str):
            return super().get_vector(key, norm)
        rows = self.ngram_rows(key)
        if len(rows) == 0:
            raise KeyError(f"Key {key!r} is not a vocabulary word and has no character n-grams "
                           f"of {self.min_n}..{self.max_n} characters (with its < > markers)")
        # GPU rows: only the word's rows are copied to the host
        found = self._input[rows] if is_host(self._input) else to_host(self._input[rows])
        vector = found.mean(axis=0, dtype=np.float64)
        if norm:
            length = np.linalg.norm(vector)
            vector = vector / length if length > 0 else vector
        result: np.ndarray = vector.astype(found.dtype)
        return result

    word_vec = get_vector

    def __getitem__(self, key_or_keys: Union[Key, Sequence[Key]]) -> np.ndarray:
        if is_key(key_or_keys):
            return self.get_vector(key_or_keys)
        return np.vstack([self.get_vector(key) for key in key_or_keys]) if len(key_or_keys) \
            else np.zeros((0, self.vector_size), dtype=np.float32)

    def similarity(self, w1: Key, w2: Key) -> float:
        """Cosine similarity; either word may be outside the vocabulary."""
        return float(self.get_vector(w1, norm=True) @ self.get_vector(w2, norm=True))

    def evaluate_word_pairs(self, pairs: StrPath, delimiter: str = "\t", encoding: str = "utf8",
                            restrict_vocab: int = 300000, case_insensitive: bool = True,
                            dummy4unknown: bool = False, unseen: str = "skip"
                            ) -> Tuple[CorrelationResult, CorrelationResult, float]:
        """``(pearson, spearman, oov_ratio)`` against human scores, as
        KeyedVectors' (gensim's: pairs with a word outside the first
        `restrict_vocab` words are skipped). ``unseen="ngrams"`` scores those
        pairs too, giving such words their n-gram vectors (lower-cased when
        `case_insensitive`, as corpora usually are); `oov_ratio` is then the
        percentage of pairs that needed one, and only pairs with a word that
        has no n-gram are skipped."""
        if unseen == "skip":
            return super().evaluate_word_pairs(pairs, delimiter, encoding, restrict_vocab,
                                               case_insensitive, dummy4unknown)
        if unseen != "ngrams":
            raise ValueError(f"unseen must be 'skip' or 'ngrams', got {unseen!r}")
        ok_vocab, _, _ = evaluation._case_vocab(self, restrict_vocab, case_insensitive)
        fold = evaluation._folder(case_insensitive)
        normed = self.get_normed_vectors()

        def unit(word: str) -> Tuple[Optional[np.ndarray], bool]:
            index = ok_vocab.get(fold(word))
            if index is not None:
                return normed[index], False
            word = word.lower() if case_insensitive else word
            return (self.get_vector(word, norm=True), True) if word in self else (None, True)

        gold: List[float] = []
        predicted: List[float] = []
        from_ngrams, skipped = 0, 0
        for _, a, b, score in evaluation.read_word_pairs(pairs, delimiter, encoding, False):
            (va, oa), (vb, ob) = unit(a), unit(b)
            if va is None or vb is None:
                skipped += 1
                if dummy4unknown:
                    gold.append(score)
                    predicted.append(0.0)
                continue
            from_ngrams += oa or ob
            gold.append(score)
            predicted.append(float(np.dot(va, vb)))
        if not gold:
            raise ValueError(f"{pairs}: no usable word pairs")
        pearson, spearman = evaluation.pearsonr(gold, predicted), evaluation.spearmanr(gold, predicted)
        oov_ratio = 100.0 * from_ngrams / (len(gold) + (0 if dummy4unknown else skipped))
        logger.info("Pearson %.4f, Spearman %.4f against %s; %d pairs scored with n-gram vectors, "
                    "%d skipped", pearson[0], spearman[0], pairs, from_ngrams, skipped)
        return pearson, spearman, oov_ratio

    def add_vectors(self, keys: Iterable[Any], weights: ArrayLike,
                    extras: Optional[Dict[str, np.ndarray]] = None, replace: bool = False) -> None:
        raise ValueError("FastTextKeyedVectors cannot add words: an added word would have no "
                         "row of its own in the input matrix (train a model with it instead)")

    def intersect_word2vec_format(self, fname: StrPath, lockf: float = 1.0, binary: bool = False,
                                  encoding: str = "utf8", unicode_errors: str = "strict",
                                  no_header: bool = False) -> int:
        raise ValueError("FastTextKeyedVectors cannot take vectors from a word2vec file: a "
                         "word's vector is the mean of its own and its n-gram rows, recomputed "
                         "from them after training, so a vector written in would be lost "
                         "(load a fastText .bin with load_facebook_model instead)")

    def to_embedding_bag(self, freeze: bool = False, *, copy: bool = False
                         ) -> Tuple["torch.nn.EmbeddingBag", SubwordIds]:
        """``(torch.nn.EmbeddingBag, SubwordIds)`` over the word and n-gram
        rows, for unseen words in torch (see torch_bridge.to_embedding_bag)."""
        from .torch_bridge import to_embedding_bag
        return to_embedding_bag(self, freeze=freeze, copy=copy)

    # ------------------------------------------------------------ files

    def save_word2vec_format(self, fname: StrPath, fvocab: Optional[StrPath] = None,
                             binary: bool = False, total_vec: Optional[int] = None,
                             write_header: bool = True) -> None:
        """Writes the vocabulary words' composed vectors in word2vec format.
        The n-gram rows are dropped: the file answers for these words only
        (save_facebook_model, the .bin, keeps them)."""
        logger.warning("%s: word2vec format keeps the %d vocabulary vectors and drops the %d "
                       "n-gram rows: unseen words get no vector from it (a fastText .bin keeps "
                       "them)", fname, len(self), self.bucket)
        super().save_word2vec_format(fname, fvocab, binary, total_vec, write_header)

    def _config(self) -> Dict[str, Any]:
        return {"format": KV_MAGIC, "version": KV_VERSION, "min_n": self.min_n,
                "max_n": self.max_n, "bucket": self.bucket, "vector_size": self.vector_size}

    def save(self, path: StrPath) -> None:
        """Writes words, counts and the input rows (n-grams included) to one
        archive, atomically; no pickle."""
        counts = self.expandos.get("count")
        write_archive(path, self._config(), self.index_to_key,
                      counts=np.zeros(len(self), np.int64) if counts is None else counts,
                      input=np.ascontiguousarray(to_host(self._input)))

    @classmethod
    def load(cls, path: StrPath) -> "FastTextKeyedVectors":
        config, words, arrays = read_archive(path, "FastText vectors file", ("counts", "input"),
                                             KV_MAGIC, KV_VERSION)
        words = [] if words == [""] else words
        return cls._from_archive(path, config, words, arrays["counts"], arrays["input"])

    @classmethod
    def _from_archive(cls, path: StrPath, config: Dict[str, Any], words: Sequence[str],
                      counts: np.ndarray, input_rows: np.ndarray) -> "FastTextKeyedVectors":
        """Checked construction from a file's parts (archives written by save())."""
        try:
            min_n, max_n = int(config["min_n"]), int(config["max_n"])
            bucket, dim = int(config["bucket"]), int(config["vector_size"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: bad FastText settings ({error})") from None
        check_ngram_settings(min_n, max_n, bucket)
        shape = (len(words) + bucket, dim)
        if input_rows.shape != shape or input_rows.dtype != np.float32:
            raise ValueError(f"{path}: the input matrix has shape {input_rows.shape} "
                             f"({input_rows.dtype}), expected {shape} (float32)")
        if counts.shape != (len(words),):
            raise ValueError(f"{path}: {counts.shape} counts for {len(words)} words")
        if not all_finite(input_rows):
            raise ValueError(f"{path}: the input matrix holds NaN or infinite values")
        kv = cls.from_rows(words, np.ascontiguousarray(input_rows), min_n, max_n, bucket, counts)
        kv.adjust_vectors()
        return kv

    def __repr__(self) -> str:
        return (f"FastTextKeyedVectors({len(self)} words + {self.bucket} n-gram buckets x "
                f"{self.vector_size} dims, n-grams of {self.min_n}..{self.max_n} characters)")


def check_ngram_settings(min_n: int, max_n: int, bucket: int) -> None:
    """ValueError naming the value for n-gram settings no model can use."""
    check_number("min_n", min_n, 1, 1000, integer=True)
    check_number("max_n", max_n, 1, 1000, integer=True)
    if min_n > max_n:
        raise ValueError(f"min_n={min_n} is larger than max_n={max_n}: no n-gram length fits "
                         "(fastText's max_n=0 to turn n-grams off is not supported: use Word2Vec)")
    if isinstance(bucket, (int, np.integer)) and not isinstance(bucket, bool) and bucket == 0:
        raise ValueError("bucket=0 leaves no rows for n-grams, so unseen words would get no "
                         "vector: give bucket >= 1 (fastText's default is 2000000), or use "
                         "Word2Vec")
    check_number("bucket", bucket, 1, 2**32 - 1, integer=True)
