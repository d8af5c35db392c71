"""embforge's own ``.kv`` vectors file (KeyedVectors.load through
embforge.io.native_kv.read_native); an accepted file is written back and
must read back the same."""
import sys

import numpy as np

import _harness
import _seeds

with _harness.instrumented():
    from embforge.io.native_kv import read_native, write_native

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    words, storage, counts = read_native(_harness.SCRATCH.file(data))
    vectors = storage[:len(words)]
    again = _harness.SCRATCH.path("again")
    try:
        write_native(again, words, vectors, counts)
    except ValueError as error:
        raise _harness.ContractViolation(f"read vectors the writer refuses: {error}") from error
    words2, storage2, counts2 = read_native(again)
    if words2 != words or not np.array_equal(storage2, storage) or \
            (counts is None) != (counts2 is None) or \
            (counts is not None and not np.array_equal(counts, counts2)):
        raise _harness.ContractViolation("a written file reads back different")


def seeds():
    out = {}
    for name, count, dim, counts, dtype in (("small", 5, 3, [9, 7, 5, 3, 1], np.float32),
                                            ("no_counts", 2, 4, None, np.float32),
                                            ("float64", 3, 2, [3, 2, 1], np.float64),
                                            ("empty", 0, 5, None, np.float32)):
        vecs = _seeds.vectors(count, dim).astype(dtype)
        out[name] = _seeds.written(
            lambda p: write_native(p, _seeds.WORDS[:count], vecs, counts))
    return out


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
