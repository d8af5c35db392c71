"""Type aliases the annotations share (a leaf module: it imports nothing of embforge)."""
from __future__ import annotations

import os
from typing import Any, Iterable, List, Sequence, Tuple, Union

import numpy as np

__all__ = ["StrPath", "Array", "Memory", "Corpus", "Key", "Terms", "Neighbours"]

# a file name as the public functions take it: str or any os.PathLike (pathlib.Path)
StrPath = Union[str, "os.PathLike[str]"]

# An array a backend computes on: a numpy array on the CPU, a torch tensor or a CuPy array on
# a GPU (backends/device_arrays.py). The backends own the difference, so the code between
# them takes it as any array-like object.
Array = Any

# A memory budget: bytes (int), GB (float) or a string such as "1GB" (_checks.parse_memory).
Memory = Union[int, float, str]

# A corpus as the trainers take it: a text file (plain or compressed), a list of them, or a
# re-iterable of sentences, each a sequence of tokens.
Corpus = Union[StrPath, Iterable[StrPath], Iterable[Sequence[str]]]

# A vector's key as gensim's KeyedVectors takes it: the word, or its row index.
Key = Union[str, int, "np.integer[Any]"]
# What similarity queries take as positive/negative terms: a key, a vector, or a list of them.
Terms = Union[Key, "np.ndarray", Sequence[Union[Key, "np.ndarray"]]]
# A query's neighbours: (key, cosine similarity) pairs, best first; the raw scores of every
# key when topn is None or 0 (gensim's convention).
Neighbours = Union[List[Tuple[str, float]], "np.ndarray"]
