"""Reads the rows of word2vec text and GloVe text files (see word2vec_format)."""
from __future__ import annotations

from typing import IO, List, NoReturn, Optional, Sequence, Tuple, cast

import numpy as np

from ._errors import decode_line, show
from .rows import FirstWins, RowBuffer, initial_rows
from .word2vec_header import read_header

__all__ = ["read_text"]

_TEXT_BLOCK_BYTES = 8 << 20        # lines parsed together (numpy conversion per block)


class _TextState:
    """What the text reader knows between blocks of lines."""

    def __init__(self, path: str, dim: Optional[int], wanted: Optional[int], limited: bool,
                 declared: Optional[int]) -> None:
        self.path, self.dim, self.wanted = path, dim, wanted
        self.limited, self.declared = limited, declared
        self.line_no = 1 if declared is not None else 0
        self.rows = 0               # rows read, duplicates included (gensim's count)
        self.blank_line = 0         # first blank line seen (only allowed at the end)
        self.vocab = FirstWins()
        self.buffer: Optional[RowBuffer] = None

    def done(self) -> bool:
        return self.wanted is not None and self.rows >= self.wanted


def read_text(source: IO[bytes], path: str, size: Optional[int], limit: Optional[int],
              encoding: str, unicode_errors: str, no_header: bool, spare: int
              ) -> Tuple[List[str], np.ndarray, int]:
    """Reads text rows from the byte stream `source` (`size` bytes, None when
    unknown): ``(words, storage, rows read including duplicates)``."""
    if no_header:
        state = _TextState(path, None, limit, limit is not None, None)
        header_bytes = 0
    else:
        count, dim, header_bytes = read_header(source, path)
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
            if size is None:  # compressed: start from the first block, grow by doubling
                bound = 2 * len(lines)
            else:
                bound = (size - header_bytes) // (2 * cast("int", state.dim) + 1) + 1
            if no_header and size is not None:  # estimate from the first block's line length
                used = max(1, sum(map(len, lines)))
                bound = min(bound, int(size * len(lines) / used * 1.1) + 16)
            dim = cast("int", state.dim)  # the header or _first_dim set it
            state.buffer = RowBuffer(dim, initial_rows(dim, state.wanted, bound),
                                     state.wanted, spare)
        leftover = _parse_text_block(lines, state, encoding, unicode_errors)
        if state.done() and not state.limited:
            _reject_extra_rows(leftover, source, state)
    if state.buffer is None:
        if no_header:
            raise ValueError(f"{path}: no vectors found (empty file?)")
        state.buffer = RowBuffer(cast("int", state.dim), 0, 0, spare)  # from the header
    if state.wanted is not None and state.rows < state.wanted:
        raise ValueError(
            f"{path}: line {state.line_no}: the header declares {state.declared} vectors but the "
            f"file ends after {state.rows} (truncated file or wrong header)")
    state.vocab.warn(path)
    return state.vocab.words, state.buffer.finish(), state.rows


def _first_dim(lines: List[bytes], state: _TextState, encoding: str, unicode_errors: str) -> bool:
    """GloVe files: the first non-blank line sets the dimension."""
    for offset, raw in enumerate(lines):
        if raw.strip():
            text = decode_line(raw, state.path, state.line_no + offset + 1, encoding, unicode_errors)
            state.dim = len(text.rstrip().split(" ")) - 1
            if state.dim < 1:
                raise ValueError(f"{state.path}: line {state.line_no + offset + 1}: expected a word "
                                 f"and its vector, found {show(text.rstrip())}")
            return True
    state.blank_line = state.blank_line or state.line_no + 1
    return False

def _parse_text_block(lines: List[bytes], state: _TextState, encoding: str,
                      unicode_errors: str) -> List[bytes]:
    """Parses rows until the block ends or enough rows are read; returns the
    lines left over. Values are converted by numpy for the whole block."""
    path, dim = state.path, cast("int", state.dim)  # known once a block is parsed
    values: List[str] = []
    kept_lines: List[Tuple[int, str]] = []   # (line number, text) for error messages
    for position, raw in enumerate(lines):
        if state.done():
            _store_block(values, kept_lines, state)
            return lines[position:]
        state.line_no += 1
        try:
            text = decode_line(raw, path, state.line_no, encoding, unicode_errors).rstrip()
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
                f"{len(parts) - 1} values after {show(parts[0], 40)} (row "
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


def _store_block(values: List[str], kept_lines: List[Tuple[int, str]], state: _TextState) -> None:
    if not kept_lines:
        return
    try:
        with np.errstate(over="ignore"):  # 1e50 -> inf, reported below
            block = np.array(values, dtype=np.float32).reshape(len(kept_lines),
                                                               cast("int", state.dim))
    except ValueError:
        block = None
    if block is None or not np.isfinite(block).all():
        _explain_bad_values(kept_lines, state.path)
    cast("RowBuffer", state.buffer).extend(block)  # read_text made it before the first block


def _explain_bad_values(kept_lines: Sequence[Tuple[int, str]], path: str) -> NoReturn:
    """Finds the first value of the block numpy refused (slow path, errors only)."""
    for line_no, text in kept_lines:
        for column, field in enumerate(text.split(" ")[1:], start=2):
            try:
                value = float(field)
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: field {column} is not a number: "
                                 f"{show(field)}") from None
            with np.errstate(over="ignore"):
                finite = bool(np.isfinite(np.float32(value)))
            if not finite:
                raise ValueError(f"{path}: line {line_no}: field {column} is not a finite float32: "
                                 f"{show(field)}")
    raise ValueError(f"{path}: invalid values")  # pragma: no cover - numpy and float() disagree


def _reject_extra_rows(leftover: List[bytes], source: IO[bytes], state: _TextState) -> None:
    """After the declared rows only blank lines may follow."""
    line_no = state.line_no
    while True:
        for raw in leftover:
            line_no += 1
            if raw.strip():
                raise ValueError(
                    f"{state.path}: line {line_no}: more rows than the {state.declared} the "
                    f"header declares: {show(raw[:40].decode('utf-8', 'replace'))}")
        leftover = source.readlines(_TEXT_BLOCK_BYTES)
        if not leftover:
            return

