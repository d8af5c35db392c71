"""Text for a language model: lines of (compressed) files, and the token
stream made from them. numpy only (no torch)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Sequence, Union

import numpy as np

from .._typing import StrPath
from ..io.compression import open_text

if TYPE_CHECKING:
    pass

__all__ = ["read_texts", "TokenStream", "encode_texts"]

IGNORE = -100   # a target the loss skips (what follows an <eos>: the next text's <bos>)


def read_texts(paths: Union[StrPath, Sequence[StrPath]], limit: Optional[int] = None) -> List[str]:
    """The non-blank lines of one file or several (plain, .gz, .bz2, .xz),
    each a text; at most `limit` of them. No text at all is a ValueError."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    texts: List[str] = []
    for path in paths:
        with open_text(os.fspath(path)) as lines:
            for line in lines:
                line = line.strip()
                if line:
                    texts.append(line)
                    if limit is not None and len(texts) >= limit:
                        return texts
    if not texts:
        raise ValueError(f"no text in {', '.join(os.fspath(p) for p in paths)} (only blank lines)")
    return texts


@dataclass
class TokenStream:
    """Texts as one id stream: ``<bos> words <eos>`` per text, end to end.

    ``targets`` is the stream shifted by one with the <bos> that starts the
    next text ignored (IGNORE): nothing predicts the start of a text.
    ``words`` counts the words read, ``unknown`` those that became <unk>.
    """
    ids: np.ndarray
    words: int
    unknown: int

    @property
    def unknown_rate(self) -> float:
        return self.unknown / self.words if self.words else 0.0

    def windows(self, context: int) -> np.ndarray:
        """Start offsets of non-overlapping windows of `context` inputs (each
        with its `context` targets); the last may be shorter than context."""
        return np.arange(0, max(1, len(self.ids) - 1), context)


def encode_texts(tokenizer: Any, texts: Iterable[str], bos_id: int, eos_id: int) -> TokenStream:
    """The :class:`TokenStream` of `texts` (unknown words to <unk>, counted)."""
    parts, words, unknown = [], 0, 0
    bos, eos = np.array([bos_id], np.int64), np.array([eos_id], np.int64)
    for text in texts:
        ids = np.array(tokenizer.encode(text, max_length=None), dtype=np.int64)
        words += len(ids)
        unknown += int(np.count_nonzero(ids == tokenizer.unk_id))
        parts += [bos, ids, eos]
    if not words:
        raise ValueError("the texts hold no word to learn from (all empty)")
    return TokenStream(np.concatenate(parts), words, unknown)
