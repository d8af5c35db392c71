"""The header of a .npy member, read from untrusted bytes."""
from __future__ import annotations

import tokenize
from typing import Tuple

import numpy as np

__all__ = ["read_npy_header"]


def read_npy_header(stream, name: str) -> Tuple[tuple, bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the .npy data at `stream`'s
    position. Every malformed header is a ValueError naming member `name`:
    numpy's parser lets others through (tokenize.TokenError from its fallback
    for old headers, SyntaxError, TypeError or RecursionError from the dict
    literal it evaluates)."""
    try:
        version = np.lib.format.read_magic(stream)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read(stream)
    except (ValueError, EOFError, SyntaxError, TypeError, RecursionError,
            tokenize.TokenError) as error:
        raise ValueError(f"member {name}: not a valid .npy header ({error})") from None
    if any(extent < 0 for extent in shape):
        raise ValueError(f"member {name}: negative shape {shape}")
    return shape, bool(fortran), dtype
