"""Vector file formats: word2vec text and binary, GloVe text, and our own ``.kv``.

Readers return plain arrays, ``(words, storage, counts)``, and never build a
``KeyedVectors`` themselves (no import cycle): ``storage`` holds the vectors
in its first ``len(words)`` rows followed by ``spare_rows`` zero rows.

Every reader treats its input as untrusted. Malformed files raise a
``ValueError`` that names the file, the line (text) or byte offset (binary)
and the offending value; nothing is allocated from a header before the header
is checked against the file size (plain files) or the data actually read
(``.gz`` files, whose size is unknown up front).

Formats
-------
word2vec text   ``"<count> <dim>\\n"`` then ``word v1 ... vdim\\n`` per word.
GloVe text      the same without the header line (``no_header=True``).
word2vec binary ``"<count> <dim>\\n"`` then per word ``word + b" "`` and dim
                little-endian float32. word2vec.c writes ``b"\\n"`` after each
                vector, gensim does not: the reader skips newlines before a word.
embforge .kv    ``b"EMBFKV1\\0"``, a uint64 header length, a JSON header
                (format, version, count, dim, dtype, words_bytes, has_counts)
                padded with spaces to a 64-byte boundary, then ``counts`` int64
                [count], word ``offsets`` int64 [count + 1], ``vectors`` [count, dim],
                and the UTF-8 ``words`` blob. All little-endian; read with
                ``readinto``/``np.frombuffer``, never pickle.

Duplicate words in word2vec/GloVe files: the first vector is kept and later
ones are dropped with a warning, as gensim does. A ``.kv`` file with
duplicates is rejected (we never write one).

Text and binary word2vec paths ending in ``.gz`` are written gzip-compressed;
readers recognise gzip data by its magic bytes, whatever the name.
"""
from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import re
import secrets
import sys
import zlib
from typing import IO, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ._layout import SPARE_ROWS

__all__ = [
    "atomic_write", "open_binary", "open_text", "read_word2vec", "write_word2vec",
    "read_native", "write_native", "read_vocab_counts", "write_vocab_counts",
    "read_archive", "write_archive", "NATIVE_MAGIC",
]

logger = logging.getLogger(__name__)

NATIVE_MAGIC = b"EMBFKV1\0"
NATIVE_VERSION = 1
_NATIVE_ALIGN = 64
_MAX_NATIVE_HEADER = 1 << 20       # a real header is ~200 bytes
_MAX_HEADER_LINE = 1024            # "<count> <dim>\n"
_MAX_WORD_BYTES = 1 << 16          # binary: a word longer than this means a broken file
_TEXT_BLOCK_BYTES = 8 << 20        # lines parsed together (numpy conversion per block)
_BINARY_READ_BYTES = 1 << 20
_GROWTH_BYTES = 64 << 20           # first allocation when the row count is not known
_HEADER_RE = re.compile(rb"^\s*([0-9]+)\s+([0-9]+)\s*$")
_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


# ---------------------------------------------------------------- file helpers

