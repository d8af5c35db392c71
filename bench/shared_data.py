"""Paths of the shared benchmark data (../shared/data, read-only) and the
quality scores every benchmark reports, computed one way for every tool."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
CORPORA = [os.path.join(SHARED, "corpus", name) for name in ("gcide.txt.gz", "kdocs.txt.gz")]
EVAL = os.path.join(SHARED, "eval")


def quality(wv):
    """(analogy accuracy over the 30k most frequent words, WordSim-353 rho, SimLex-999 rho)."""
    analogy, _ = wv.evaluate_word_analogies(os.path.join(EVAL, "questions-words.txt"),
                                            restrict_vocab=30000)
    ws = wv.evaluate_word_pairs(os.path.join(EVAL, "wordsim353.tsv"))[1][0]
    simlex = wv.evaluate_word_pairs(os.path.join(EVAL, "simlex999.txt"))[1][0]
    return analogy, ws, simlex
