"""The one place files are opened for reading, and compressed outputs.

Readers never look at a file name to decide how to read: gzip, bzip2 and xz
data are recognised by their magic bytes, so ``vectors.txt.gz`` holding plain
text reads as text and gzip data named ``vectors.txt`` is decompressed.
Damaged compressed data raises a ValueError naming the file. Writers compress
with gzip when the name ends in ``.gz`` (the one output name word2vec and
gensim users expect); every other name is written as it is.
"""
from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import zlib
from types import ModuleType
from typing import IO, Any, Callable, Dict, Iterator, Optional, Tuple, Type, cast

from .._typing import StrPath
from .atomic import atomic_write

__all__ = ["sniff", "open_binary", "open_text", "atomic_output", "use_fast_gzip",
           "fast_gzip_available"]

_SNIFF_BYTES = 6
# each opened with mode "rb": a binary stream
_OPENERS: Dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
# What a damaged or truncated stream raises while it is decompressed: gzip
# raises BadGzipFile (an OSError) or zlib.error, bz2 a bare OSError, lzma
# LZMAError, and all three EOFError for a stream cut short.
_DAMAGED: Tuple[Type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)

# gzip through ISA-L (the optional extra `embforge[fast]`, package `isal`)
# when it is installed: the same bytes out, about 3x less CPU than zlib
# (0.06 against 0.18 CPU-s for the bench corpus's 47 MB), which matters
# where decompression is one stream feeding several tokenising threads.
# zlib stays the fallback; use_fast_gzip(False) forces it (tests run both).
_igzip: Optional[ModuleType]
try:
    from isal import igzip as _isal_igzip
    from isal import isal_zlib as _isal_zlib
except ImportError:  # the optional extra is not installed
    _igzip = None
else:
    _igzip = _isal_igzip
    _DAMAGED = _DAMAGED + (cast(Type[BaseException], _isal_zlib.error),)
_fast_gzip = _igzip is not None


def use_fast_gzip(enabled: bool) -> bool:
    """Reads gzip data with ISA-L (if installed) or zlib from now on;
    returns whether ISA-L was in use before."""
    global _fast_gzip
    before = _fast_gzip
    _fast_gzip = bool(enabled) and _igzip is not None
    return before


def fast_gzip_available() -> bool:
    """Whether the optional ISA-L inflater (package `isal`) is installed."""
    return _igzip is not None


def sniff(head: bytes) -> Optional[str]:
    """The compression of data starting with `head` ("gzip", "bzip2", "xz"),
    None for anything else. bzip2 needs its block size digit after "BZh", so
    a text file starting with the letters "BZh" is not taken for one."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in (b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return None


@contextlib.contextmanager
def open_binary(path: StrPath) -> Iterator[Tuple[IO[bytes], Optional[int]]]:
    """``with open_binary(path) as (stream, size)``: the bytes of `path`,
    decompressed if they are gzip, bzip2 or xz data. `size` is the file size
    for a plain regular file, None when it is not known up front (compressed
    data, pipes). Errors from damaged compressed data become ValueErrors
    naming the file; a missing file is a FileNotFoundError."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"expected a file, found a directory: {path!r}")
    raw = open(path, "rb")
    try:
        kind = sniff(raw.peek(_SNIFF_BYTES)[:_SNIFF_BYTES])
        stream: IO[bytes]
        if kind is None:
            info = os.fstat(raw.fileno())
            size = info.st_size if stat.S_ISREG(info.st_mode) else None
            stream = raw
        else:
            raw.close()
            opener = _OPENERS[kind]
            if kind == "gzip" and _fast_gzip and _igzip is not None:
                opener = _igzip.open
            stream, size = opener(path, "rb"), None
    except BaseException:
        raw.close()
        raise
    with stream:
        try:
            yield stream, size
        except _DAMAGED as error:
            if kind is None:
                raise
            raise ValueError(f"{path}: damaged {kind} data ({error})") from error


@contextlib.contextmanager
def open_text(path: StrPath, encoding: str = "utf-8", errors: str = "strict") -> Iterator[IO[str]]:
    """``with open_text(path) as lines``: :func:`open_binary` decoded as text
    with universal newlines (as ``open(path, "r")`` reads)."""
    with open_binary(path) as (stream, _):
        text = io.TextIOWrapper(stream, encoding=encoding, errors=errors)
        try:
            yield text
        finally:
            text.detach()  # open_binary closes the stream


@contextlib.contextmanager
def atomic_output(path: StrPath) -> Iterator[IO[bytes]]:
    """A binary output written atomically (see atomic_write), gzip-compressed
    when the name ends in ``.gz`` (no name or time stamp in the gzip header,
    so the same content gives the same bytes)."""
    path = os.fspath(path)
    with atomic_write(path, "wb") as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as packed:
                yield cast("IO[bytes]", packed)  # a binary file object, not a typing.IO subclass
        else:
            yield raw
