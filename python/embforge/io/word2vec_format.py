"""word2vec text and binary files, and GloVe text files.

Readers return plain arrays, ``(words, storage, counts)``, and never build a
``KeyedVectors`` themselves: ``storage`` holds the vectors in its first
``len(words)`` rows followed by ``spare_rows`` zero rows (see rows.py).

Every reader treats its input as untrusted. Malformed files raise a
``ValueError`` that names the file, the line (text) or byte offset (binary)
and the offending value; nothing is allocated from a header before the header
is checked against the file size (plain files) or the data actually read
(compressed files, whose size is unknown up front).

Formats
-------
word2vec text   ``"<count> <dim>\\n"`` then ``word v1 ... vdim\\n`` per word.
GloVe text      the same without the header line (``no_header=True``).
word2vec binary ``"<count> <dim>\\n"`` then per word ``word + b" "`` and dim
                little-endian float32. word2vec.c writes ``b"\\n"`` after each
                vector, gensim does not: the reader skips newlines before a word.

Duplicate words: the first vector is kept and later ones are dropped with a
warning, as gensim does.

Paths ending in ``.gz`` are written gzip-compressed; readers recognise gzip,
bzip2 and xz data by its magic bytes, whatever the name (see compression.py).
"""
from __future__ import annotations

import os
from typing import IO, Any, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import DTypeLike

from .._typing import StrPath
from ._errors import show
from .compression import atomic_output, open_binary
from .._layout import SPARE_ROWS
from .word2vec_binary import read_binary
from .word2vec_text import read_text

__all__ = ["read_word2vec", "write_word2vec"]

_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def _check_datatype(datatype: DTypeLike) -> np.dtype[Any]:
    dtype = np.dtype(datatype)
    if dtype.type not in _FLOAT_DTYPES:
        raise ValueError(f"datatype must be float16, float32 or float64, not {dtype}")
    return dtype


def _fake_counts(count: int, rows: int) -> np.ndarray:
    # gensim's made-up counts when a file has none: descending, rows - index.
    return rows - np.arange(count, dtype=np.int64)


# ---------------------------------------------------------------- reader

def read_word2vec(path: StrPath, binary: bool = False, limit: Optional[int] = None,
                  encoding: str = "utf8", unicode_errors: str = "strict", no_header: bool = False,
                  datatype: DTypeLike = np.float32, spare_rows: int = SPARE_ROWS
                  ) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """Reads a word2vec text/binary or GloVe (``no_header=True``) file; at most
    `limit` vectors if given (gensim: None or 0 read all).

    Returns ``(words, storage, counts)``: storage has ``len(words) + spare_rows``
    rows (the spare ones zero) of `datatype`; counts are gensim's made-up
    descending counts (the formats store none).
    """
    path = os.fspath(path)
    dtype = _check_datatype(datatype)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    limit = limit or None  # gensim: limit=0 means no limit
    if binary and no_header:
        raise ValueError("no_header is only for text files (GloVe); binary files always have a header")
    with open_binary(path) as (source, size):
        if binary:
            words, storage, rows = read_binary(source, path, size, limit, encoding,
                                               unicode_errors, spare_rows)
        else:
            words, storage, rows = read_text(source, path, size, limit, encoding,
                                             unicode_errors, no_header, spare_rows)
    if dtype != storage.dtype:
        storage = storage.astype(dtype)
    return words, storage, _fake_counts(len(words), rows)


# ---------------------------------------------------------------- writer

def _check_words_for_text(words: Sequence[str]) -> None:
    for index, word in enumerate(words):
        if not isinstance(word, str):
            raise ValueError(f"word #{index} is {type(word).__name__} {show(word)}, not a string: "
                             "word2vec files hold string keys")
        if not word or " " in word or "\n" in word:
            raise ValueError(f"word #{index} {show(word)} cannot be stored in a word2vec/GloVe "
                             "file: words must be non-empty and hold no space or newline")


def _check_finite(vectors: np.ndarray, words: Sequence[str]) -> None:
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(f"the vector of {show(words[row])} (row {row}) holds NaN or infinite "
                         "values; such files cannot be loaded back")


def write_word2vec(path: StrPath, words: Sequence[str], vectors: np.ndarray, binary: bool = False,
                   total_vec: Optional[int] = None, write_header: bool = True) -> None:
    """Writes word2vec text/binary (or GloVe text with ``write_header=False``), atomically.

    Text values use ``%.9g`` (``%.17g`` for float64 vectors): enough digits to
    read back the exact same float32. Binary records end with ``b"\\n"`` as
    word2vec.c writes them; gensim and word2vec.c both read that.
    `total_vec` overrides the count in the header (gensim's option for files
    that get more vectors appended later); it cannot be below ``len(words)``.
    """
    path = os.fspath(path)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"expected {len(words)} vectors, got an array of shape {vectors.shape}")
    if binary and not write_header:
        raise ValueError("binary word2vec files always have a header "
                         "(write_header=False is for GloVe text)")
    total = len(words) if total_vec is None else int(total_vec)
    if total < len(words):
        raise ValueError(f"total_vec={total} is less than the {len(words)} vectors written")
    _check_words_for_text(words)
    _check_finite(vectors, words)
    with atomic_output(path) as out:
        if write_header:
            out.write(f"{total} {vectors.shape[1]}\n".encode("ascii"))
        if binary:
            _write_binary_rows(out, words, vectors)
        else:
            _write_text_rows(out, words, vectors)


def _write_binary_rows(out: IO[bytes], words: Sequence[str], vectors: np.ndarray,
                       batch: int = 8192) -> None:
    for start in range(0, len(words), batch):
        rows = np.ascontiguousarray(vectors[start:start + batch], dtype="<f4")
        out.write(b"".join(word.encode("utf-8") + b" " + row.tobytes() + b"\n"
                          for word, row in zip(words[start:start + batch], rows)))


def _write_text_rows(out: IO[bytes], words: Sequence[str], vectors: np.ndarray,
                     batch: int = 4096) -> None:
    digits = 17 if vectors.dtype.itemsize >= 8 else 9
    fmt = " ".join([f"%.{digits}g"] * vectors.shape[1]) + "\n"
    for start in range(0, len(words), batch):
        rows = vectors[start:start + batch].tolist()
        out.write("".join(f"{word} " + fmt % tuple(row)
                          for word, row in zip(words[start:start + batch], rows)).encode("utf-8"))

