"""word2vec text vectors: ``"<count> <dim>"`` then ``word v1 ... vdim`` lines
(embforge.io.word2vec_format.read_word2vec, binary=False)."""
import sys

import _harness
import _seeds
from _vectors import read_and_round_trip, write_word2vec

# ValueError: the documented refusal (UnicodeDecodeError is one); the file
# is the fuzzer's own, so no OSError is expected.
ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    read_and_round_trip(data, binary=False, no_header=False)


def seeds():
    out = {}
    for name, count, dim in (("small", 5, 3), ("one", 1, 1), ("wide", 2, 40)):
        vecs = _seeds.vectors(count, dim)
        out[name] = _seeds.written(lambda p: write_word2vec(p, _seeds.WORDS[:count], vecs))
    out["empty_vocab"] = b"0 4\n"
    out["crlf"] = b"2 2\r\nthe 0.5 -1e-3\r\nof 1 2\r\n"
    vecs = _seeds.vectors(3, 2)
    out["gzip"] = _seeds.written(lambda p: write_word2vec(p, _seeds.WORDS[:3], vecs), ".gz")
    return out


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
