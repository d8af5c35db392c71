"""The header of a .npy member, read from untrusted bytes."""
from __future__ import annotations

import io
import tokenize
from typing import Any, Protocol, Tuple

import numpy as np

__all__ = ["read_npy_header"]

_MAGIC_BYTES = 8                # b"\x93NUMPY", major and minor version
_MAX_HEADER_BYTES = 10000       # numpy's own max_header_size


class Readable(Protocol):
    """A binary stream to read from: a file, or a zip member (zipfile.ZipExtFile)."""

    def read(self, size: int, /) -> bytes: ...


def read_npy_header(stream: Readable, name: str) -> Tuple[Tuple[int, ...], bool, np.dtype[Any]]:
    """``(shape, fortran_order, dtype)`` of the .npy data at `stream`'s
    position. Every malformed header is a ValueError naming member `name`:
    numpy's parser lets others through (tokenize.TokenError from its fallback
    for old headers, SyntaxError, TypeError or RecursionError from the dict
    literal it evaluates)."""
    # numpy reads the declared header length (up to 4 GiB in versions 2 and 3)
    # before it checks it against its max_header_size: read and check it here,
    # then hand numpy the header alone.
    prefix = stream.read(_MAGIC_BYTES)
    length_bytes = 2 if prefix[_MAGIC_BYTES - 2:_MAGIC_BYTES - 1] == b"\x01" else 4
    prefix += stream.read(length_bytes)
    if len(prefix) == _MAGIC_BYTES + length_bytes:
        length = int.from_bytes(prefix[_MAGIC_BYTES:], "little")
        if length > _MAX_HEADER_BYTES:
            raise ValueError(f"member {name}: .npy header length {length} is over "
                             f"{_MAX_HEADER_BYTES} bytes")
        prefix += stream.read(length)
    header = io.BytesIO(prefix)
    try:
        version = np.lib.format.read_magic(header)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read(header)
    except (ValueError, EOFError, SyntaxError, TypeError, RecursionError,
            tokenize.TokenError) as error:
        raise ValueError(f"member {name}: not a valid .npy header ({error})") from None
    if any(extent < 0 for extent in shape):
        raise ValueError(f"member {name}: negative shape {shape}")
    return shape, bool(fortran), dtype
