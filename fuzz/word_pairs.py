"""The word-pair similarity file of evaluation (``w1<TAB>w2<TAB>score``
lines, ``#`` comments: embforge.evaluation.read_word_pairs), plain or
compressed."""
import math
import sys

import _harness

with _harness.instrumented():
    from embforge.evaluation import read_word_pairs

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    for line_no, first, second, score in read_word_pairs(_harness.SCRATCH.file(data)):
        if not isinstance(score, float) or not isinstance(first, str) or line_no < 1:
            raise _harness.ContractViolation(f"line {line_no}: {first!r} {second!r} {score!r}")
        math.isfinite(score)


def seeds():
    import gzip
    plain = b"# wordsim\nWord 1\tWord 2\tHuman (mean)\ntiger\tcat\t7.35\nbook\tpaper\t7.46\n"
    return {"plain": plain, "gzip": gzip.compress(plain, mtime=0),
            "crlf": b"king\tqueen\t8.5\r\nx\ty\t-1e3\r\n"}


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
