"""Vectors handed to and taken from gensim's ``KeyedVectors`` in memory, without a file.

gensim is imported inside :func:`to_gensim` only, so embforge imports and
runs without it; :func:`from_gensim` reads gensim's object by its attributes
(``index_to_key``, ``vectors``, ``expandos``) and needs no import at all.

The layouts differ in one way that decides what can be shared: embforge keeps
the vectors as the first rows of a storage array with ``SPARE_ROWS`` rows
after them (the PyTorch bridge puts ``<pad>``/``<unk>`` there without a copy),
gensim keeps exactly one row per key. A view of our first rows is a valid
gensim array, so :func:`to_gensim` shares; gensim's array has no spare rows,
so :func:`from_gensim` has to copy into a storage that has them.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Type, TypeVar

import numpy as np

from ._layout import SPARE_ROWS

if TYPE_CHECKING:
    from .keyedvectors import KeyedVectors

__all__ = ["to_gensim", "from_gensim"]

KV = TypeVar("KV", bound="KeyedVectors")

logger = logging.getLogger(__name__)


def to_gensim(kv: "KeyedVectors") -> Any:
    """A ``gensim.models.KeyedVectors`` over `kv`'s vectors.

    Host vectors are shared, not copied: ``theirs.vectors`` is a view of our
    rows, so a write through either object is seen by the other. What stays
    separate: caches (after writing through gensim call our
    ``kv.fill_norms(force=True)``; after training ours, gensim's
    ``fill_norms(force=True)``), the keys and the per-key attributes (the
    ``"count"`` attribute and any other are copied). Sharing ends when either
    side reallocates its array (``add_vectors`` with new keys, a vocabulary
    update of the model that owns `kv`).

    Vectors that live on a GPU (``kv.device != "cpu"``) go through a host
    copy: gensim works on numpy arrays, so that copy is gensim's own and
    writes to it do not reach the GPU.
    """
    try:
        from gensim.models import KeyedVectors as GensimKeyedVectors
    except ImportError as error:
        raise ImportError("to_gensim needs gensim (pip install gensim)") from error
    n = len(kv)
    if kv.device == "cpu":
        vectors = np.asarray(kv._storage)[:n]   # a view: rows 0..n-1, spare rows left out
    else:
        vectors = np.array(kv.vectors)          # host copy, writable for gensim
    theirs = GensimKeyedVectors(kv.vector_size, count=0, dtype=vectors.dtype)
    theirs.index_to_key = list(kv.index_to_key)
    theirs.key_to_index = dict(kv.key_to_index)
    theirs.vectors = vectors
    # gensim's add_vector fills the row at next_index; every row is taken
    theirs.next_index = n
    for name, values in kv.expandos.items():
        theirs.allocate_vecattrs(attrs=[name], types=[values.dtype])
        theirs.expandos[name][:] = values
    return theirs


def from_gensim(cls: Type[KV], theirs: Any) -> KV:
    """An embforge ``cls`` (KeyedVectors) holding a copy of gensim's vectors.

    `theirs`: a ``gensim.models.KeyedVectors``, or a gensim model with a
    ``.wv`` (Word2Vec, FastText: their word vectors are taken). The vectors
    are copied into a storage with ``SPARE_ROWS`` spare rows after the words
    (the layout every embforge buffer has), so the result never aliases
    gensim's array. Rows gensim left unnamed (``None`` keys, e.g. after it
    skipped a duplicate word in a file) are left out. The ``"count"``
    attribute and any other per-key attribute gensim holds are carried.
    """
    if not hasattr(theirs, "index_to_key") and hasattr(theirs, "wv"):
        theirs = theirs.wv
    for name in ("index_to_key", "vectors"):
        if not hasattr(theirs, name):
            raise ValueError(f"{type(theirs).__name__} is not a gensim KeyedVectors (it has no "
                             f"{name!r})")
    vectors = np.asarray(theirs.vectors)
    if vectors.ndim != 2 or vectors.dtype.kind != "f":
        raise ValueError(f"gensim's vectors must be a 2-D float array, got shape {vectors.shape} "
                         f"and dtype {vectors.dtype}")
    keys = list(theirs.index_to_key)
    if len(keys) > vectors.shape[0]:
        raise ValueError(f"gensim's object names {len(keys)} keys but holds "
                         f"{vectors.shape[0]} vectors")
    rows = np.array([i for i, key in enumerate(keys) if key is not None], dtype=np.int64)
    if len(rows) < len(keys):
        logger.warning("%d unnamed rows of gensim's vectors left out", len(keys) - len(rows))
    named = [keys[i] for i in rows.tolist()]
    storage = np.zeros((len(named) + SPARE_ROWS, vectors.shape[1]), dtype=vectors.dtype)
    storage[:len(named)] = vectors[rows]
    expandos = {name: np.asarray(values) for name, values in getattr(theirs, "expandos", {}).items()}
    counts = expandos.pop("count", None)
    ours = cls.from_storage(named, storage, None if counts is None else counts[rows])
    for name, values in expandos.items():
        ours.expandos[name] = values[rows].copy()
    return ours
