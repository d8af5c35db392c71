"""word2vec binary vectors: ``"<count> <dim>"`` then ``word b" "`` and dim
float32 per record (embforge.io.word2vec_format.read_word2vec, binary=True)."""
import sys

import _harness
import _seeds
from _vectors import read_and_round_trip, write_word2vec

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    read_and_round_trip(data, binary=True, no_header=False)


def seeds():
    out = {}
    for name, count, dim in (("small", 5, 3), ("one", 1, 1), ("wide", 2, 40)):
        vecs = _seeds.vectors(count, dim)
        out[name] = _seeds.written(
            lambda p: write_word2vec(p, _seeds.WORDS[:count], vecs, binary=True))
    # gensim writes no newline after a vector; word2vec.c does
    vecs = _seeds.vectors(3, 4)
    out["gensim_style"] = b"3 4\n" + b"".join(
        word.encode() + b" " + row.astype("<f4").tobytes() for word, row in zip(_seeds.WORDS, vecs))
    vecs = _seeds.vectors(3, 2)
    out["gzip"] = _seeds.written(
        lambda p: write_word2vec(p, _seeds.WORDS[:3], vecs, binary=True), ".gz")
    return out


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
