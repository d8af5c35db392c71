"""Text files of Zipf-distributed words (w0, w1, ...) for tests that need a
corpus long enough to take seconds to train."""
import numpy as np


def write_zipf_corpus(path, tokens: int, words: int, lines: int, seed: int) -> int:
    """Writes `tokens` words drawn from a Zipf law (exponent 1.3) over `words`
    words, in `lines` lines of equal length, to `path`; returns how many
    distinct words it holds (the vocabulary at min_count 1)."""
    rng = np.random.default_rng(seed)
    names = np.array([f"w{i}" for i in range(words)])
    ids = np.minimum(rng.zipf(1.3, size=tokens) - 1, words - 1)
    with open(path, "w") as out:
        for line in np.array_split(names[ids], lines):
            out.write(" ".join(line.tolist()) + "\n")
    return len(np.unique(ids))
