"""Helpers shared by the tests of the vector file formats (tests/test_word2vec_format.py,
test_native_kv.py, test_gensim_interop.py, test_atomic_write.py)."""
import struct

import numpy as np
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.extra import numpy as hnp

from embforge._layout import SPARE_ROWS
from embforge.keyedvectors import KeyedVectors

# Words for word2vec/GloVe files: anything but space and newline (the two
# separators of both formats), no lone surrogates (not encodable).
WORD = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=" \n"), min_size=1,
               max_size=10)
FINITE32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
FUNCTION_SCOPED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def word_vectors(draw, min_words=0, max_words=5, max_dim=300):
    words = draw(st.lists(WORD, min_size=min_words, max_size=max_words, unique=True))
    dim = draw(st.integers(1, max_dim))
    vectors = draw(hnp.arrays(np.float32, (len(words), dim), elements=FINITE32))
    return words, vectors


def kv_of(words, vectors, counts=None):
    storage = np.zeros((len(words) + SPARE_ROWS, vectors.shape[1]), dtype=np.float32)
    storage[: len(words)] = vectors
    return KeyedVectors.from_storage(words, storage, counts)


def write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def binary_record(word: str, values, newline=False) -> bytes:
    return word.encode() + b" " + struct.pack(f"<{len(values)}f", *values) + (b"\n" if newline else b"")


def record(word, values, newline=False):
    return binary_record(word, values, newline)
