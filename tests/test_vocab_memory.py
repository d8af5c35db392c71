"""A corpus of very many distinct words: counts stay exact (nothing pruned,
as gensim's max_vocab_size pruning would), and past the vocabulary's memory
budget counting fails early with an error that names the budget and how
far it got, instead of growing until the machine runs out of memory."""
import collections
import os
import subprocess
import sys

import numpy as np
import pytest

import embforge



@pytest.fixture(scope="module")
def many_words(tmp_path_factory):
    """600k tokens over ~400k distinct words (most seen once), one line a 100 tokens."""
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 2_000_000, size=600_000) // np.maximum(1, rng.integers(1, 6, 600_000))
    tokens = [f"t{i:x}" for i in ids.tolist()]
    path = tmp_path_factory.mktemp("many") / "corpus.txt"
    with open(path, "w") as out:
        for s in range(0, len(tokens), 100):
            out.write(" ".join(tokens[s:s + 100]) + "\n")
    return str(path), collections.Counter(tokens)


def test_counts_of_a_large_vocabulary_are_exact(many_words):
    path, counter = many_words
    corpus = embforge.encode(path, min_count=1, vocab_memory="1GB")
    got = dict(zip(corpus.vocab.words, corpus.vocab.counts.tolist()))
    assert len(counter) > 300_000 and got == dict(counter)
    rare = embforge.encode(path, min_count=3)
    assert dict(zip(rare.vocab.words, rare.vocab.counts.tolist())) == \
        {w: c for w, c in counter.items() if c >= 3}


def test_a_vocabulary_past_its_budget_fails_early_naming_it(many_words):
    path, counter = many_words
    with pytest.raises(ValueError) as error:
        embforge.encode(path, min_count=5, vocab_memory="6MB")
    message = str(error.value)
    assert "counting the vocabulary needs more than its memory budget of 6000000 bytes" in message
    assert "distinct words after" in message and "memory=" in message
    with pytest.raises(ValueError, match="memory budget of 6000000 bytes"):
        embforge.Word2Vec(min_count=5, memory="6MB", workers=1).build_vocab(path)


def test_the_vocab_command_says_so_and_writes_nothing(many_words, tmp_path):
    path, _ = many_words
    # the import path of this test run: an installed package in CI, python/ in a
    # developer build
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = tmp_path / "vocab.txt"
    done = subprocess.run([sys.executable, "-m", "embforge", "vocab", path, "-o", str(out),
                           "--memory", "6MB"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "counting the vocabulary needs more than its memory budget" in done.stderr
    assert not out.exists()
