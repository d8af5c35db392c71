"""Every kind of file embforge saves, for the kill tests: how to make two
distinct versions of it (A and B), save it, load it back and compare.

Run as a script (``python save_kinds.py KIND DIR``), it writes complete
reference copies ``DIR/ref-A`` and ``DIR/ref-B`` and A to ``DIR/target``,
prints ``ready``, then saves B and A in turn to ``DIR/target`` until it is
killed.
"""
import os
import sys

import numpy as np

import embforge
from embforge import Cooccurrence, GloVe, KeyedVectors, Vocabulary, Word2Vec

WORDS = 6000   # distinct words: files of a few MB, so that a kill lands mid-write


def _sentences(seed):
    rng = np.random.default_rng(seed)
    ids = rng.zipf(1.2, size=60_000) % WORDS
    return [[f"w{i}" for i in ids[s:s + 20]] for s in range(0, len(ids), 20)]


def _word2vec():
    return Word2Vec(_sentences(1), vector_size=64, min_count=1, workers=1, epochs=1, seed=1)


def _glove():
    return GloVe(vector_size=32, epochs=1, workers=1, seed=1).fit(_cooccurrence())


def _cooccurrence():
    return embforge.cooccurrence(_sentences(3), window=5, min_count=1, workers=1, progress=False)


def _keyed_vectors():
    rng = np.random.default_rng(4)
    words = [f"word{i}" for i in range(8_000)]
    storage = np.zeros((len(words) + 2, 50), np.float32)
    storage[:len(words)] = rng.standard_normal((len(words), 50))
    return KeyedVectors.from_storage(words, storage)


def _flip_vectors(model):
    """B: the same object with other numbers (every row negated)."""
    vectors = model.wv.vectors if hasattr(model, "wv") else model.vectors
    vectors *= -1


def _flip_counts(vocab):
    return Vocabulary(vocab.words, vocab.counts[::-1].copy() + 1)


def _flip_matrix(matrix):
    return Cooccurrence(matrix.rows, matrix.cols, matrix.values * 2, matrix.vocab)


def _vocab():
    return Vocabulary([f"v{i}" for i in range(100_000)], np.arange(100_000, 0, -1))


# kind: (make A, make B from A (a new object, or None to flip A in place), save, load, equal)
KINDS = {
    "word2vec": (_word2vec, None, lambda m, p: m.save(p), Word2Vec.load,
                 lambda a, b: np.array_equal(a.wv.vectors, b.wv.vectors)),
    "glove": (_glove, None, lambda m, p: m.save(p), GloVe.load,
              lambda a, b: np.array_equal(a.wv.vectors, b.wv.vectors)),
    "kv": (_keyed_vectors, None, lambda m, p: m.save(p), KeyedVectors.load,
           lambda a, b: np.array_equal(a.vectors, b.vectors)),
    "word2vec-text": (_keyed_vectors, None, lambda m, p: m.save_word2vec_format(p),
                      lambda p: KeyedVectors.load_word2vec_format(p),
                      lambda a, b: np.allclose(a.vectors, b.vectors, rtol=1e-5, atol=1e-6)),
    "word2vec-binary": (_keyed_vectors, None, lambda m, p: m.save_word2vec_format(p, binary=True),
                        lambda p: KeyedVectors.load_word2vec_format(p, binary=True),
                        lambda a, b: np.array_equal(a.vectors, b.vectors)),
    "cooccurrence": (_cooccurrence, _flip_matrix, lambda m, p: m.save(p), Cooccurrence.load,
                     lambda a, b: np.array_equal(a.values, b.values)),
    "cooccurrence-glove": (_cooccurrence, _flip_matrix, lambda m, p: m.save_glove_binary(p),
                           None, lambda a, b: np.array_equal(a.values, b.values)),
    "vocab": (_vocab, _flip_counts, lambda m, p: m.save(p), Vocabulary.load,
              lambda a, b: a == b),
}


def load(kind, path):
    """Loads a file of `kind` (GloVe's co-occurrence binary with the
    vocabulary file main() writes beside it)."""
    loader = KINDS[kind][3]
    if loader is None:
        return Cooccurrence.load_glove_binary(path, os.path.join(os.path.dirname(path), "vocab.txt"))
    return loader(path)


def versions(kind):
    make, flip, _, _, _ = KINDS[kind]
    a = make()
    if flip is not None:
        return a, flip(a), None
    return a, a, _flip_vectors          # one object, flipped in place between saves


def main(kind, directory):
    save = KINDS[kind][2]
    a, b, flip_in_place = versions(kind)
    target = os.path.join(directory, "target")
    if KINDS[kind][3] is None:
        a.vocab.save(os.path.join(directory, "vocab.txt"))
    save(a, os.path.join(directory, "ref-A"))
    save(a, target)                   # the previous complete file
    if flip_in_place:
        flip_in_place(a)
    save(b, os.path.join(directory, "ref-B"))
    print("ready", flush=True)
    while True:                       # B, A, B, A, ... until killed
        save(b, target)
        if flip_in_place:
            flip_in_place(a)
        elif b is not a:
            a, b = b, a


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