@contextlib.contextmanager
def atomic_write(path, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO]:
    """Opens a temporary file next to `path` for writing; on success it is
    fsynced and renamed over `path` (``os.replace``), so readers see either the
    old file or the complete new one. On any error the temporary file is
    removed and `path` is left untouched.

    `mode` is ``"w"``/``"wt"`` (text, `encoding`) or ``"wb"``.
    """
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_write mode must be 'w', 'wt' or 'wb', not {mode!r}")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = _create_temp(directory, name)
    try:
        if mode == "wb":
            out = os.fdopen(fd, "wb")
        else:
            out = os.fdopen(fd, "w", encoding=encoding, newline="")
        with out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _create_temp(directory: str, name: str) -> Tuple[int, str]:
    # os.open with mode 0o666 lets the umask decide the permissions, as for a
    # plain open(); tempfile.mkstemp would leave the saved file at 0600.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _fsync_directory(directory: str) -> None:
    """Makes the rename durable (POSIX); best effort elsewhere."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as probe:
        return probe.read(2) == b"\x1f\x8b"


def open_binary(path) -> Tuple[IO[bytes], Optional[int]]:
    """Opens `path` for reading bytes, decompressing gzip data (detected by its
    magic bytes). Returns ``(file, size)``; size is None for gzip files."""
    path = os.fspath(path)
    if _is_gzip(path):
        return gzip.open(path, "rb"), None
    return open(path, "rb"), os.path.getsize(path)


def open_text(path, encoding: str = "utf-8", errors: str = "strict") -> IO[str]:
    """Opens a (possibly gzip-compressed) text file with universal newlines."""
    path = os.fspath(path)
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding=encoding, errors=errors)
    return open(path, "r", encoding=encoding, errors=errors)


@contextlib.contextmanager
def _compressed_errors(path: str):
    """Turns the errors gzip raises for damaged data into ValueErrors naming the file."""
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: damaged gzip data ({error})") from error


@contextlib.contextmanager
def _output(path: str):
    """A binary output, atomically written, gzip-compressed if the name ends in .gz."""
    with atomic_write(path, "wb") as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as packed:
                yield packed
        else:
            yield raw


def _show(value, limit: int = 60) -> str:
    """repr() of an offending value, shortened for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_datatype(datatype) -> np.dtype:
    dtype = np.dtype(datatype)
    if dtype.type not in _FLOAT_DTYPES:
        raise ValueError(f"datatype must be float16, float32 or float64, not {dtype}")
    return dtype


# ---------------------------------------------------------------- row storage

class _Rows:
    """Float32 rows collected into one array. Nothing is allocated before the
    first block of rows has been read and checked; the array then starts at
    `initial` rows (at least the block), grows in place (``ndarray.resize``
    reallocates without a second copy) up to `max_rows`, and is finally
    trimmed to the rows read plus `spare` zero rows."""

    def __init__(self, dim: int, initial: int, max_rows: Optional[int], spare: int):
        self.dim, self.initial, self.max_rows, self.spare = dim, initial, max_rows, spare
        self.array: Optional[np.ndarray] = None
        self.capacity = 0
        self.count = 0

    def extend(self, block: np.ndarray) -> None:
        need = self.count + len(block)
        if self.array is None:
            self.capacity = max(need, self.initial)
            self.array = np.empty((self.capacity + self.spare, self.dim), dtype=np.float32)
        elif need > self.capacity:
            grown = max(need, 2 * self.capacity)
            if self.max_rows is not None:
                grown = max(need, min(grown, self.max_rows))
            self.array.resize((grown + self.spare, self.dim), refcheck=False)
            self.capacity = grown
        self.array[self.count:need] = block
        self.count = need

    def finish(self) -> np.ndarray:
        if self.array is None:
            return np.zeros((self.spare, self.dim), dtype=np.float32)
        if self.capacity != self.count:
            self.array.resize((self.count + self.spare, self.dim), refcheck=False)
        self.array[self.count:] = 0.0
        return self.array


