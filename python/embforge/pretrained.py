"""Seeding a vocabulary's vectors from a pre-trained word2vec/GloVe file.

``intersect_word2vec_format`` (gensim's name, a method of KeyedVectors): the
words the file and the vocabulary share take the file's vectors; no word is
added and the others keep theirs. A model built with ``build_vocab`` then
starts training from them (its ``wv`` storage is the model's input rows).
"""
from __future__ import annotations

import logging
import os

from typing import TYPE_CHECKING

import numpy as np

from .backends.arrays import is_host
from .io.word2vec_format import read_word2vec

if TYPE_CHECKING:
    from ._typing import StrPath
    from .keyedvectors import KeyedVectors

__all__ = ["intersect_word2vec_format"]

logger = logging.getLogger("embforge.keyedvectors")


def intersect_word2vec_format(kv: "KeyedVectors", fname: "StrPath", lockf: float = 1.0,
                              binary: bool = False, encoding: str = "utf8",
                              unicode_errors: str = "strict", no_header: bool = False) -> int:
    """Copies the vectors of `fname` into `kv` where the words intersect;
    returns how many were copied.

    gensim also sets a per-word learning-rate factor, `lockf`, on the copied
    words (its default 0.0 freezes them). embforge's trainers have no
    per-word factors: the copied vectors keep training like every other, so
    only ``lockf=1.0`` (the default here) is accepted; any other value is a
    ValueError rather than a silently ignored setting.

    The file is any format ``load_word2vec_format`` reads (binary, text,
    GloVe text with ``no_header=True``, compressed), read whole into memory
    once; of duplicate words in it the first counts (as loading does).
    Vectors on a GPU are updated through one host copy of the rows.
    """
    try:
        lock = float(lockf)
    except (TypeError, ValueError):
        raise ValueError(f"lockf must be 1.0, not {lockf!r}") from None
    if lock != 1.0:
        raise ValueError(f"lockf={lockf!r} is not supported: embforge has no per-word learning-rate "
                         "factors, so imported vectors always keep training (lockf=1.0); to keep "
                         "vectors fixed, train without them and set them afterwards")
    dtype = kv._storage.dtype if is_host(kv._storage) else np.float32
    words, theirs, _ = read_word2vec(fname, binary=binary, encoding=encoding,
                                     unicode_errors=unicode_errors, no_header=no_header,
                                     datatype=dtype, spare_rows=0)
    if theirs.shape[1] != kv.vector_size:
        raise ValueError(f"{os.fspath(fname)} holds vectors of {theirs.shape[1]} dimensions; "
                         f"these vectors have {kv.vector_size}")
    pairs = [(kv.key_to_index[word], row) for row, word in enumerate(words)
             if word in kv.key_to_index]
    if pairs:
        ours = np.array([p[0] for p in pairs], dtype=np.int64)
        rows = np.array([p[1] for p in pairs], dtype=np.int64)
        if is_host(kv._storage):
            np.asarray(kv._storage)[ours] = theirs[rows]
        else:
            from .backends import get_backend
            host = np.array(kv.vectors)
            host[ours] = theirs[rows]
            get_backend(kv.device).copy_into(kv._storage[:len(kv)], host)
        kv._invalidate()
    logger.info("merged %d vectors from %s into %d keys x %d dims", len(pairs),
                os.fspath(fname), len(kv), kv.vector_size)
    return len(pairs)
