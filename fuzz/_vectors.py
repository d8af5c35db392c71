"""Shared by the word2vec/GloVe vector targets: read, and when the file is
accepted, write it back with embforge's writer and read that again: the
same words and the same float32 values must come back (the writer refuses
nothing the reader accepted, and the two agree on every value)."""
from __future__ import annotations

import numpy as np

from _harness import SCRATCH, ContractViolation, instrumented

with instrumented():
    from embforge.io.word2vec_format import read_word2vec, write_word2vec


def read_and_round_trip(data: bytes, *, binary: bool, no_header: bool) -> None:
    path = SCRATCH.file(data)
    words, storage, counts = read_word2vec(path, binary=binary, no_header=no_header)
    if storage.shape[0] < len(words) or len(counts) != len(words):
        raise ContractViolation(f"{len(words)} words, storage {storage.shape}, {len(counts)} counts")
    vectors = storage[:len(words)]
    if not np.isfinite(vectors).all():
        raise ContractViolation("accepted a file with non-finite values")
    if binary and any("\n" in word for word in words):
        return  # the writer keeps words newline-free for the text formats it shares rules with
    again = SCRATCH.path("again")
    try:
        write_word2vec(again, words, vectors, binary=binary, write_header=not no_header)
    except ValueError as error:
        raise ContractViolation(f"read {len(words)} words the writer refuses: {error}") from error
    words2, storage2, _ = read_word2vec(again, binary=binary, no_header=no_header)
    if words2 != words or not np.array_equal(storage2[:len(words2)], vectors):
        raise ContractViolation("a written file reads back different")