def _initial_rows(dim: int, wanted: Optional[int], bound: Optional[int]) -> int:
    """Rows to allocate with the first block: never more than the file can hold
    (`bound`, from its size) nor, when that is unknown, more than ~64 MiB."""
    cap = bound if bound is not None else max(1, _GROWTH_BYTES // (4 * dim))
    return cap if wanted is None else min(wanted, cap)


class _Vocab:
    """Words in file order with duplicates dropped (the first vector wins, as
    in gensim), with a single warning listing some of the duplicates."""

    def __init__(self):
        self.words: List[str] = []
        self.index = {}
        self.duplicates: List[str] = []

    def add(self, word: str) -> bool:
        if word in self.index:
            self.duplicates.append(word)
            return False
        self.index[word] = len(self.words)
        self.words.append(word)
        return True

    def warn(self, path: str) -> None:
        if self.duplicates:
            shown = ", ".join(_show(w, 30) for w in self.duplicates[:5])
            logger.warning("%s: %d duplicate word(s) (%s%s); kept the first vector of each, "
                           "as gensim does", path, len(self.duplicates), shown,
                           ", ..." if len(self.duplicates) > 5 else "")


def _fake_counts(count: int, rows: int) -> np.ndarray:
    # gensim's made-up counts when a file has none: descending, rows - index.
    return rows - np.arange(count, dtype=np.int64)


# ---------------------------------------------------------------- word2vec / GloVe readers

def read_word2vec(path, binary: bool = False, limit: Optional[int] = None, encoding: str = "utf8",
                  unicode_errors: str = "strict", no_header: bool = False,
                  datatype=np.float32, spare_rows: int = SPARE_ROWS):
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
    source, size = open_binary(path)
    with source, _compressed_errors(path):
        if binary:
            words, storage, rows = _read_binary(source, path, size, limit, encoding,
                                                unicode_errors, spare_rows)
        else:
            words, storage, rows = _read_text(source, path, size, limit, encoding,
                                              unicode_errors, no_header, spare_rows)
    if dtype != storage.dtype:
        storage = storage.astype(dtype)
    return words, storage, _fake_counts(len(words), rows)


def _parse_header(raw: bytes, path: str) -> Tuple[int, int]:
    if raw.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark
        raw = raw[3:]
    match = _HEADER_RE.match(raw)
    if not match:
        hint = "" if raw.strip() else " (empty file?)"
        raise ValueError(
            f"{path}: line 1: expected a header '<count> <dimension>', found "
            f"{_show(raw.decode('utf-8', 'replace').rstrip())}{hint}; GloVe files have no "
            "header: load them with no_header=True")
    count, dim = int(match.group(1)), int(match.group(2))
    if dim <= 0:
        raise ValueError(f"{path}: line 1: the dimension must be positive, the header says {dim}")
    return count, dim


def _read_header(source, path: str) -> Tuple[int, int, int]:
    raw = source.readline(_MAX_HEADER_LINE)
    if not raw:
        raise ValueError(f"{path}: empty file")
    count, dim = _parse_header(raw, path)
    return count, dim, len(raw)


class _TextState:
    """What the text reader knows between blocks of lines."""

    def __init__(self, path, dim, wanted, limited, declared):
        self.path, self.dim, self.wanted = path, dim, wanted
        self.limited, self.declared = limited, declared
        self.line_no = 1 if declared is not None else 0
        self.rows = 0               # rows read, duplicates included (gensim's count)
        self.blank_line = 0         # first blank line seen (only allowed at the end)
        self.vocab = _Vocab()
        self.buffer: Optional[_Rows] = None

    def done(self) -> bool:
        return self.wanted is not None and self.rows >= self.wanted


def _read_text(source, path, size, limit, encoding, unicode_errors, no_header, spare):
    if no_header:
        state = _TextState(path, None, limit, limit is not None, None)
        header_bytes = 0
    else:
        count, dim, header_bytes = _read_header(source, path)
        wanted = count if limit is None else min(count, limit)
        state = _TextState(path, dim, wanted, limit is not None, count)
        # A row takes at least 2 * dim + 1 bytes ("w" and dim times " 0"):
        # a count the file cannot hold is an error before anything is read.
        if size is not None and limit is None and count * (2 * dim + 1) > size - header_bytes:
            raise ValueError(
                f"{path}: line 1: the header declares {count} vectors of {dim} values, more than "
                f"the {size} bytes of the file can hold (wrong header or truncated file)")
    while not state.done():
        lines = source.readlines(_TEXT_BLOCK_BYTES)
        if not lines:
            break
        if state.dim is None and not _first_dim(lines, state, encoding, unicode_errors):
            state.line_no += len(lines)  # a block of blank lines
            continue
        if state.buffer is None:
            if size is None:  # gzip: start from the first block, grow by doubling
                bound = 2 * len(lines)
            else:
                bound = (size - header_bytes) // (2 * state.dim + 1) + 1
            if no_header and size is not None:  # estimate from the first block's line length
                used = max(1, sum(map(len, lines)))
                bound = min(bound, int(size * len(lines) / used * 1.1) + 16)
            state.buffer = _Rows(state.dim, _initial_rows(state.dim, state.wanted, bound),
                                 state.wanted, spare)
        leftover = _parse_text_block(lines, state, encoding, unicode_errors)
        if state.done() and not state.limited:
            _reject_extra_rows(leftover, source, state)
    if state.buffer is None:
        if no_header:
            raise ValueError(f"{path}: no vectors found (empty file?)")
        state.buffer = _Rows(state.dim, 0, 0, spare)
    if state.wanted is not None and state.rows < state.wanted:
        raise ValueError(
            f"{path}: line {state.line_no}: the header declares {state.declared} vectors but the "
            f"file ends after {state.rows} (truncated file or wrong header)")
    state.vocab.warn(path)
    return state.vocab.words, state.buffer.finish(), state.rows


def _first_dim(lines, state, encoding, unicode_errors) -> bool:
    """GloVe files: the first non-blank line sets the dimension."""
    for offset, raw in enumerate(lines):
        if raw.strip():
            text = _decode_line(raw, state.path, state.line_no + offset + 1, encoding, unicode_errors)
            state.dim = len(text.rstrip().split(" ")) - 1
            if state.dim < 1:
                raise ValueError(f"{state.path}: line {state.line_no + offset + 1}: expected a word "
                                 f"and its vector, found {_show(text.rstrip())}")
            return True
    state.blank_line = state.blank_line or state.line_no + 1
    return False


def _decode_line(raw: bytes, path, line_no, encoding, unicode_errors) -> str:
    try:
        return raw.decode(encoding, unicode_errors)
    except UnicodeDecodeError as error:
        bad = raw[error.start:error.end]
        raise ValueError(
            f"{path}: line {line_no}: bytes {bad!r} at column {error.start + 1} are not valid "
            f"{encoding} ({error.reason}); pass unicode_errors='replace' or 'ignore' to load "
            "such words anyway") from None


def _parse_text_block(lines, state: _TextState, encoding, unicode_errors) -> List[bytes]:
    """Parses rows until the block ends or enough rows are read; returns the
    lines left over. Values are converted by numpy for the whole block."""
    path, dim = state.path, state.dim
    values: List[str] = []
    kept_lines: List[Tuple[int, str]] = []   # (line number, text) for error messages
    for position, raw in enumerate(lines):
        if state.done():
            _store_block(values, kept_lines, state)
            return lines[position:]
        state.line_no += 1
        try:
            text = _decode_line(raw, path, state.line_no, encoding, unicode_errors).rstrip()
        except ValueError as error:
            raise ValueError(f"{error} (a binary word2vec file? load it with binary=True)") from None
        if not text:
            state.blank_line = state.blank_line or state.line_no
            continue
        if state.blank_line:
            raise ValueError(f"{path}: line {state.blank_line}: empty line (allowed only at the "
                             "end of the file)")
        parts = text.split(" ")
        if len(parts) != dim + 1:
            raise ValueError(
                f"{path}: line {state.line_no}: expected a word and {dim} values, found "
                f"{len(parts) - 1} values after {_show(parts[0], 40)} (row "
                f"{'too short' if len(parts) < dim + 1 else 'too long'}, or a word with a space)")
        if not parts[0]:
            raise ValueError(f"{path}: line {state.line_no}: the line starts with a space "
                             "(empty word)")
        state.rows += 1
        if state.vocab.add(parts[0]):
            values.extend(parts[1:])
            kept_lines.append((state.line_no, text))
    _store_block(values, kept_lines, state)
    return []


def _store_block(values: List[str], kept_lines, state: _TextState) -> None:
    if not kept_lines:
        return
    try:
        with np.errstate(over="ignore"):  # 1e50 -> inf, reported below
            block = np.array(values, dtype=np.float32).reshape(len(kept_lines), state.dim)
    except ValueError:
        block = None
    if block is None or not np.isfinite(block).all():
        _explain_bad_values(kept_lines, state.path)
    state.buffer.extend(block)


def _explain_bad_values(kept_lines, path) -> None:
    """Finds the first value of the block numpy refused (slow path, errors only)."""
    for line_no, text in kept_lines:
        for column, field in enumerate(text.split(" ")[1:], start=2):
            try:
                value = float(field)
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: field {column} is not a number: "
                                 f"{_show(field)}") from None
            with np.errstate(over="ignore"):
                finite = bool(np.isfinite(np.float32(value)))
            if not finite:
                raise ValueError(f"{path}: line {line_no}: field {column} is not a finite float32: "
                                 f"{_show(field)}")
    raise ValueError(f"{path}: invalid values")  # pragma: no cover - numpy and float() disagree


