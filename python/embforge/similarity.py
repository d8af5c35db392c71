"""gensim's similarity queries over a set of word vectors (cosine on unit vectors).

``SimilarityQueries`` is a mixin of :class:`embforge.KeyedVectors`: it reads
the vectors through ``get_normed_vectors()``, ``get_vector()``,
``get_index()``, ``index_to_key`` and ``vectors``, and keeps gensim's names,
arguments and results (``most_similar``, ``most_similar_cosmul``,
``similarity``, ``doesnt_match``, ...), with the differences listed in
keyedvectors' module doc (zero vectors never win; ``restrict_vocab`` in
``most_similar_cosmul``).
"""
from __future__ import annotations

import logging
from numbers import Integral
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike
from ._typing import Key, Neighbours, Terms

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = ["SimilarityQueries", "is_key"]

logger = logging.getLogger("embforge.keyedvectors")

_KEY_TYPES = (str, int, np.integer)


def is_key(item: object) -> "TypeIs[Key]":
    return isinstance(item, _KEY_TYPES)


def _ensure_list(value: Any) -> List[Any]:
    """gensim's rule: a single key or 1-D vector becomes a one-item list, a 2-D
    array a list of rows."""
    if value is None:
        return []
    if is_key(value) or (isinstance(value, np.ndarray) and value.ndim == 1):
        return [value]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        return list(value)
    return list(value)


def _unit(vector: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vector)
    return vector / length if length > 0 else vector


def _argsort_desc(values: np.ndarray, topn: int) -> np.ndarray:
    """Indices of the `topn` largest values, largest first (gensim's matutils.argsort)."""
    negated = -values
    if topn >= negated.size:
        return np.argsort(negated)
    best = np.argpartition(negated, topn)[:topn]
    return best.take(np.argsort(negated.take(best)))


