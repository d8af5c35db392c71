"""The vocabulary file: one ``word count`` line per word.

This is what ``Vocabulary.save`` and ``embforge vocab`` write, GloVe's
vocab_count output, word2vec.c's ``-save-vocab`` and gensim's ``fvocab``. The
reader and the writer keep the same rules, so whatever is written reads back:

* a line holds a word and its count separated by whitespace; lines end in
  ``\\n``, ``\\r\\n`` or ``\\r``; blank lines are skipped;
* a word is non-empty, holds no ASCII whitespace (space, tab, CR, LF, VT,
  FF: what the corpus reader splits on; other Unicode spaces are part of a
  word, as in the corpus) and appears on one line only;
* a count is a non-negative integer written in ASCII digits, below 2**63;
* words are UTF-8; invalid bytes are an error unless `unicode_errors` is
  ``"replace"`` or ``"ignore"``.

Order is kept as in the file. Every broken rule is a ValueError naming the
file, the line and the offending value. Compressed files are read by content
(see compression.py); names ending in ``.gz`` are written gzip-compressed.
"""
from __future__ import annotations

import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike

from .._typing import StrPath
from .._tokens import is_token, split_fields
from ._errors import decode_line, show
from .compression import atomic_output, open_binary

__all__ = ["read_vocab_file", "write_vocab_file"]

_MAX_COUNT = np.iinfo(np.int64).max
_WRITE_BATCH = 1 << 16             # lines joined per write


def read_vocab_file(path: StrPath, unicode_errors: str = "strict") -> Tuple[List[str], np.ndarray]:
    """``(words, counts)`` from a vocabulary file, in file order; counts int64."""
    path = os.fspath(path)
    words: List[str] = []
    counts: List[int] = []
    first_line: Dict[str, int] = {}
    line_no = 0
    with open_binary(path) as (source, _):
        for raw in source:
            for piece in raw.splitlines():  # \r and \r\n end lines too
                line_no += 1
                text = decode_line(piece, path, line_no, "utf-8", unicode_errors, hint="")
                fields = split_fields(text)
                if not fields:
                    continue
                if len(fields) != 2:
                    raise ValueError(f"{path}: line {line_no}: expected 'word count', found "
                                     f"{show(text.strip())}")
                word, count = fields
                # the length first: int() of thousands of digits is itself an error
                if not (count.isascii() and count.isdigit()) or len(count.lstrip("0")) > 19 \
                        or int(count) > _MAX_COUNT:
                    raise ValueError(f"{path}: line {line_no}: the count of {show(word)} is "
                                     f"{show(count)}, not an integer from 0 to {_MAX_COUNT}")
                if word in first_line:
                    raise ValueError(f"{path}: line {line_no}: the word {show(word)} appears "
                                     f"again (first on line {first_line[word]})")
                first_line[word] = line_no
                words.append(word)
                counts.append(int(count))
    return words, np.array(counts, dtype=np.int64)


def write_vocab_file(path: StrPath, words: Sequence[str], counts: ArrayLike) -> None:
    """Writes ``word count`` lines, atomically; refuses anything the reader
    would refuse (a ValueError naming the word), so the file always reads back."""
    counts = _checked_counts(words, counts)
    _check_words(words)
    with atomic_output(os.fspath(path)) as out:
        for start in range(0, len(words), _WRITE_BATCH):
            stop = start + _WRITE_BATCH
            lines = "".join(f"{w} {c}\n" for w, c in zip(words[start:stop], counts[start:stop]))
            out.write(lines.encode("utf-8"))


def _checked_counts(words: Sequence[str], counts: ArrayLike) -> List[int]:
    array = np.asarray(counts)
    if array.shape != (len(words),):
        raise ValueError(f"{len(words)} words but counts has shape {array.shape}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(f"the count of {show(words[row])} is {array[row].item()!r}, "
                             "not an integer")
    elif array.dtype.kind not in "iu" and len(array):
        raise ValueError(f"counts must be integers, got an array of {array.dtype}")
    values = [int(c) for c in array.tolist()]
    for row, value in enumerate(values):
        if not 0 <= value <= _MAX_COUNT:
            raise ValueError(f"the count of {show(words[row])} is {value}, not an integer "
                             f"from 0 to {_MAX_COUNT}")
    return values


def _check_words(words: Sequence[str]) -> None:
    seen = set()
    for index, word in enumerate(words):
        if not isinstance(word, str):
            raise ValueError(f"word #{index} is {type(word).__name__} {show(word)}, not a string")
        if not is_token(word):
            raise ValueError(f"word #{index} {show(word)} cannot be stored in a vocabulary file: "
                             "words must be non-empty and hold no ASCII whitespace")
        try:
            word.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"word #{index} {show(word)} cannot be written as UTF-8 "
                             f"({error.reason})") from None
        if word in seen:
            raise ValueError(f"word #{index} {show(word)} appears twice")
        seen.add(word)
