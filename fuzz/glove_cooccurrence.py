"""glove.c's co-occurrence binary: records of int32 word1, int32 word2,
float64 value (Cooccurrence.load_glove_binary, for a fixed 8-word
vocabulary); an accepted file is checked for the promises of the result:
ids in range, sorted unique (row, col) pairs, finite positive values."""
import sys

import numpy as np

import _harness

with _harness.instrumented():
    from embforge.cooccurrence import GLOVE_RECORD, Cooccurrence
    from embforge.vocab import Vocabulary

ALLOWED = (ValueError,)
NAMES_PATH = True
VOCAB = Vocabulary(["w%d" % i for i in range(8)], list(range(80, 0, -10)))


def one_input(data: bytes) -> None:
    matrix = Cooccurrence.load_glove_binary(_harness.SCRATCH.file(data), VOCAB)
    rows, cols, values = matrix.rows, matrix.cols, matrix.values
    keys = rows.astype(np.int64) * len(VOCAB) + cols
    if len(keys) and (rows.min() < 0 or rows.max() >= len(VOCAB) or cols.min() < 0
                      or cols.max() >= len(VOCAB)):
        raise _harness.ContractViolation("ids outside the vocabulary")
    if (np.diff(keys) <= 0).any():
        raise _harness.ContractViolation("pairs not sorted and unique")
    if len(values) and not (np.isfinite(values).all() and (values > 0).all()):
        raise _harness.ContractViolation("values not finite and > 0")


def _records(entries):
    records = np.zeros(len(entries), dtype=GLOVE_RECORD)
    for i, (w1, w2, value) in enumerate(entries):
        records[i] = (w1, w2, value)
    return records.tobytes()


def seeds():
    return {
        "sorted": _records([(1, 2, 1.0), (1, 3, 0.5), (2, 1, 1.0), (8, 8, 3.25)]),
        "shuffled_duplicates": _records([(3, 1, 0.25), (1, 2, 1.0), (3, 1, 0.5), (2, 2, 2.0)]),
        "one": _records([(5, 6, 1e-3)]),
        "empty": b"",
    }


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
