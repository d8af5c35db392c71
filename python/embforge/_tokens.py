"""What separates tokens everywhere in embforge: ASCII whitespace (space,
tab, newline, CR, VT, FF), as the native corpus reader (csrc/cpu/corpus.cpp),
word2vec.c and GloVe split text. Python's ``str.split()`` also splits on
Unicode spaces (U+00A0, U+2009, U+001C..U+001F, ...), which are ordinary
bytes of a token in a corpus: a word read from text may hold them, so the
vocabulary and its file must accept them too. A leaf module."""
from __future__ import annotations

import re
from typing import List

__all__ = ["SEPARATORS", "is_token", "split_fields"]

SEPARATORS = " \t\n\r\v\f"
_SEPARATOR = re.compile(r"[ \t\n\r\v\f]")
_FIELD = re.compile(r"[^ \t\n\r\v\f]+")


def is_token(word: object) -> bool:
    """Whether `word` is a non-empty str without a separator."""
    return isinstance(word, str) and bool(word) and _SEPARATOR.search(word) is None


def split_fields(text: str) -> List[str]:
    """`text` split on runs of separators (``str.split()`` for ASCII whitespace only)."""
    return _FIELD.findall(text)
