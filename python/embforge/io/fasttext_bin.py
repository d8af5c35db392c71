"""fastText's ``.bin`` model files: read and write unsupervised models.

Layout (little-endian, as fastText writes on x86): int32 magic 793712314 and
version 12; the arguments (12 int32: dim, ws, epoch, minCount, neg,
wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate, then float64 t);
the dictionary (int32 size, nwords, nlabels; int64 ntokens, pruneidx_size;
each entry: the word's bytes, a NUL, int64 count, int8 type; pruneidx_size
pairs of int32); then a bool "quantized" and the input matrix (int64 rows,
int64 cols, float32 rows x cols: nwords + bucket rows), a bool and the
output matrix (nwords rows for negative sampling).

Files are recognised by the magic number, whatever their extension.
Quantized models (``.ftz``) and supervised models (classifiers) are refused
with a message saying so. Every declared size is checked against what the
file can hold before anything is allocated, and truncated or trailing data
is an error naming the file and the offset.
"""
from __future__ import annotations

import os
import struct
import io
from typing import IO, Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from .._typing import StrPath
from .._checks import check_allocation
from ._errors import show
from .atomic import atomic_write

__all__ = ["MAGIC", "VERSION", "FastTextFile", "is_fasttext_bin", "read_fasttext_bin",
           "write_fasttext_bin"]

MAGIC = 793712314
VERSION = 12
MODEL_CBOW, MODEL_SKIPGRAM, MODEL_SUPERVISED = 1, 2, 3
LOSS_NS = 2
_LOSSES = {1: "hierarchical softmax", 2: "negative sampling", 3: "softmax", 4: "one-vs-all"}
_ARGS = ("dim", "ws", "epoch", "min_count", "neg", "word_ngrams", "loss", "model", "bucket",
         "minn", "maxn", "lr_update_rate")
_HEAD = struct.Struct("<2i")
_ARGS_STRUCT = struct.Struct("<12id")
_DICT_HEAD = struct.Struct("<3i2q")
_ENTRY_TAIL = struct.Struct("<qb")
_MATRIX_HEAD = struct.Struct("<?2q")
MAX_DIM = 1 << 16
_MAX_WORD_BYTES = 1 << 20  # longer is no word: a corrupt or hostile file


class FastTextFile(NamedTuple):
    """A model file's contents: ``args`` (the names of _ARGS, and ``t``),
    the words, their counts, the corpus token count, and the two matrices."""
    args: Dict[str, Any]
    words: List[str]
    counts: np.ndarray
    ntokens: int
    input: np.ndarray
    output: np.ndarray


def is_fasttext_bin(path: StrPath) -> bool:
    """True when the file starts with fastText's magic number."""
    try:
        with open(os.fspath(path), "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and struct.unpack("<i", head)[0] == MAGIC


class _Reader:
    """Reads a file front to back, naming the offset in every error."""

    def __init__(self, f: io.BufferedReader, path: str, size: int) -> None:
        self.f, self.path, self.size, self.offset = f, path, size, 0

    def left(self) -> int:
        return self.size - self.offset

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.path}: {message} (at byte {self.offset})")

    def take(self, n: int, what: str) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise self.error(f"truncated: {what} needs {n} bytes, the file has {len(data)} left")
        self.offset += n
        return data

    def unpack(self, layout: struct.Struct, what: str) -> Tuple[Any, ...]:
        return layout.unpack(self.take(layout.size, what))


