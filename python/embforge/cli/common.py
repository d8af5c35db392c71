"""What several commands share: reading and writing vectors by file extension,
the corpus argument, and the status line on stderr."""
from __future__ import annotations

import os
import sys
from typing import List

from ..io.word2vec_header import has_header
from ..keyedvectors import KeyedVectors

__all__ = ["load_vectors", "save_vectors", "corpus_arg", "say"]


def load_vectors(path):
    """Reads vectors by extension: .kv (embforge), .bin (word2vec binary),
    anything else text (word2vec text with a header line, or GloVe without)."""
    path = os.fspath(path)
    if path.endswith(".kv"):
        return KeyedVectors.load(path)
    if path.endswith(".bin"):
        return KeyedVectors.load_word2vec_format(path, binary=True)
    return KeyedVectors.load_word2vec_format(path, binary=False, no_header=not has_header(path))


def save_vectors(wv, path) -> None:
    """Writes vectors in the format the extension names (see load_vectors)."""
    path = os.fspath(path)
    if path.endswith(".kv"):
        wv.save(path)
    else:
        wv.save_word2vec_format(path, binary=path.endswith(".bin"))


def corpus_arg(paths: List[str]):
    """One corpus path as itself, several as a list (what the trainers take)."""
    return paths[0] if len(paths) == 1 else list(paths)


def say(message: str) -> None:
    """A status line on stderr (stdout is kept for results, e.g. `similar`)."""
    print(message, file=sys.stderr)
