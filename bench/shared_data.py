"""Paths of the shared benchmark data (../shared/data, read-only) and the
quality scores every benchmark reports, computed one way for every tool."""
import collections
import gzip
import os
import shutil

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
CORPORA = [os.path.join(SHARED, "corpus", name) for name in ("gcide.txt.gz", "kdocs.txt.gz")]
EVAL = os.path.join(SHARED, "eval")


def write_plain(paths, target, times=1):
    """The text of the .gz `paths`, one after the other, `times` over, into
    the plain file `target` (gensim's corpus_file and Stanford's tools read
    plain text only); returns `target`."""
    with open(target, "wb") as out:
        for _ in range(times):
            for path in paths:
                with gzip.open(path, "rb") as source:
                    shutil.copyfileobj(source, out, 16 << 20)
    return target


def frequency_order(paths):
    """Every word of `paths` by count (descending), ties alphabetical.

    The analogy score is restricted to the 30k most frequent words, and the
    tools break ties in count differently (gensim: first occurrence, embforge:
    alphabetical, word2vec.c: qsort's whim). On these corpora the 30,000th
    word has a count of 13, shared by hundreds of words, so each tool's own
    order picked a different top 30k and a different question set (gensim's
    6,375 questions against embforge's 6,521). quality() therefore puts every
    tool's vectors in this one order first.
    """
    counts = collections.Counter()
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                counts.update(line.split())
    return sorted(counts, key=lambda w: (-counts[w], w))


def in_order(wv, order):
    """`wv`'s vectors with its words sorted as in `order` (others at the end)."""
    from embforge import KeyedVectors
    rank = {w: i for i, w in enumerate(order)}
    words = sorted(wv.index_to_key, key=lambda w: (rank.get(w, len(rank)), w))
    vectors = np.ascontiguousarray(np.asarray(wv.vectors)[[wv.key_to_index[w] for w in words]])
    return KeyedVectors.from_storage(words, vectors)


def quality(wv, order=None):
    """(analogy accuracy over the 30k most frequent words, WordSim-353 rho,
    SimLex-999 rho). Pass frequency_order(corpora) as `order` when comparing
    tools, so that every tool is scored on the same questions."""
    if order is not None:
        wv = in_order(wv, order)
    analogy, _ = wv.evaluate_word_analogies(os.path.join(EVAL, "questions-words.txt"),
                                            restrict_vocab=30000)
    ws = wv.evaluate_word_pairs(os.path.join(EVAL, "wordsim353.tsv"))[1][0]
    simlex = wv.evaluate_word_pairs(os.path.join(EVAL, "simlex999.txt"))[1][0]
    return analogy, ws, simlex
