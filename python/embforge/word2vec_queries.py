"""What a Word2Vec model can say beyond its word vectors.

``Word2VecQueries`` is a mixin of :class:`embforge.Word2Vec`, with gensim's
names: ``predict_output_word`` (the output weights as a predictor of the
centre word) and ``estimate_memory`` (the bytes a model of a given
vocabulary holds). It reads the model's ``wv``, ``syn1neg``, ``vocab``,
``vector_size``, ``_tables``, ``_corpus`` and ``_backend``.
"""
from __future__ import annotations

import logging
from numbers import Integral
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._typing import Array
from ._layout import SPARE_ROWS
from .similarity import _argsort_desc, is_key

if TYPE_CHECKING:
    from .backends.base import Backend
    from .corpus import EncodedCorpus
    from .keyedvectors import KeyedVectors

__all__ = ["Word2VecQueries"]

logger = logging.getLogger("embforge.word2vec")

# Python objects per word, measured on CPython 3.11 (tests/test_word2vec_extras.py
# checks it against tracemalloc): the word's str, its entries in
# Vocabulary.word_to_index and wv.key_to_index (with the int object of its
# id), in three lists of words, and two int64 counts.
VOCAB_BYTES_PER_WORD = 200
TABLE_BYTES_PER_WORD = 12   # three uint32 per word: subsampling threshold, alias keep, alias index
FLOAT_BYTES = 4             # the trainers' weights are float32


class Word2VecQueries:
    """``predict_output_word`` and ``estimate_memory`` (see the module doc)."""

    if TYPE_CHECKING:  # what the queries use of the model they are mixed into (Word2Vec)
        wv: Optional[KeyedVectors]
        vector_size: int
        syn1neg: Array
        _backend: Backend
        _corpus: Optional[EncodedCorpus]

    def predict_output_word(self, context_words_list: Sequence[str], topn: Optional[int] = 10
                            ) -> Optional[List[Tuple[str, float]]]:
        """The likeliest centre words given context words, as gensim computes
        them: softmax over the vocabulary of ``syn1neg @ mean(context input
        vectors)`` (a CBOW-style pass, for skip-gram models too; negative
        sampling never trained a full softmax, so this is a rough predictor).

        `context_words_list`: words (or row numbers); words not in the
        vocabulary are ignored, and when none is left a warning is logged and
        None returned (gensim). Returns ``[(word, probability), ...]``, most
        probable first; ``topn=None`` returns every word. GPU models copy
        their output weights to the host for each call.
        """
        if self.wv is None:
            raise RuntimeError("the model has no vocabulary yet: call build_vocab() or fit() first")
        if is_key(context_words_list) and not isinstance(context_words_list, (int, np.integer)):
            raise ValueError(f"context_words_list must be a list of words, not the str "
                             f"{context_words_list!r}")
        if topn is not None and (not isinstance(topn, Integral) or isinstance(topn, bool)
                                 or topn < 0):
            raise ValueError(f"topn must be an integer >= 0 or None, not {topn!r}")
        rows = [self.wv.get_index(word) for word in context_words_list if word in self.wv]
        if not rows:
            logger.warning("predict_output_word: none of the context words %r is in the vocabulary",
                           list(context_words_list)[:10])
            return None
        hidden = self.wv.vectors[rows].astype(np.float64).mean(axis=0)
        output = self._backend.to_host(self.syn1neg)
        # float32 products (a float64 copy of syn1neg would double its memory),
        # the softmax in float64 and shifted by the largest logit, so that no
        # exp overflows (gensim's plain exp can return inf/nan on big logits)
        logits = (output @ hidden.astype(output.dtype)).astype(np.float64)
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        top = _argsort_desc(probabilities, len(probabilities) if topn is None else int(topn))
        return [(self.wv.index_to_key[i], float(probabilities[i])) for i in top.tolist()]

    def estimate_memory(self, vocab_size: Optional[int] = None,
                        report: Optional[Dict[str, int]] = None) -> Dict[str, int]:
        """Bytes a model of `vocab_size` words (default: the current
        vocabulary) holds, by part, as gensim reports them: ``"vocab"``
        (Python objects for the words), ``"vectors"`` (input rows and the
        ``SPARE_ROWS`` spare rows), ``"syn1neg"`` (output rows), ``"tables"``
        (subsampling and noise tables), ``"corpus"`` (the encoded corpus held
        in memory, 0 when memory-mapped or none) and ``"total"``. `report`: a
        dict to fill (gensim); returned either way.
        """
        if vocab_size is None:
            vocab_size = len(self.wv) if self.wv is not None else 0
        if not isinstance(vocab_size, Integral) or isinstance(vocab_size, bool) or vocab_size < 0:
            raise ValueError(f"vocab_size must be an integer >= 0, not {vocab_size!r}")
        vocab_size = int(vocab_size)
        report = {} if report is None else report
        report["vocab"] = vocab_size * VOCAB_BYTES_PER_WORD
        report["vectors"] = (vocab_size + SPARE_ROWS) * self.vector_size * FLOAT_BYTES
        report["syn1neg"] = vocab_size * self.vector_size * FLOAT_BYTES
        report["tables"] = vocab_size * TABLE_BYTES_PER_WORD
        report["corpus"] = self._corpus.ram_bytes if self._corpus is not None else 0
        report["total"] = sum(report[name] for name in ("vocab", "vectors", "syn1neg", "tables",
                                                         "corpus"))
        logger.info("estimated memory for %d words and %d dimensions: %d bytes", vocab_size,
                    self.vector_size, report["total"])
        return report
