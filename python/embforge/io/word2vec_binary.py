"""Reads the records of word2vec binary files (see word2vec_format)."""
from __future__ import annotations

from typing import IO, List, Optional, Tuple

import numpy as np

from ._errors import show
from .rows import FirstWins, RowBuffer, initial_rows
from .word2vec_header import read_header

__all__ = ["read_binary"]

_MAX_WORD_BYTES = 1 << 16          # a word longer than this means a broken file
_BINARY_READ_BYTES = 1 << 20


def read_binary(source: IO[bytes], path: str, size: Optional[int], limit: Optional[int],
                encoding: str, unicode_errors: str, spare: int
                ) -> Tuple[List[str], np.ndarray, int]:
    """Reads binary records from the byte stream `source` (`size` bytes, None
    when unknown): ``(words, storage, records read including duplicates)``."""
    count, dim, header_bytes = read_header(source, path)
    wanted = count if limit is None else min(count, limit)
    row_bytes = 4 * dim
    # Each vector needs at least a 1-byte word, a space and dim floats.
    if size is not None and wanted * (row_bytes + 2) > size - header_bytes:
        raise ValueError(
            f"{path}: offset 0: the header declares {count} vectors of {dim} float32 values, "
            f"needing at least {wanted * (row_bytes + 2)} bytes, but only "
            f"{size - header_bytes} follow the header (wrong header or truncated file)")
    bound = None if size is None else wanted
    buffer = RowBuffer(dim, initial_rows(dim, wanted, bound), wanted, spare)
    reader = _BinaryRows(source, path, header_bytes, row_bytes, encoding, unicode_errors)
    vocab = FirstWins()
    rows = 0
    while rows < wanted:
        words, block, offsets = reader.next_rows(wanted - rows)
        if not words or block is None:  # block is None exactly when no words came
            raise ValueError(
                f"{path}: offset {reader.offset}: the file ends after {rows} of the {count} "
                "vectors the header declares (truncated file or wrong header)")
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(f"{path}: offset {offsets[first]}: the vector of {show(words[first])} "
                             f"holds NaN or infinite values: {show(block[first][:4].tolist())}...")
        if rows == 0 and _looks_like_text(block[:1].tobytes()):
            raise ValueError(f"{path}: offset {offsets[0]}: the vector of {show(words[0])} reads as "
                             f"text {show(block[:1].tobytes()[:40])}: a text file? load it with "
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

    def __init__(self, source: IO[bytes], path: str, offset: int, row_bytes: int, encoding: str,
                 unicode_errors: str) -> None:
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

    def next_rows(self, most: int) -> Tuple[List[str], Optional[np.ndarray], List[int]]:
        """Up to `most` records available in the current chunk (reading more
        when not even one is there): (words, float32 block, record offsets)."""
        words: List[str] = []
        slices: List[bytearray] = []
        offsets: List[int] = []
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
                        f"{_MAX_WORD_BYTES} bytes ({show(bytes(self.chunk[start:start + 40]))}...): "
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
                f"{self.path}: offset {offset + error.start}: the word {show(raw)} is not valid "
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
                                 f"header declares: {show(bytes(stripped[:40]))}")
            self.pos = len(self.chunk)
            if not self._more():
                return

