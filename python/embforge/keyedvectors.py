"""``KeyedVectors``: words and their vectors, with gensim's names and semantics.

The vectors are the first ``len(kv)`` rows of one C-contiguous array,
``kv._storage``; the rows after them are spare (the trainers allocate ``SPARE_ROWS``, the
PyTorch bridge puts ``<pad>``/``<unk>``/``<bos>``/``<eos>`` there without copying). The trainers
write into ``kv.vectors`` in place and call ``kv._invalidate()`` afterwards,
which drops the cached norms.

``storage`` may also live on a GPU (a torch tensor or CuPy array, anything
with ``__dlpack__``/``__cuda_array_interface__``): then ``kv.device`` says
``"cuda:N"`` and ``kv.vectors`` is a read-only host copy, cached until
``_invalidate()``. torch and CuPy are never imported here.

Differences from gensim, on purpose:

* a zero vector normalises to zeros (gensim gives NaN), so it never wins a
  similarity search;
* ``most_similar_cosmul`` honours ``restrict_vocab`` (gensim ignores it);
* ``add_vectors`` keeps the first of duplicate keys within one call (gensim
  adds both rows);
* ``KeyedVectors(vector_size, count)``: `count` reserves rows for later
  ``add_vectors`` calls; the object starts empty (gensim starts with `count`
  unnamed rows);
* ``save_word2vec_format`` writes in index order (gensim re-sorts by count);
* ``save``/``load`` use embforge's own pickle-free format (see embforge/io/native_kv.py);
* ``evaluate_word_analogies`` defaults to ``restrict_vocab=30000`` (word2vec.c's
  compute-accuracy; gensim's default is 300000).
* ``intersect_word2vec_format`` accepts only ``lockf=1.0``, its default (no
  per-word learning-rate locks; gensim's default 0.0 froze the imported rows),
  and returns how many vectors it took;
* ``to_gensim``/``from_gensim`` hand vectors over in memory (gensim_bridge.py).
"""
from __future__ import annotations

import logging
from typing import (TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple,
                    Type, TypeVar, Union)

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._typing import Key, StrPath
from . import evaluation, pretrained
from ._layout import SPARE_ROWS
from .backends.arrays import as_array, device_of, host_rows, require_host
from .io import native_kv, vocab_file, word2vec_format
from .similarity import SimilarityQueries, is_key

if TYPE_CHECKING:
    import torch
    import gensim.models
    from matplotlib.figure import Figure
    from .evaluation import CorrelationResult

__all__ = ["KeyedVectors"]

_KV = TypeVar("_KV", bound="KeyedVectors")

logger = logging.getLogger(__name__)


