"""Small valid inputs for the seed corpora, written with embforge's own
writers (so a seed is exactly what a user's file looks like)."""
from __future__ import annotations

import io
import os
import struct
import tempfile
import zipfile

import numpy as np

WORDS = ["the", "of", "and", "kernel", "caf\u00e9", "\u65e5\u672c", "x"]


def vectors(count: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, dim)).astype(np.float32)


def written(write, suffix: str = "") -> bytes:
    """The bytes `write(path)` leaves in a fresh file."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "seed" + suffix)
        write(path)
        with open(path, "rb") as f:
            return f.read()


def split_members(archive: bytes) -> bytes:
    """An archive as the member encoding of zip_of (see archive targets)."""
    out = bytearray(b"M")
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        for info in z.infolist():
            name = info.filename.encode("utf-8")
            data = z.read(info)
            out += struct.pack("<B", len(name)) + name + struct.pack("<I", len(data)) + data
    return bytes(out)


SENTENCES = [["the", "kernel", "of", "the", "caf\u00e9"], ["and", "the", "x", "of", "kernel"],
             ["\u65e5\u672c", "and", "the", "of"]] * 4


def word2vec_model():
    from embforge.word2vec import Word2Vec
    return Word2Vec(vector_size=4, min_count=1, workers=1, epochs=1, progress=False).fit(SENTENCES)


def cooccurrence_matrix():
    from embforge.cooccurrence import cooccurrence
    return cooccurrence(SENTENCES, window=3, min_count=1, workers=1, progress=False)


def glove_model():
    from embforge.glove import GloVe
    return GloVe(vector_size=3, epochs=1, workers=1, progress=False).fit(cooccurrence_matrix())