def _reject_extra_rows(leftover: List[bytes], source, state: _TextState) -> None:
    """After the declared rows only blank lines may follow."""
    line_no = state.line_no
    while True:
        for raw in leftover:
            line_no += 1
            if raw.strip():
                raise ValueError(
                    f"{state.path}: line {line_no}: more rows than the {state.declared} the "
                    f"header declares: {_show(raw[:40].decode('utf-8', 'replace'))}")
        leftover = source.readlines(_TEXT_BLOCK_BYTES)
        if not leftover:
            return


def _read_binary(source, path, size, limit, encoding, unicode_errors, spare):
    count, dim, header_bytes = _read_header(source, path)
    wanted = count if limit is None else min(count, limit)
    row_bytes = 4 * dim
    # Each vector needs at least a 1-byte word, a space and dim floats.
    if size is not None and wanted * (row_bytes + 2) > size - header_bytes:
        raise ValueError(
            f"{path}: offset 0: the header declares {count} vectors of {dim} float32 values, "
            f"needing at least {wanted * (row_bytes + 2)} bytes, but only "
            f"{size - header_bytes} follow the header (wrong header or truncated file)")
    bound = None if size is None else wanted
    buffer = _Rows(dim, _initial_rows(dim, wanted, bound), wanted, spare)
    reader = _BinaryRows(source, path, header_bytes, row_bytes, encoding, unicode_errors)
    vocab = _Vocab()
    rows = 0
    while rows < wanted:
        words, block, offsets = reader.next_rows(wanted - rows)
        if not words:
            raise ValueError(
                f"{path}: offset {reader.offset}: the file ends after {rows} of the {count} "
                "vectors the header declares (truncated file or wrong header)")
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(f"{path}: offset {offsets[first]}: the vector of {_show(words[first])} "
                             f"holds NaN or infinite values: {_show(block[first][:4].tolist())}...")
        if rows == 0 and _looks_like_text(block[:1].tobytes()):
            raise ValueError(f"{path}: offset {offsets[0]}: the vector of {_show(words[0])} reads as "
                             f"text {_show(block[:1].tobytes()[:40])}: a text file? load it with "
                             "binary=False")
        keep = [vocab.add(word) for word in words]
        rows += len(words)
        buffer.extend(block if all(keep) else block[np.array(keep)])
    if limit is None:
        reader.reject_trailing(count)
    vocab.warn(path)
    return vocab.words, buffer.finish(), rows