def read_fasttext_bin(path: StrPath, unicode_errors: str = "strict") -> FastTextFile:
    """Reads an unsupervised fastText model (see the module doc); ValueError
    for anything else, naming what is wrong."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        r = _Reader(f, path, os.fstat(f.fileno()).st_size)
        magic, version = r.unpack(_HEAD, "the header")
        if magic != MAGIC:
            raise r.error(f"not a fastText .bin model: magic number {magic}, expected {MAGIC}")
        if version != VERSION:
            raise r.error(f"fastText .bin version {version} is not supported (only {VERSION}, "
                          "what fastText 0.9 writes)")
        values = r.unpack(_ARGS_STRUCT, "the arguments")
        args = dict(zip(_ARGS, values[:12]), t=values[12])
        _check_args(r, args)
        words, counts, ntokens = _read_dictionary(r, unicode_errors)
        nwords, dim, bucket = len(words), args["dim"], args["bucket"]
        matrix_input = _read_matrix(r, "input", nwords + bucket, dim)
        matrix_output = _read_matrix(r, "output", None, dim)
        if r.left():
            raise r.error(f"{r.left()} unexpected bytes after the output matrix")
    return FastTextFile(args, words, counts, ntokens, matrix_input, matrix_output)


def _check_args(r: _Reader, args: Dict[str, Any]) -> None:
    if args["model"] == MODEL_SUPERVISED:
        raise r.error("a supervised fastText model (a text classifier) has no word vectors to "
                      "read: only unsupervised (cbow, skipgram) models are supported")
    if args["model"] not in (MODEL_CBOW, MODEL_SKIPGRAM):
        raise r.error(f"unknown model kind {args['model']} (1: cbow, 2: skipgram)")
    if not 1 <= args["dim"] <= MAX_DIM:
        raise r.error(f"dim={args['dim']} is out of range [1, {MAX_DIM}]")
    if args["bucket"] < 1 or args["maxn"] < 1 or args["minn"] < 1 or args["minn"] > args["maxn"]:
        raise r.error(f"the model has no character n-grams (minn={args['minn']}, "
                      f"maxn={args['maxn']}, bucket={args['bucket']}): its words are plain "
                      "word vectors; save them in word2vec format with fastText instead")
    if args["maxn"] > 1000:
        raise r.error(f"maxn={args['maxn']} is out of range (at most 1000)")
    if args["loss"] not in _LOSSES:
        raise r.error(f"unknown loss {args['loss']}")


def _read_dictionary(r: _Reader, unicode_errors: str) -> Tuple[List[str], np.ndarray, int]:
    size, nwords, nlabels, ntokens, prune = r.unpack(_DICT_HEAD, "the dictionary header")
    if nlabels:
        raise r.error(f"the dictionary holds {nlabels} labels: a supervised model (a text "
                      "classifier), not supported")
    if nwords < 1 or size != nwords:
        raise r.error(f"the dictionary declares {size} entries and {nwords} words")
    if ntokens < 0:
        raise r.error(f"negative token count {ntokens}")
    if prune > 0:
        raise r.error(f"a pruned dictionary ({prune} entries): a quantized model (.ftz), not "
                      "supported: use the full .bin model")
    # each entry takes at least a NUL, the count and the type: 10 bytes
    if nwords * 10 > r.left():
        raise r.error(f"the dictionary declares {nwords} words, more than the {r.left()} bytes "
                      "left can hold")
    words: List[str] = []
    counts = np.empty(nwords, dtype=np.int64)
    seen = set()
    buffer, pos = b"", 0
    for i in range(nwords):
        end = buffer.find(b"\0", pos)
        while end < 0:
            if len(buffer) - pos > _MAX_WORD_BYTES:
                raise r.error(f"word {i} of {nwords} is longer than {_MAX_WORD_BYTES} bytes: "
                              "not a dictionary entry")
            more = r.f.read(1 << 20)
            if not more:
                raise r.error(f"truncated dictionary: word {i} of {nwords} has no end")
            buffer, pos = buffer[pos:] + more, 0
            end = buffer.find(b"\0")
        while len(buffer) < end + 1 + _ENTRY_TAIL.size:
            more = r.f.read(1 << 20)
            if not more:
                raise r.error(f"truncated dictionary: word {i} of {nwords} has no count")
            buffer += more
        raw = buffer[pos:end]
        count, kind = _ENTRY_TAIL.unpack_from(buffer, end + 1)
        try:
            word = raw.decode("utf-8", unicode_errors)
        except UnicodeDecodeError as error:
            raise r.error(f"word {i} {show(raw)} is not valid UTF-8 ({error.reason}); pass "
                          "unicode_errors='replace' to read it anyway") from None
        if kind != 0 or count < 0:
            raise r.error(f"word {i} {show(word)}: bad entry (type {kind}, count {count})")
        if word in seen:
            raise r.error(f"word {show(word)} appears twice in the dictionary")
        seen.add(word)
        words.append(word)
        counts[i] = count
        r.offset += end + 1 + _ENTRY_TAIL.size - pos
        pos = end + 1 + _ENTRY_TAIL.size
    # give back what was read past the dictionary
    r.f.seek(r.offset)
    return words, counts, int(ntokens)


def _read_matrix(r: _Reader, name: str, rows: Optional[int], dim: int) -> np.ndarray:
    quantized, m, n = r.unpack(_MATRIX_HEAD, f"the {name} matrix header")
    if quantized:
        raise r.error(f"the {name} matrix is quantized (a .ftz model): not supported, use the "
                      "full .bin model")
    if n != dim or m < 0 or (rows is not None and m != rows):
        expected = f"{rows} x {dim}" if rows is not None else f"rows x {dim}"
        raise r.error(f"the {name} matrix is declared {m} x {n}, expected {expected}")
    nbytes = m * n * 4
    if nbytes > r.left():
        raise r.error(f"truncated: the {name} matrix needs {nbytes} bytes, the file has "
                      f"{r.left()} left")
    check_allocation(f"reading {r.path}: the {name} matrix ({m} x {n})", nbytes)
    matrix = np.empty((m, n), dtype="<f4")
    got = r.f.readinto(matrix.reshape(-1).data.cast("B"))
    if got != nbytes:
        raise r.error(f"truncated: the {name} matrix has {got} of {nbytes} bytes")
    r.offset += nbytes
    if not np.isfinite(matrix).all():
        raise r.error(f"the {name} matrix holds NaN or infinite values")
    return matrix.astype(np.float32, copy=False)


def write_fasttext_bin(path: StrPath, args: Dict[str, Any], words: Iterable[str],
                       counts: ArrayLike, ntokens: int, input_rows: np.ndarray,
                       output: np.ndarray) -> None:
    """Writes a model fastText and gensim's load_facebook_model read, atomically.
    `args` holds the names of _ARGS and ``t``."""
    words = list(words)
    counts = np.asarray(counts, dtype=np.int64)
    encoded = [w.encode("utf-8") for w in words]
    bad = next((w for w, raw in zip(words, encoded) if b"\0" in raw), None)
    if bad is not None:
        raise ValueError(f"word {show(bad)} holds a NUL byte, which the .bin format cannot store")
    size = sum(len(e) + 10 for e in encoded) + input_rows.nbytes + output.nbytes + 256
    with atomic_write(path, "wb", expected_bytes=size) as out:
        out.write(_HEAD.pack(MAGIC, VERSION))
        out.write(_ARGS_STRUCT.pack(*(int(args[name]) for name in _ARGS), float(args["t"])))
        # pruneidx_size -1: not pruned, what fastText writes for an unquantized model
        out.write(_DICT_HEAD.pack(len(words), len(words), 0, int(ntokens), -1))
        out.write(b"".join(raw + b"\0" + _ENTRY_TAIL.pack(int(c), 0)
                           for raw, c in zip(encoded, counts)))
        for matrix in (input_rows, output):
            out.write(_MATRIX_HEAD.pack(False, matrix.shape[0], matrix.shape[1]))
            _write_rows(out, matrix)


def _write_rows(out: IO[bytes], matrix: np.ndarray, batch: int = 1 << 16) -> None:
    for start in range(0, matrix.shape[0], batch):
        out.write(np.ascontiguousarray(matrix[start:start + batch], dtype="<f4").tobytes())
