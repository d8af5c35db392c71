"""embforge's own vectors file, ``.kv`` (what ``KeyedVectors.save`` writes).

Layout: ``b"EMBFKV1\\0"``, a uint64 header length, a JSON header (format,
version, count, dim, dtype, words_bytes, has_counts) padded with spaces to a
64-byte boundary, then ``counts`` int64 [count], word ``offsets`` int64
[count + 1], ``vectors`` [count, dim], and the UTF-8 ``words`` blob. All
little-endian; read with ``readinto``/``np.frombuffer``, never pickle.

The reader treats the file as untrusted: every size in the header is checked
against the file size before anything is allocated, and a file with
duplicate words is rejected (the writer never makes one).
"""
from __future__ import annotations

import json
import os
import sys
from typing import IO, Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
from numpy.typing import ArrayLike

from .._typing import StrPath
from ._errors import parse_json, show
from .atomic import atomic_write
from .rows import check_dim
from .._layout import SPARE_ROWS

__all__ = ["NATIVE_MAGIC", "read_native", "write_native"]

NATIVE_MAGIC = b"EMBFKV1\0"
NATIVE_VERSION = 1
_NATIVE_ALIGN = 64
_MAX_NATIVE_HEADER = 1 << 20       # a real header is ~200 bytes


def write_native(path: StrPath, words: Sequence[str], vectors: np.ndarray,
                 counts: Optional[ArrayLike] = None) -> None:
    """Writes the ``.kv`` format (see the module doc), atomically."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"expected {len(words)} vectors, got an array of shape {vectors.shape}")
    if vectors.dtype.type not in (np.float32, np.float64):
        vectors = vectors.astype(np.float32)
    for index, word in enumerate(words):
        if not isinstance(word, str):
            raise ValueError(f"word #{index} is {type(word).__name__} {show(word)}, not a string")
    encoded = [word.encode("utf-8") for word in words]
    offsets = np.zeros(len(words) + 1, dtype="<i8")
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    has_counts = counts is not None
    counts = np.zeros(len(words), "<i8") if counts is None else np.asarray(counts, dtype="<i8")
    if counts.shape != (len(words),):
        raise ValueError(f"expected {len(words)} counts, got shape {counts.shape}")
    header = {"format": "embforge.KeyedVectors", "version": NATIVE_VERSION, "count": len(words),
              "dim": int(vectors.shape[1]), "dtype": vectors.dtype.name,
              "words_bytes": int(offsets[-1]), "has_counts": has_counts}
    blob = json.dumps(header).encode("utf-8")
    blob += b" " * (-(len(NATIVE_MAGIC) + 8 + len(blob)) % _NATIVE_ALIGN)
    size = (len(NATIVE_MAGIC) + 8 + len(blob) + counts.nbytes + offsets.nbytes + vectors.nbytes
            + int(offsets[-1]))
    with atomic_write(os.fspath(path), "wb", expected_bytes=size) as out:
        out.write(NATIVE_MAGIC + len(blob).to_bytes(8, "little") + blob)
        out.write(counts.tobytes())
        out.write(offsets.tobytes())
        out.write(np.ascontiguousarray(vectors, dtype=vectors.dtype.newbyteorder("<")).tobytes())
        out.write(b"".join(encoded))


def read_native(path: StrPath, spare_rows: int = SPARE_ROWS
                ) -> Tuple[List[str], np.ndarray, Optional[np.ndarray]]:
    """Reads a ``.kv`` file: ``(words, storage, counts or None)``. Every size
    in the header is checked against the file size before anything is allocated."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as source:
        header, start = _native_header(source, path, size)
        count, dim, itemsize = header["count"], header["dim"], header["itemsize"]
        expected = start + 16 * count + 8 + itemsize * count * dim + header["words_bytes"]
        if expected != size:
            raise ValueError(
                f"{path}: the header describes {count} vectors of {dim} values "
                f"({expected} bytes in all) but the file has {size} bytes "
                f"({'truncated' if size < expected else 'trailing data'})")
        counts = _read_array(source, path, "<i8", count)
        offsets = _read_array(source, path, "<i8", count + 1)
        storage = np.zeros((count + spare_rows, dim), dtype=header["dtype"])
        if count and source.readinto(storage[:count].data.cast("B")) != itemsize * count * dim:
            raise ValueError(f"{path}: the file ended while reading the vectors")
        if sys.byteorder == "big":
            storage.byteswap(inplace=True)
        words_blob = source.read()
    words = _native_words(path, offsets, words_blob, header["words_bytes"])
    finite = np.isfinite(storage[:count]).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(f"{path}: the vector of {show(words[row])} (row {row}) holds NaN or "
                         "infinite values")
    return words, storage, (counts.astype(np.int64) if header["has_counts"] else None)