_TEXT_BYTES = frozenset(b"0123456789.-+eE \t\r\n")


def _looks_like_text(vector_bytes: bytes) -> bool:
    """Float32 data made only of the bytes of printed numbers is text read as
    binary. By chance that is (17/256) ** 8 < 4e-10 for 2 or more values; a
    single value is not judged."""
    return len(vector_bytes) >= 8 and all(byte in _TEXT_BYTES for byte in vector_bytes)


class _BinaryRows:
    """Reads ``word b" " float32 * dim`` records from a byte stream in chunks."""

    def __init__(self, source, path, offset, row_bytes, encoding, unicode_errors):
        self.source, self.path, self.row_bytes = source, path, row_bytes
        self.encoding, self.unicode_errors = encoding, unicode_errors
        self.chunk = bytearray()
        self.pos = 0
        self.base = offset           # file offset of chunk[0]
        self.read_size = min(max(_BINARY_READ_BYTES, 2 * (row_bytes + 64)), 16 << 20)

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _more(self) -> bool:
        data = self.source.read(self.read_size)
        if not data:
            return False
        # A bytearray grows in place: a record larger than one read (huge dim)
        # costs amortised linear time, not a full copy per read.
        del self.chunk[:self.pos]
        self.base += self.pos
        self.pos = 0
        self.chunk += data
        return True

    def next_rows(self, most: int):
        """Up to `most` records available in the current chunk (reading more
        when not even one is there): (words, float32 block, record offsets)."""
        words, slices, offsets = [], [], []
        while len(words) < most:
            start = self.pos
            while start < len(self.chunk) and self.chunk[start] == 0x0A:  # word2vec.c's "\n"
                start += 1
            space = self.chunk.find(b" ", start, start + _MAX_WORD_BYTES + 1)
            end = space + 1 + self.row_bytes
            if space < 0 or end > len(self.chunk):
                if words:
                    break  # return what we have, read more on the next call
                if space < 0 and len(self.chunk) - start > _MAX_WORD_BYTES:
                    raise ValueError(
                        f"{self.path}: offset {self.base + start}: no space after a word within "
                        f"{_MAX_WORD_BYTES} bytes ({_show(bytes(self.chunk[start:start + 40]))}...): "
                        "not a word2vec binary file?")
                if not self._more():
                    return [], None, []
                continue
            word = self._decode(bytes(self.chunk[start:space]), self.base + start)
            words.append(word)
            offsets.append(self.base + start)
            slices.append(self.chunk[space + 1:end])
            self.pos = end
        block = np.frombuffer(b"".join(slices), dtype="<f4").reshape(len(words), -1)
        return words, block, offsets

    def _decode(self, raw: bytes, offset: int) -> str:
        if not raw:
            raise ValueError(f"{self.path}: offset {offset}: empty word (a space where a word "
                             "should start)")
        try:
            return raw.decode(self.encoding, self.unicode_errors)
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{self.path}: offset {offset + error.start}: the word {_show(raw)} is not valid "
                f"{self.encoding} ({error.reason}); pass unicode_errors='replace' or 'ignore' to "
                "load it anyway") from None

    def reject_trailing(self, count: int) -> None:
        """After the declared vectors only newlines may follow."""
        while True:
            rest = self.chunk[self.pos:]
            stripped = rest.lstrip(b"\n")
            if stripped:
                at = self.offset + len(rest) - len(stripped)
                raise ValueError(f"{self.path}: offset {at}: data after the {count} vectors the "
                                 f"header declares: {_show(bytes(stripped[:40]))}")
            self.pos = len(self.chunk)
            if not self._more():
                return


