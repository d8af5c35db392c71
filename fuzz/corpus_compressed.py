"""The corpus reader on compressed input made whole, cut short or with one
byte changed: gzip, bzip2 and xz streams of a text, built here so that
mutations reach the decompressors' error paths instead of only their magic
bytes. Input: a kind byte (0 gzip, 1 bzip2, 2 xz), a damage byte (0 none,
1 cut at the position, 2 flip the byte at the position), a 2-byte position
(little-endian, wrapped to the stream's length), then the text.

A whole stream must give exactly what the text gives plain (corpus.py's
reference); a damaged one must give a ValueError or, when the damage missed
the data (a time stamp, a flag of no consequence), that same result."""
import bz2
import gzip
import lzma
import sys

import _harness
import corpus

ALLOWED = (ValueError,)
NAMES_PATH = False
_COMPRESS = (lambda text: gzip.compress(text, mtime=0), bz2.compress, lzma.compress)


def stream_of(data: bytes) -> bytes:
    kind, damage = data[0] % 3 if data else 0, data[1] % 3 if len(data) > 1 else 0
    position = int.from_bytes(data[2:4], "little")
    packed = bytearray(_COMPRESS[kind](data[4:]))
    at = position % len(packed)
    if damage == 1:
        del packed[at:]
    elif damage == 2:
        packed[at] ^= 1 + (data[1] >> 2) % 255
    return bytes(packed)


def one_input(data: bytes) -> None:
    corpus.check_file(_harness.SCRATCH.file(stream_of(data)), *corpus.settings(data))


def seeds():
    text = corpus.seeds()["plain"]
    out = {}
    for kind, name in enumerate(("gzip", "bzip2", "xz")):
        out[name] = bytes([kind, 0, 0, 0]) + text
        out[name + "_cut"] = bytes([kind, 1, 40, 0]) + text
        out[name + "_flipped"] = bytes([kind, 2, 30, 0]) + text
    return out


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
