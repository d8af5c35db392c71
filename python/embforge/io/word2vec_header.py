"""The ``"<count> <dim>"`` header line of word2vec text and binary files."""
from __future__ import annotations

import os
import re
from typing import IO, Tuple

from .._typing import StrPath
from ._errors import show
from .compression import open_text
from .rows import check_dim

__all__ = ["parse_header", "read_header", "has_header"]

MAX_HEADER_LINE = 1024             # "<count> <dim>\n"
_HEADER_RE = re.compile(rb"^\s*([0-9]+)\s+([0-9]+)\s*$")


def parse_header(raw: bytes, path: str) -> Tuple[int, int]:
    """``(count, dim)`` from the header line `raw` (a UTF-8 byte order mark is skipped)."""
    if raw.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark
        raw = raw[3:]
    match = _HEADER_RE.match(raw)
    if not match:
        hint = "" if raw.strip() else " (empty file?)"
        raise ValueError(
            f"{path}: line 1: expected a header '<count> <dimension>', found "
            f"{show(raw.decode('utf-8', 'replace').rstrip())}{hint}; GloVe files have no "
            "header: load them with no_header=True")
    count, dim = int(match.group(1)), int(match.group(2))
    if dim <= 0:
        raise ValueError(f"{path}: line 1: the dimension must be positive, the header says {dim}")
    check_dim(dim, f"{path}: line 1")
    return count, dim


def read_header(source: IO[bytes], path: str) -> Tuple[int, int, int]:
    """Reads the header line from the byte stream `source`: ``(count, dim, bytes read)``."""
    raw = source.readline(MAX_HEADER_LINE)
    if not raw:
        raise ValueError(f"{path}: empty file")
    count, dim = parse_header(raw, path)
    return count, dim, len(raw)


def has_header(path: StrPath) -> bool:
    """Whether the text vector file `path` (plain or compressed) starts with a
    word2vec header (two integers), as opposed to a GloVe file, whose first
    line is already a word and its vector."""
    with open_text(os.fspath(path), errors="replace") as lines:
        fields = lines.readline().split()
    return len(fields) == 2 and all(f.isdigit() for f in fields)