# ---------------------------------------------------------------- word2vec / GloVe writers

def _check_words_for_text(words: Sequence[str]) -> None:
    for index, word in enumerate(words):
        if not isinstance(word, str):
            raise ValueError(f"word #{index} is {type(word).__name__} {_show(word)}, not a string: "
                             "word2vec files hold string keys")
        if not word or " " in word or "\n" in word:
            raise ValueError(f"word #{index} {_show(word)} cannot be stored in a word2vec/GloVe "
                             "file: words must be non-empty and hold no space or newline")


def _check_finite(vectors: np.ndarray, words: Sequence[str]) -> None:
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(f"the vector of {_show(words[row])} (row {row}) holds NaN or infinite "
                         "values; such files cannot be loaded back")


def write_word2vec(path, words: Sequence[str], vectors: np.ndarray, binary: bool = False,
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
        raise ValueError("binary word2vec files always have a header (write_header=False is for GloVe text)")
    total = len(words) if total_vec is None else int(total_vec)
    if total < len(words):
        raise ValueError(f"total_vec={total} is less than the {len(words)} vectors written")
    _check_words_for_text(words)
    _check_finite(vectors, words)
    with _output(path) as out:
        if write_header:
            out.write(f"{total} {vectors.shape[1]}\n".encode("ascii"))
        if binary:
            _write_binary_rows(out, words, vectors)
        else:
            _write_text_rows(out, words, vectors)


def _write_binary_rows(out, words, vectors, batch: int = 8192) -> None:
    for start in range(0, len(words), batch):
        rows = np.ascontiguousarray(vectors[start:start + batch], dtype="<f4")
        out.write(b"".join(word.encode("utf-8") + b" " + row.tobytes() + b"\n"
                          for word, row in zip(words[start:start + batch], rows)))


def _write_text_rows(out, words, vectors, batch: int = 4096) -> None:
    digits = 17 if vectors.dtype.itemsize >= 8 else 9
    fmt = " ".join([f"%.{digits}g"] * vectors.shape[1]) + "\n"
    for start in range(0, len(words), batch):
        rows = vectors[start:start + batch].tolist()
        out.write("".join(f"{word} " + fmt % tuple(row)
                          for word, row in zip(words[start:start + batch], rows)).encode("utf-8"))


def read_vocab_counts(path, unicode_errors: str = "strict") -> dict:
    """Reads ``word count`` lines (word2vec.c's -save-vocab, gensim's fvocab)."""
    path = os.fspath(path)
    counts = {}
    source, _ = open_binary(path)
    with source, _compressed_errors(path):
        for line_no, raw in enumerate(source, 1):
            text = _decode_line(raw, path, line_no, "utf-8", unicode_errors).strip()
            if not text:
                continue
            fields = text.split()
            if len(fields) != 2 or not fields[1].isdigit():
                raise ValueError(f"{path}: line {line_no}: expected 'word count', found {_show(text)}")
            counts.setdefault(fields[0], int(fields[1]))
    return counts


def write_vocab_counts(path, words: Sequence[str], counts) -> None:
    """Writes ``word count`` lines, atomically."""
    with _output(os.fspath(path)) as out:
        out.write("".join(f"{w} {int(c)}\n" for w, c in zip(words, counts)).encode("utf-8"))


# ---------------------------------------------------------------- embforge native format

def write_native(path, words: Sequence[str], vectors: np.ndarray, counts=None) -> None:
    """Writes the ``.kv`` format (see the module doc), atomically."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"expected {len(words)} vectors, got an array of shape {vectors.shape}")
    if vectors.dtype.type not in (np.float32, np.float64):
        vectors = vectors.astype(np.float32)
    for index, word in enumerate(words):
        if not isinstance(word, str):
            raise ValueError(f"word #{index} is {type(word).__name__} {_show(word)}, not a string")
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
    with atomic_write(os.fspath(path), "wb") as out:
        out.write(NATIVE_MAGIC + len(blob).to_bytes(8, "little") + blob)
        out.write(counts.tobytes())
        out.write(offsets.tobytes())
        out.write(np.ascontiguousarray(vectors, dtype=vectors.dtype.newbyteorder("<")).tobytes())
        out.write(b"".join(encoded))


def read_native(path, spare_rows: int = SPARE_ROWS):
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
        if count and source.readinto(memoryview(storage[:count]).cast("B")) != itemsize * count * dim:
            raise ValueError(f"{path}: the file ended while reading the vectors")
        if sys.byteorder == "big":
            storage.byteswap(inplace=True)
        words_blob = source.read()
    words = _native_words(path, offsets, words_blob, header["words_bytes"])
    finite = np.isfinite(storage[:count]).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(f"{path}: the vector of {_show(words[row])} (row {row}) holds NaN or "
                         "infinite values")
    return words, storage, (counts.astype(np.int64) if header["has_counts"] else None)


def _native_header(source, path: str, size: int):
    start = source.read(len(NATIVE_MAGIC) + 8)
    if len(start) < len(NATIVE_MAGIC) or start[:len(NATIVE_MAGIC)] != NATIVE_MAGIC:
        pickled = start[:1] == b"\x80"
        raise ValueError(
            f"{path}: not an embforge vectors file (starts with {_show(start[:8])}, expected "
            f"{NATIVE_MAGIC!r})" + ("; it looks like a pickle (gensim's .kv), which is never loaded "
                                    "for safety: write it with gensim's save_word2vec_format" if pickled
                                    else ""))
    if len(start) < len(NATIVE_MAGIC) + 8:
        raise ValueError(f"{path}: truncated embforge vectors file ({size} bytes)")
    length = int.from_bytes(start[len(NATIVE_MAGIC):], "little")
    if length > min(_MAX_NATIVE_HEADER, size - len(start)):
        raise ValueError(f"{path}: offset 8: header length {length} is larger than the file allows")
    raw = source.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: offset 16: the header is not valid JSON ({error})") from None
    return _check_native_header(header, path), len(start) + length


def _check_native_header(header, path: str) -> dict:
    if not isinstance(header, dict):
        raise ValueError(f"{path}: offset 16: the header is {_show(header)}, not a JSON object")
    if header.get("format") != "embforge.KeyedVectors":
        raise ValueError(f"{path}: offset 16: header format is {_show(header.get('format'))}")
    if header.get("version") != NATIVE_VERSION:
        raise ValueError(f"{path}: offset 16: unsupported version {_show(header.get('version'))} "
                         f"(this embforge reads version {NATIVE_VERSION})")
    for name in ("count", "dim", "words_bytes"):
        value = header.get(name)
        if type(value) is not int or value < 0:
            raise ValueError(f"{path}: offset 16: header field {name!r} is {_show(value)}, not a "
                             "non-negative integer")
    if header["dim"] == 0:
        raise ValueError(f"{path}: offset 16: the dimension must be positive, the header says 0")
    if header.get("dtype") not in ("float32", "float64"):
        raise ValueError(f"{path}: offset 16: unsupported dtype {_show(header.get('dtype'))}")
    if not isinstance(header.get("has_counts"), bool):
        raise ValueError(f"{path}: offset 16: header field 'has_counts' is "
                         f"{_show(header.get('has_counts'))}, not true/false")
    header["itemsize"] = np.dtype(header["dtype"]).itemsize
    return header


def _read_array(source, path: str, dtype: str, count: int) -> np.ndarray:
    data = source.read(np.dtype(dtype).itemsize * count)
    if len(data) != np.dtype(dtype).itemsize * count:
        raise ValueError(f"{path}: the file ended while reading its arrays")
    return np.frombuffer(data, dtype=dtype)


def _native_words(path: str, offsets: np.ndarray, blob: bytes, total: int) -> List[str]:
    backwards = np.diff(offsets) < 0
    if offsets[0] != 0 or offsets[-1] != total or backwards.any():
        bad = int(np.argmax(backwards)) if backwards.any() else 0
        raise ValueError(f"{path}: the word offsets are inconsistent (near word {bad}: "
                         f"{_show(offsets[bad:bad + 2].tolist())}, blob size {total})")
    bounds = offsets.tolist()
    words = []
    for index in range(len(bounds) - 1):
        raw = blob[bounds[index]:bounds[index + 1]]
        try:
            words.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: word {index} {_show(raw)} is not valid UTF-8 "
                             f"({error.reason})") from None
    if len(set(words)) != len(words):
        seen = set()
        duplicate = next(w for w in words if w in seen or seen.add(w))
        raise ValueError(f"{path}: the word {_show(duplicate)} appears twice")
    return words


# --------------------------------------------------------------- model archives
def write_archive(path, config: dict, words: Sequence[str], **arrays) -> None:
    """Writes a trainer's state as one uncompressed .npz of plain arrays,
    atomically: the JSON `config`, the vocabulary words (UTF-8, one per line)
    and the named numpy arrays. Read back with read_archive, never pickle."""
    blob = "\n".join(words).encode("utf-8")
    with atomic_write(path, "wb") as out:
        np.savez(out, config=np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8),
                 words=np.frombuffer(blob, dtype=np.uint8), **arrays)


def read_archive(path, what: str, names: Sequence[str], magic: str, version: int):
    """Reads a write_archive file: `(config, words, {name: array})`. Anything
    but an embforge archive of the expected `magic`/`version` holding every one
    of `names` is a ValueError saying the file is not `what`."""
    import zipfile
    try:
        archive = np.load(os.fspath(path), allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not an embforge {what} ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an embforge {what} (a bare array, not an archive)")
    with archive:
        try:
            config = json.loads(bytes(archive["config"]).decode("utf-8"))
            words = bytes(archive["words"]).decode("utf-8").split("\n")
            arrays = {name: archive[name] for name in names}
        except (KeyError, ValueError, UnicodeDecodeError, OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path}: not an embforge {what} ({error})") from error
    if not isinstance(config, dict) or config.get("format") != magic \
            or config.get("version") != version:
        found = (config.get("format"), config.get("version")) if isinstance(config, dict) else None
        raise ValueError(f"{path}: not an embforge {what} (format/version {found!r})")
    return config, words, arrays