def _native_header(source: IO[bytes], path: str, size: int) -> Tuple[Dict[str, Any], int]:
    start = source.read(len(NATIVE_MAGIC) + 8)
    if len(start) < len(NATIVE_MAGIC) or start[:len(NATIVE_MAGIC)] != NATIVE_MAGIC:
        pickled = start[:1] == b"\x80"
        raise ValueError(
            f"{path}: not an embforge vectors file (starts with {show(start[:8])}, expected "
            f"{NATIVE_MAGIC!r})" + ("; it looks like a pickle (gensim's .kv), which is never loaded "
                                    "for safety: write it with gensim's save_word2vec_format" if pickled
                                    else ""))
    if len(start) < len(NATIVE_MAGIC) + 8:
        raise ValueError(f"{path}: truncated embforge vectors file ({size} bytes)")
    length = int.from_bytes(start[len(NATIVE_MAGIC):], "little")
    if length > min(_MAX_NATIVE_HEADER, size - len(start)):
        raise ValueError(f"{path}: offset 8: header length {length} is larger than the file allows")
    raw = source.read(length)
    header = parse_json(raw, f"{path}: offset 16: the header is not valid JSON")
    return _check_native_header(header, path), len(start) + length


def _check_native_header(header: object, path: str) -> Dict[str, Any]:
    if not isinstance(header, dict):
        raise ValueError(f"{path}: offset 16: the header is {show(header)}, not a JSON object")
    if header.get("format") != "embforge.KeyedVectors":
        raise ValueError(f"{path}: offset 16: header format is {show(header.get('format'))}")
    if header.get("version") != NATIVE_VERSION:
        raise ValueError(f"{path}: offset 16: unsupported version {show(header.get('version'))} "
                         f"(this embforge reads version {NATIVE_VERSION})")
    for name in ("count", "dim", "words_bytes"):
        value = header.get(name)
        if type(value) is not int or value < 0:
            raise ValueError(f"{path}: offset 16: header field {name!r} is {show(value)}, not a "
                             "non-negative integer")
    if header["dim"] == 0:
        raise ValueError(f"{path}: offset 16: the dimension must be positive, the header says 0")
    check_dim(header["dim"], f"{path}: offset 16")
    if header.get("dtype") not in ("float32", "float64"):
        raise ValueError(f"{path}: offset 16: unsupported dtype {show(header.get('dtype'))}")
    if not isinstance(header.get("has_counts"), bool):
        raise ValueError(f"{path}: offset 16: header field 'has_counts' is "
                         f"{show(header.get('has_counts'))}, not true/false")
    header["itemsize"] = np.dtype(header["dtype"]).itemsize
    return header


def _read_array(source: IO[bytes], path: str, dtype: str, count: int) -> np.ndarray:
    data = source.read(np.dtype(dtype).itemsize * count)
    if len(data) != np.dtype(dtype).itemsize * count:
        raise ValueError(f"{path}: the file ended while reading its arrays")
    return np.frombuffer(data, dtype=dtype)


def _native_words(path: str, offsets: np.ndarray, blob: bytes, total: int) -> List[str]:
    backwards = np.diff(offsets) < 0
    if offsets[0] != 0 or offsets[-1] != total or backwards.any():
        bad = int(np.argmax(backwards)) if backwards.any() else 0
        raise ValueError(f"{path}: the word offsets are inconsistent (near word {bad}: "
                         f"{show(offsets[bad:bad + 2].tolist())}, blob size {total})")
    bounds = offsets.tolist()
    words = []
    for index in range(len(bounds) - 1):
        raw = blob[bounds[index]:bounds[index + 1]]
        try:
            words.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: word {index} {show(raw)} is not valid UTF-8 "
                             f"({error.reason})") from None
    if len(set(words)) != len(words):
        seen: Set[str] = set()
        for duplicate in words:  # the first word seen a second time
            if duplicate in seen:
                break
            seen.add(duplicate)
        raise ValueError(f"{path}: the word {show(duplicate)} appears twice")
    return words

