"""Word2Vec vocabularies from word counts, and growing a trained model's vocabulary.

``VocabularyUpdates`` is a mixin of :class:`embforge.Word2Vec`; it uses the
model's ``vocab``, ``wv``, ``_storage``, ``syn1neg``, ``_backend``,
``_make_tables()``, ``_reset_weights()``, ``_set_corpus()`` and
``stream_options()`` (the memory budget of the encoded text, and the threads
that read it).

Growing keeps every existing word's id. The input rows, the output rows
(``syn1neg``), the id stream of any corpus already encoded, saved archives
and checkpoints all address words by id, so a word that moved would pick up
another word's training. gensim does the same: old words first, in their
order, new words appended after them. The vocabulary is then no longer
sorted by count (new frequent words sit at the end); nothing depends on that
for correctness: the CPU kernel's thread-private copies of the first rows and
the distributed runs' more frequent sync of the first ``hot_sync_rows`` rows
are optimisations that hold for any rows, they only pay off less when the new
text's frequent words are not the old ones. Archives store the words in id
order and load them in that order, so an updated model saves and loads as is.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from numbers import Integral
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, TypeVar, Union, cast

import numpy as np

from ._typing import Array
from .corpus import encode
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .backends.base import Backend
    from .corpus import EncodedCorpus
    from .distributed.group import Group
    from .keyedvectors import KeyedVectors
    from .training_guard import TrainingGuard

__all__ = ["VocabularyUpdates"]

logger = logging.getLogger("embforge.word2vec")


def _sorted_new(counts: Dict[str, int]) -> List[str]:
    """Words by descending count, ties by byte order (Vocabulary's order)."""
    return sorted(counts, key=lambda word: (-counts[word], word.encode("utf-8")))


_Model = TypeVar("_Model", bound="VocabularyUpdates")


class VocabularyUpdates:
    """``build_vocab_from_freq`` and ``build_vocab(..., update=True)`` (see the module doc)."""

    if TYPE_CHECKING:  # what the updates use of the model they are mixed into (Word2Vec)
        vocab: Optional[Vocabulary]
        wv: Optional[KeyedVectors]
        vector_size: int
        min_count: int
        max_vocab_size: Optional[int]
        max_sentence_length: int
        seed: int
        _backend: Backend
        _group: Optional[Group]
        _guard: TrainingGuard
        _replicas: Any
        _storage: Array
        syn1neg: Array

        def stream_options(self) -> Dict[str, Any]: ...
        def _settings(self) -> Dict[str, Any]: ...
        def _make_tables(self) -> None: ...
        def _reset_weights(self, vocab: Vocabulary) -> None: ...
        def _set_corpus(self, corpus: Optional[EncodedCorpus], source: Any) -> None: ...

    def build_vocab_from_freq(self: _Model, word_freq: Mapping[str, int],
                              keep_raw_vocab: bool = False, corpus_count: Optional[int] = None,
                              trim_rule: Any = None, update: bool = False) -> _Model:
        """Builds (or with `update`, grows) the vocabulary from ``{word: count}``.

        Words counted at least `min_count` times (and at least once) are kept,
        ordered by count then byte order, at most `max_vocab_size`. No corpus
        is read: pass one to ``train()``, which encodes it with this vocabulary.
        With `update`, counts of known words are added to theirs and new words
        appended (see ``build_vocab``). `keep_raw_vocab` and `corpus_count` are
        accepted for gensim's callers and change nothing (no raw vocabulary is
        kept; train() counts the sentences itself); `trim_rule` is not
        supported (filter the dict instead).
        """
        if trim_rule is not None:
            raise ValueError("trim_rule is not supported: filter word_freq before passing it")
        if not isinstance(word_freq, Mapping):
            raise ValueError(f"word_freq must be a {{word: count}} mapping, not "
                             f"{type(word_freq).__name__}")
        words: List[str] = []
        counts: List[int] = []
        for word, count in word_freq.items():
            if not isinstance(count, Integral) or isinstance(count, bool) or count < 0:
                raise ValueError(f"the count of {word!r} must be an integer >= 0, not {count!r}")
            if not isinstance(word, str) or not word or word.split() != [word]:
                raise ValueError(f"words must be non-empty str without whitespace, not {word!r}")
            words.append(word)
            counts.append(int(count))
        self._guard.check_not_training("build the vocabulary of")
        # across processes every rank must build the same vocabulary: no text
        # is read here, so the counts themselves are compared
        self._replicas.check_same("Word2Vec settings", dict(self._settings(),
                                                            word_freq=[words, counts]))
        if update:
            self._require_vocab()
            self._grow(self._merged(words, counts))
            # a corpus encoded before lacks the new words: train() encodes again
            self._set_corpus(None, None)
            return self
        threshold = max(int(self.min_count), 1)
        kept = {w: c for w, c in zip(words, counts) if c >= threshold}
        order = _sorted_new(kept)[:self.max_vocab_size]
        if not order:
            raise ValueError(f"no word of the {len(words)} given is counted min_count="
                             f"{self.min_count} times or more")
        self._set_corpus(None, None)
        self._reset_weights(Vocabulary(order, [kept[w] for w in order]))
        logger.info("vocabulary of %d words from %d counts", len(order), len(words))
        return self

    def _require_vocab(self) -> None:
        if self.vocab is None:
            raise RuntimeError("update=True grows an existing vocabulary: build one first "
                               "(build_vocab(corpus) or build_vocab_from_freq(counts))")

    def _update_vocab(self: _Model, source: Any) -> _Model:
        """build_vocab(source, update=True): counts `source`, grows the
        vocabulary and the weights, and encodes `source` for train()."""
        self._require_vocab()
        self._guard.check_not_training("update the vocabulary of")
        self._replicas.check_same("Word2Vec settings", self._settings())
        # Two reads of the text: one counts every word (min_count applies to
        # the new words only, after the merge), the other encodes with the
        # merged ids, exactly as train() encodes any corpus given to it.
        counted = encode(source, min_count=1, max_sentence_length=self.max_sentence_length,
                         process_group=self._group, **self.stream_options()).vocab
        vocab = self._merged(counted.words, counted.counts)
        corpus = encode(source, vocab=vocab, max_sentence_length=self.max_sentence_length,
                        process_group=self._group, **self.stream_options())
        self._grow(vocab)
        self._set_corpus(corpus, source)
        return self

    def _merged(self, words: Sequence[str], counts: Union[Sequence[int], np.ndarray]) -> Vocabulary:
        """The old words, in their order, with `counts` added to theirs, then
        the new words counted at least min_count times, up to max_vocab_size
        words in all."""
        old = cast("Vocabulary", self.vocab)  # _require_vocab() checked it
        totals = old.counts.copy()
        new: Dict[str, int] = {}
        unknown = 0
        threshold = max(int(self.min_count), 1)
        for word, count in zip(words, counts):
            index = old.word_to_index.get(word)
            if index is not None:
                totals[index] += int(count)
            else:
                unknown += 1
                if count >= threshold:
                    new[word] = int(count)
        room = None if self.max_vocab_size is None else max(0, self.max_vocab_size - len(old))
        added = _sorted_new(new)[:room]
        logger.info("vocabulary update: %d new words, %d others left out (min_count=%d, "
                    "max_vocab_size=%s); %d words in all", len(added), unknown - len(added),
                    self.min_count, self.max_vocab_size, len(old) + len(added))
        return Vocabulary(old.words + added,
                          np.concatenate([totals, np.array([new[w] for w in added], np.int64)]))

    def _grow(self, vocab: Vocabulary) -> None:
        """Weights for `vocab`, whose first words are the current ones: their
        input and output rows are kept, new words' input rows are initialised
        as in a new model (the initialisation depends on the row only) and
        their output rows are zero; the subsampling and noise tables are
        rebuilt from the new counts. The model's ``wv`` stays the same object
        with new storage, so arrays handed out before (to_torch, to_gensim)
        no longer share its memory."""
        backend, old = self._backend, len(cast("Vocabulary", self.vocab))
        storage, syn1neg = backend.init_word2vec(len(vocab), self.vector_size, self.seed)
        # through the host: the backend contract copies host data in (a GPU
        # model takes one round trip per update)
        backend.copy_into(storage[:old], backend.to_host(self._storage[:old]))
        backend.copy_into(syn1neg[:old], backend.to_host(self.syn1neg))
        self.vocab, self._storage, self.syn1neg = vocab, storage, syn1neg
        wv = cast("KeyedVectors", self.wv)  # made with the vocabulary
        generation = wv._generation
        wv._setup(list(vocab.words), storage, vocab.counts)
        wv._generation = generation + 1  # a cache computed before is not kept
        self._make_tables()