class SimilarityQueries:
    """Nearest-neighbour and similarity queries (see the module doc)."""

    if TYPE_CHECKING:  # what the queries use of the class they are mixed into (KeyedVectors)
        vector_size: int
        index_to_key: List[Any]

        @property
        def vectors(self) -> np.ndarray: ...
        def __len__(self) -> int: ...
        def __contains__(self, key: object) -> bool: ...
        def get_index(self, key: object, default: Optional[int] = None) -> int: ...
        def has_index_for(self, key: object) -> bool: ...
        def get_vector(self, key: Key, norm: bool = False) -> np.ndarray: ...
        def get_normed_vectors(self) -> np.ndarray: ...


    def get_mean_vector(self, keys: Union[Sequence[Union[Key, np.ndarray]], np.ndarray],
                        weights: Optional[ArrayLike] = None, pre_normalize: bool = True,
                        post_normalize: bool = False, ignore_missing: bool = True) -> np.ndarray:
        """Weighted mean of keys' (unit, with `pre_normalize`) vectors and raw
        arrays, divided by the sum of absolute weights (gensim)."""
        if len(keys) == 0:
            raise ValueError("cannot compute mean with no input")
        weights = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(keys),):
            raise ValueError("keys and weights array must have same number of elements")
        mean = np.zeros(self.vector_size, dtype=np.float64)
        total = 0.0
        for key, weight in zip(keys, weights):
            if isinstance(key, np.ndarray):
                vector = key
            elif key in self:
                vector = self.get_vector(key, norm=pre_normalize)
            elif ignore_missing:
                continue
            else:
                raise KeyError(f"Key {key!r} not present in vocabulary")
            mean += weight * np.asarray(vector, dtype=np.float64)
            total += abs(weight)
        if total > 0:
            mean /= total
        if post_normalize:
            mean = _unit(mean)
        return mean.astype(self.vectors.dtype)

    def _clip(self, restrict_vocab: Optional[int], clip_start: int = 0,
              clip_end: Optional[int] = None) -> Tuple[int, int]:
        if restrict_vocab:
            return 0, min(int(restrict_vocab), len(self))
        return clip_start, min(clip_end or len(self), len(self))

    def _top(self, scores: np.ndarray, topn: int, exclude: Sequence[int], offset: int = 0
             ) -> List[Tuple[str, float]]:
        best = _argsort_desc(scores, topn + len(exclude))
        skip = set(exclude)
        result = [(self.index_to_key[i + offset], float(scores[i]))
                  for i in best.tolist() if i + offset not in skip]
        return result[:topn]

    def most_similar(self, positive: Optional[Terms] = None, negative: Optional[Terms] = None,
                     topn: int = 10, clip_start: int = 0, clip_end: Optional[int] = None,
                     restrict_vocab: Optional[int] = None) -> Neighbours:
        """Keys nearest (cosine) to the weighted mean of the unit vectors of
        `positive` (weight +1) and `negative` (weight -1) keys; items may be
        keys, arrays (used as they are) or ``(item, weight)`` pairs. Input keys
        are left out. ``topn=None`` returns the similarities of all keys."""
        if isinstance(topn, Integral) and topn < 1:
            return []
        positive, negative = _ensure_list(positive), _ensure_list(negative)
        items = positive + negative
        weights = np.r_[np.ones(len(positive)), -np.ones(len(negative))]
        keys = []
        for position, item in enumerate(items):
            if is_key(item) or isinstance(item, np.ndarray):
                keys.append(item)
            else:
                keys.append(item[0])
                weights[position] = item[1]
        mean = self.get_mean_vector(keys, weights, pre_normalize=True, post_normalize=True,
                                    ignore_missing=False)
        exclude = [self.get_index(k) for k in keys if is_key(k) and self.has_index_for(k)]
        start, end = self._clip(restrict_vocab, clip_start, clip_end)
        scores: np.ndarray = self.get_normed_vectors()[start:end] @ mean
        if not topn:
            return scores
        return self._top(scores, topn, exclude, start)

    def similar_by_key(self, key: Key, topn: int = 10, restrict_vocab: Optional[int] = None
                       ) -> Neighbours:
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def similar_by_vector(self, vector: ArrayLike, topn: int = 10,
                          restrict_vocab: Optional[int] = None) -> Neighbours:
        return self.most_similar(positive=[np.asarray(vector)], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_cosmul(self, positive: Optional[Terms] = None,
                            negative: Optional[Terms] = None, topn: int = 10,
                            restrict_vocab: Optional[int] = None) -> Neighbours:
        """3CosMul (Levy & Goldberg 2014): product of shifted cosines
        ``(1 + cos) / 2`` to the positives over that to the negatives (+1e-6)."""
        if isinstance(topn, Integral) and topn < 1:
            return []
        positive, negative = _ensure_list(positive), _ensure_list(negative)
        if not positive:
            raise ValueError("cannot compute similarity with no input")
        exclude = [self.get_index(k) for k in positive + negative if is_key(k) and k in self]
        start, end = self._clip(restrict_vocab)
        normed = self.get_normed_vectors()[start:end]

        def shifted(items: Sequence[Union[Key, np.ndarray]]) -> np.ndarray:
            terms = np.array([self.get_vector(k, norm=True) if is_key(k) else np.asarray(k)
                              for k in items], dtype=normed.dtype).reshape(len(items), self.vector_size)
            shifted_scores: np.ndarray = (1 + normed @ terms.T) / 2
            return shifted_scores

        scores: np.ndarray = (shifted(positive).prod(axis=1)
                              / (shifted(negative).prod(axis=1) + 0.000001))
        if not topn:
            return scores
        return self._top(scores, topn, exclude, start)

    @staticmethod
    def cosine_similarities(vector_1: ArrayLike, vectors_all: np.ndarray) -> np.ndarray:
        """Cosine similarity between one vector and each row of `vectors_all`."""
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        similarities: np.ndarray = np.dot(vectors_all, vector_1) / (norm * all_norms)
        return similarities

    def similarity(self, w1: Key, w2: Key) -> float:
        normed = self.get_normed_vectors()
        return float(normed[self.get_index(w1)] @ normed[self.get_index(w2)])

    def distance(self, w1: Key, w2: Key) -> float:
        return 1 - self.similarity(w1, w2)

    def n_similarity(self, ws1: Sequence[Key], ws2: Sequence[Key]) -> float:
        """Cosine similarity between the means of two sets of keys (missing keys
        are ignored, as in gensim)."""
        if not (len(ws1) and len(ws2)):
            raise ZeroDivisionError("At least one of the passed list is empty.")
        mean1 = self.get_mean_vector(ws1, pre_normalize=False)
        mean2 = self.get_mean_vector(ws2, pre_normalize=False)
        return float(_unit(mean1.astype(np.float64)) @ _unit(mean2.astype(np.float64)))

    def distances(self, word_or_vector: Union[Key, ArrayLike], other_words: Sequence[Key] = ()
                  ) -> np.ndarray:
        """Cosine distances from a key or vector to `other_words` (all keys if empty)."""
        vector = self.get_vector(word_or_vector) if is_key(word_or_vector) else word_or_vector
        if not other_words:
            others = self.vectors
        else:
            others = self.vectors[[self.get_index(word) for word in other_words]]
        return 1 - self.cosine_similarities(vector, others)

    def closer_than(self, key1: Key, key2: Key) -> List[str]:
        """Keys closer to `key1` than `key2` is."""
        distances = self.distances(key1)
        index1, index2 = self.get_index(key1), self.get_index(key2)
        closer = np.flatnonzero(distances < distances[index2])
        return [self.index_to_key[i] for i in closer.tolist() if i != index1]

    def rank(self, key1: Key, key2: Key) -> int:
        """Rank of `key2` among all keys by distance from `key1` (1 = nearest)."""
        return len(self.closer_than(key1, key2)) + 1

    def most_similar_to_given(self, key1: Key, keys_list: Sequence[Key]) -> Key:
        return keys_list[int(np.argmax([self.similarity(key1, key) for key in keys_list]))]

    def rank_by_centrality(self, words: Sequence[str], use_norm: bool = True
                           ) -> List[Tuple[float, str]]:
        """``(similarity, word)`` to the mean of all the words, most central first."""
        used = [word for word in words if word in self]
        if len(used) != len(words):
            logger.warning("vectors for words %s are not present in the model, ignoring these words",
                           set(words) - set(used))
        if not used:
            raise ValueError("cannot select a word from an empty list")
        vectors = np.vstack([self.get_vector(word, norm=use_norm) for word in used]).astype(np.float32)
        mean = self.get_mean_vector(vectors, post_normalize=True)
        return sorted(zip((vectors @ mean).tolist(), used), reverse=True)

    def relative_cosine_similarity(self, wa: Key, wb: Key, topn: int = 10) -> float:
        """Cosine similarity of `wa` and `wb` over the sum of the similarities
        of `wa`'s `topn` nearest keys (Leeuwenberg et al. 2016, eq. 1; above
        about 0.1 for topn=10 the pair is likelier synonyms than chance)."""
        if not isinstance(topn, Integral) or isinstance(topn, bool) or topn < 1:
            raise ValueError(f"topn must be a positive integer, not {topn!r}")
        total = sum(score for _, score in self.similar_by_key(wa, topn=topn))
        if total == 0:
            raise ValueError(f"cannot compute the relative cosine similarity of {wa!r}: its {topn} "
                             "nearest keys have similarities summing to 0 (or there are none)")
        return self.similarity(wa, wb) / total

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the words."""
        return self.rank_by_centrality(words)[-1][1]
