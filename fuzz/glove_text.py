"""GloVe text vectors: ``word v1 ... vdim`` lines, no header
(read_word2vec(no_header=True)), and has_header's sniffing of the first line."""
import sys

import _harness
import _seeds
from _vectors import read_and_round_trip, write_word2vec

with _harness.instrumented():
    from embforge.io.word2vec_header import has_header

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    has_header(_harness.SCRATCH.file(data, "sniffed"))
    read_and_round_trip(data, binary=False, no_header=True)


def seeds():
    out = {}
    for name, count, dim in (("small", 5, 3), ("one", 1, 1), ("wide", 2, 40)):
        vecs = _seeds.vectors(count, dim)
        out[name] = _seeds.written(
            lambda p: write_word2vec(p, _seeds.WORDS[:count], vecs, write_header=False))
    out["blank_end"] = b"a 1 2\nb 3 4\n\n\n"
    vecs = _seeds.vectors(4, 5)
    out["xz"] = __import__("lzma").compress(_seeds.written(
        lambda p: write_word2vec(p, _seeds.WORDS[:4], vecs, write_header=False)))
    return out


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