class KeyedVectors(SimilarityQueries):
    """Mapping between keys (words) and vectors, with similarity queries and
    the word2vec/GloVe/embforge file formats."""

    def __init__(self, vector_size: int, count: int = 0, dtype: DTypeLike = np.float32) -> None:
        if int(vector_size) <= 0:
            raise ValueError(f"vector_size must be positive, not {vector_size}")
        if int(count) < 0:
            raise ValueError(f"count must be >= 0, not {count}")
        storage = np.zeros((int(count) + SPARE_ROWS, int(vector_size)), dtype=dtype)
        self._setup([], storage, None)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_storage(cls: Type[_KV], keys: Iterable[Any], storage: Any,
                     counts: Optional[ArrayLike] = None) -> _KV:
        """Vectors that are the first ``len(keys)`` rows of `storage`, not a copy.

        `storage`: a C-contiguous 2-D float array (float32 for the trainers)
        with at least ``len(keys)`` rows, or a GPU array (see the module doc).
        `counts`: optional word counts, stored as the ``"count"`` attribute.
        """
        keys = list(keys)
        storage = as_array(storage)  # e.g. a CPU torch tensor becomes numpy, sharing its memory
        shape = tuple(storage.shape)
        if len(shape) != 2 or shape[1] < 1:
            raise ValueError(f"storage must be a 2-D array [rows, dim], got shape {shape}")
        if shape[0] < len(keys):
            raise ValueError(f"storage has {shape[0]} rows, fewer than the {len(keys)} keys")
        if isinstance(storage, np.ndarray):
            if storage.dtype.kind != "f":
                raise ValueError(f"storage must hold floats, not {storage.dtype}")
            if not storage.flags.c_contiguous:
                raise ValueError("storage must be C-contiguous (the trainers write into it in place)")
        self = cls.__new__(cls)
        self._setup(keys, storage, counts)
        return self

    def _setup(self, keys: List[Any], storage: Any, counts: Optional[ArrayLike]) -> None:
        self.index_to_key: List[Any] = keys
        self.key_to_index: Dict[Any, int] = {key: index for index, key in enumerate(keys)}
        if len(self.key_to_index) != len(keys):
            seen: Set[Any] = set()
            for duplicate in keys:  # the first key seen a second time
                if duplicate in seen:
                    break
                seen.add(duplicate)
            raise ValueError(f"duplicate key {duplicate!r}")
        self._storage = storage
        self.device = device_of(storage)
        self.vector_size = int(storage.shape[1])
        self.expandos: Dict[str, np.ndarray] = {}
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64).reshape(-1)
            if len(counts) != len(keys):
                raise ValueError(f"{len(counts)} counts for {len(keys)} keys")
            self.expandos["count"] = counts.copy()
        self._host: Optional[np.ndarray] = None
        self.norms: Optional[np.ndarray] = None
        self._normed: Optional[np.ndarray] = None
        self._generation = 0    # bumped by _invalidate()

    def _invalidate(self) -> None:
        """Drops caches derived from the vectors (norms, unit vectors, host copy).
        Call it after writing into the vectors in place."""
        self._host = None
        self.norms = None
        self._normed = None
        self._generation += 1   # a cache computed from the old vectors is not kept

    # ------------------------------------------------------------ storage

    @property
    def vectors(self) -> np.ndarray:
        """The ``[len(self), vector_size]`` vectors: a view of the storage on the
        CPU; for GPU storage a read-only host copy, refreshed by ``_invalidate()``."""
        if self._host is None:
            self._host = host_rows(self._storage, len(self.index_to_key))
        return self._host

    @vectors.setter
    def vectors(self, value: Any) -> None:
        value = np.ascontiguousarray(value)
        if value.ndim != 2 or value.shape[0] != len(self.index_to_key):
            raise ValueError(f"expected an array of {len(self.index_to_key)} rows, got shape {value.shape}")
        self._storage = value
        self.device = "cpu"
        self.vector_size = int(value.shape[1])
        self._invalidate()

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __repr__(self) -> str:
        dtype = getattr(self._storage, "dtype", "?")
        return f"KeyedVectors({len(self)} keys x {self.vector_size} dims, {dtype}, device={self.device!r})"

    # ------------------------------------------------------------ keys

    def get_index(self, key: object, default: Optional[int] = None) -> int:
        """Row of `key`; an int that is not a key is taken as a row number
        (gensim); else `default`, or KeyError when no default is given."""
        index = self.key_to_index.get(key, -1)
        if index >= 0:
            return index
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < len(self):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"Key {key!r} not present")

    def has_index_for(self, key: object) -> bool:
        return self.get_index(key, -1) >= 0

    def __contains__(self, key: object) -> bool:
        return self.has_index_for(key)

    def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
        """The vector of `key` (a view of the storage), or its unit vector (a copy)."""
        index = self.get_index(key)
        if norm:
            unit: np.ndarray = self.get_normed_vectors()[index].copy()
            return unit
        vector: np.ndarray = self.vectors[index]
        return vector

    word_vec = get_vector

    def __getitem__(self, key_or_keys: Union[Key, Sequence[Key]]) -> np.ndarray:
        """One key: its vector; a list of keys: a 2-D array of their vectors."""
        if is_key(key_or_keys):
            return self.get_vector(key_or_keys)
        indices = [self.get_index(key) for key in key_or_keys]
        return self.vectors[np.array(indices, dtype=np.int64)]

    def __setitem__(self, keys: Iterable[Any], weights: ArrayLike) -> None:
        """Adds or replaces vectors (gensim)."""
        if is_key(keys):
            keys, weights = [keys], np.asarray(weights).reshape(1, -1)
        self.add_vectors(keys, weights, replace=True)

    def get_vecattr(self, key: Key, attr: str) -> Any:
        """A per-key attribute such as ``"count"``."""
        return self.expandos[attr][self.get_index(key)].item()

    def set_vecattr(self, key: Key, attr: str, value: Any) -> None:
        index = self.get_index(key)
        if attr not in self.expandos:
            dtype = np.int64 if isinstance(value, (int, np.integer)) else np.asarray(value).dtype
            self.expandos[attr] = np.zeros(len(self), dtype=dtype)
        self.expandos[attr][index] = value

    # ------------------------------------------------------------ adding

    def add_vector(self, key: Key, vector: ArrayLike) -> int:
        """Adds one key (kept as is if present); returns its index."""
        self.add_vectors([key], np.asarray(vector).reshape(1, -1))
        return self.get_index(key)

    def add_vectors(self, keys: Iterable[Any], weights: ArrayLike,
                    extras: Optional[Dict[str, np.ndarray]] = None, replace: bool = False) -> None:
        """Appends new keys with their vectors; existing keys keep their vectors
        unless `replace`. Within one call the first of duplicate keys counts
        (the last with `replace`). `extras`: ``{attr: values}`` per key."""
        require_host(self._storage, "add vectors before moving them to the GPU (or set "
                     "kv.vectors to a host array first)")
        if is_key(keys):
            keys, weights = [keys], np.asarray(weights).reshape(1, -1)
        keys = list(keys)
        weights = np.asarray(weights, dtype=self._storage.dtype)
        if weights.shape != (len(keys), self.vector_size):
            raise ValueError(f"expected weights of shape ({len(keys)}, {self.vector_size}), "
                             f"got {weights.shape}")
        extras = {name: np.asarray(values) for name, values in (extras or {}).items()}
        new_rows, replaced = {}, {}
        for position, key in enumerate(keys):
            if key in self.key_to_index:
                replaced[self.key_to_index[key]] = position
            elif key in new_rows:
                if replace:
                    new_rows[key] = position
            else:
                new_rows[key] = position
        start = len(self)
        self._reserve(start + len(new_rows))
        for offset, (key, position) in enumerate(new_rows.items()):
            self.key_to_index[key] = start + offset
            self.index_to_key.append(key)
        picked = np.fromiter(new_rows.values(), dtype=np.int64, count=len(new_rows))
        self._storage[start:len(self)] = weights[picked]
        self._grow_attrs(extras, picked, start)
        if replace and replaced:
            rows = np.fromiter(replaced.keys(), dtype=np.int64, count=len(replaced))
            positions = np.fromiter(replaced.values(), dtype=np.int64, count=len(replaced))
            self._storage[rows] = weights[positions]
            for name, values in extras.items():
                self.expandos[name][rows] = values[positions]
        self._invalidate()

    def _reserve(self, rows: int) -> None:
        """Makes room for `rows` vectors and SPARE_ROWS spare rows after them."""
        if rows + SPARE_ROWS <= self._storage.shape[0]:
            return
        storage = np.zeros((rows + SPARE_ROWS, self.vector_size), dtype=self._storage.dtype)
        storage[: len(self)] = self._storage[: len(self)]
        self._storage = storage

    def _grow_attrs(self, extras: Dict[str, np.ndarray], picked: np.ndarray, start: int) -> None:
        for name in set(self.expandos) | set(extras):
            old = self.expandos.get(name)
            dtype = old.dtype if old is not None else extras[name].dtype
            grown = np.zeros(len(self), dtype=dtype)
            if old is not None:
                grown[:start] = old[:start]
            if name in extras:
                grown[start:] = extras[name][picked]
            self.expandos[name] = grown

    # ------------------------------------------------------------ norms

    def fill_norms(self, force: bool = False) -> None:
        """Computes ``self.norms`` (L2 length of each vector) if missing or `force`."""
        if self.norms is None or force:
            generation = self._generation
            norms = np.linalg.norm(self.vectors, axis=1)
            if generation == self._generation:
                self.norms, self._normed = norms, None

    def get_normed_vectors(self) -> np.ndarray:
        """Unit-length vectors (zero vectors stay zero), cached and read-only
        until ``_invalidate()``."""
        normed = self._normed
        if normed is None:
            # Cached only if the vectors were not declared changed meanwhile
            # (a query in one thread while training ends in another).
            generation = self._generation
            norms = self.norms if self.norms is not None else np.linalg.norm(self.vectors, axis=1)
            lengths = np.where(norms > 0, norms, 1).astype(self.vectors.dtype)
            normed = self.vectors / lengths[:, None]
            normed.flags.writeable = False
            if generation == self._generation:
                self.norms, self._normed = norms, normed
        return normed

    def unit_normalize_all(self) -> None:
        """Scales every vector to unit length in place (gensim)."""
        self.vectors[...] = self.get_normed_vectors()
        self._invalidate()

    # ------------------------------------------------------------ evaluation

    def evaluate_word_analogies(self, analogies: StrPath, restrict_vocab: int = 30000,
                                case_insensitive: bool = True, dummy4unknown: bool = False
                                ) -> Tuple[float, List[Dict[str, Any]]]:
        """3CosAdd accuracy on a questions-words file: ``(score, sections)`` as in
        gensim (see embforge.evaluation)."""
        return evaluation.evaluate_word_analogies(self, analogies, restrict_vocab,
                                                  case_insensitive, dummy4unknown)

    def evaluate_word_pairs(self, pairs: StrPath, delimiter: str = "\t", encoding: str = "utf8",
                            restrict_vocab: int = 300000, case_insensitive: bool = True,
                            dummy4unknown: bool = False
                            ) -> Tuple[CorrelationResult, CorrelationResult, float]:
        """``(pearson, spearman, oov_ratio)`` against human similarity scores, as
        in gensim (see embforge.evaluation)."""
        return evaluation.evaluate_word_pairs(self, pairs, delimiter, restrict_vocab,
                                              case_insensitive, dummy4unknown, encoding)

    # ------------------------------------------------------------ pictures

    def plot_map(self, words: Sequence[str] = (), path: Optional[StrPath] = None, **options: Any
                 ) -> "Figure":
        """A labelled 2-D map of `words` (PCA; t-SNE or UMAP with
        method=), optionally coloured by groups= and with neighbours_of=
        drawn around a query word; returns the matplotlib Figure and writes
        a PNG to `path` (see embforge.plots.plot_map; needs matplotlib)."""
        from .plots import plot_map
        return plot_map(self, words, path, **options)

    # ------------------------------------------------------------ files

    def save_word2vec_format(self, fname: StrPath, fvocab: Optional[StrPath] = None,
                             binary: bool = False, total_vec: Optional[int] = None,
                             write_header: bool = True) -> None:
        """Writes word2vec text/binary, or GloVe text with ``write_header=False``;
        `fvocab` also writes ``word count`` lines. Atomic."""
        if fvocab is not None:
            if "count" not in self.expandos:
                raise ValueError("cannot write fvocab: these vectors have no 'count' attribute")
            vocab_file.write_vocab_file(fvocab, self.index_to_key, self.expandos["count"])
        word2vec_format.write_word2vec(fname, self.index_to_key, self.vectors, binary=binary,
                                       total_vec=total_vec, write_header=write_header)

    @classmethod
    def load_word2vec_format(cls, fname: StrPath, fvocab: Optional[StrPath] = None,
                             binary: bool = False, encoding: str = "utf8",
                             unicode_errors: str = "strict", limit: Optional[int] = None,
                             datatype: DTypeLike = np.float32, no_header: bool = False
                             ) -> "KeyedVectors":
        """Reads word2vec text/binary or GloVe text (``no_header=True``), plain
        or compressed (gzip, bzip2, xz). Counts come from `fvocab` if given, else gensim's made-up
        descending counts. Bad files raise ValueError (see embforge.io.word2vec_format)."""
        words, storage, counts = word2vec_format.read_word2vec(
            fname, binary=binary, limit=limit, encoding=encoding, unicode_errors=unicode_errors,
            no_header=no_header, datatype=datatype)
        if fvocab is not None:
            known = dict(zip(*vocab_file.read_vocab_file(fvocab, unicode_errors=unicode_errors)))
            missing = [w for w in words if w not in known]
            if missing:
                logger.warning("vocabulary file %s is incomplete: %d words missing (e.g. %r); "
                               "their count is 0", fvocab, len(missing), missing[0])
            counts = np.array([known.get(w, 0) for w in words], dtype=np.int64)
        return cls.from_storage(words, storage, counts)

    # ------------------------------------------------------------ PyTorch / CuPy hand-off
    def to_torch(self, device: Any = None) -> "torch.Tensor":
        """The vectors as a torch tensor sharing their memory (see torch_bridge.to_torch)."""
        from .torch_bridge import to_torch
        return to_torch(self, device=device)

    def to_embedding(self, freeze: bool = False, specials: Sequence[str] = ("<pad>", "<unk>"), *,
                     copy: bool = False, device: Any = None
                     ) -> Tuple["torch.nn.Embedding", Dict[str, int]]:
        """``(torch.nn.Embedding, key_to_index)`` from the vectors, with `specials`
        appended after the words (see torch_bridge.to_embedding)."""
        from .torch_bridge import to_embedding
        return to_embedding(self, freeze=freeze, specials=specials, copy=copy, device=device)

    def to_cupy(self, copy: bool = False) -> Any:
        """The vectors as a CuPy array without a copy (GPU vectors; see torch_bridge.to_cupy)."""
        from .torch_bridge import to_cupy
        return to_cupy(self, copy=copy)

    # ------------------------------------------------------------ gensim hand-off
    def to_gensim(self) -> "gensim.models.KeyedVectors":
        """A ``gensim.models.KeyedVectors`` sharing these vectors' memory (a
        view of the word rows, no copy; GPU vectors go through a host copy),
        with the counts copied (see embforge.gensim_bridge; needs gensim)."""
        from .gensim_bridge import to_gensim
        return to_gensim(self)

    @classmethod
    def from_gensim(cls, kv: Any) -> "KeyedVectors":
        """KeyedVectors from a gensim KeyedVectors (or a model with ``.wv``):
        the vectors are copied, into a storage with the spare rows after the
        words that embforge's layout needs, so they never alias gensim's
        array; counts carried (see embforge.gensim_bridge)."""
        from .gensim_bridge import from_gensim
        return from_gensim(cls, kv)

    def intersect_word2vec_format(self, fname: StrPath, lockf: float = 1.0, binary: bool = False,
                                  encoding: str = "utf8", unicode_errors: str = "strict",
                                  no_header: bool = False) -> int:
        """Takes the vectors of the words this vocabulary shares with a
        word2vec/GloVe file (no word added); returns how many. Only
        ``lockf=1.0``: embforge has no per-word learning-rate locks (see
        embforge.pretrained)."""
        return pretrained.intersect_word2vec_format(self, fname, lockf, binary, encoding,
                                                    unicode_errors, no_header)

    def save(self, path: StrPath) -> None:
        """Writes the embforge ``.kv`` format (no pickle), atomically."""
        native_kv.write_native(path, self.index_to_key, self.vectors, self.expandos.get("count"))

    @classmethod
    def load(cls, path: StrPath) -> "KeyedVectors":
        """Reads a file written by :meth:`save`; never unpickles anything."""
        words, storage, counts = native_kv.read_native(path)
        return cls.from_storage(words, storage, counts)
