"""Zero-copy hand-off of trained vectors to PyTorch (and CuPy).

The vectors stay where they were trained: on the CPU, torch tensors share the
numpy buffer; on a GPU, they share the trainer's device buffer through DLPack
or ``__cuda_array_interface__``, with no round trip through the host.

Layout of :func:`to_embedding` (the ids a model sees)::

    0 .. n-1        the n words, in the vectors' order (ids = kv.key_to_index)
    n               specials[0], the padding row: zeros, ``padding_idx``
    n+1 ..          the other specials (default "<unk>"; a language model adds
                    "<bos>", "<eos>"): the mean word vector

Word ids are unchanged and the specials are appended, so the embedding can
reuse the vectors' own buffer (its ``SPARE_ROWS`` spare rows, enough for
``LM_SPECIALS``) instead of copying it.

torch (and CuPy) are optional: they are imported only when these functions
run, so ``import embforge`` never needs them.
"""
from __future__ import annotations

import weakref
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, Sequence, Tuple, cast

import numpy as np

from .backends.arrays import same_device, tensor_device

if TYPE_CHECKING:
    import torch
    from torch import Tensor

__all__ = ["require_torch", "to_torch", "to_embedding", "to_embedding_bag", "SubwordIds",
           "to_cupy", "embedding_vocab", "tensor_device", "vectors_changed", "shares_memory",
           "DEFAULT_SPECIALS", "LM_SPECIALS"]

DEFAULT_SPECIALS = ("<pad>", "<unk>")
# A language model also needs a start and an end of text; all four fit in the
# spare rows every vector buffer keeps (_layout.SPARE_ROWS).
LM_SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")

# embedding module -> weak reference to the vectors whose memory it shares
_SHARED: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def require_torch() -> ModuleType:
    """Imports torch, or raises an ImportError that says how to get it."""
    try:
        import torch  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise ImportError(
            "this part of embforge needs PyTorch, which is not installed: "
            "pip install 'embforge[torch]' (or pip install torch)") from error
    return torch


def _require_cupy() -> Any:
    try:
        import cupy  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise ImportError(
            "to_cupy needs CuPy, which is not installed: pip install cupy-cuda12x "
            "(pick the wheel matching your CUDA version)") from error
    return cupy


def _kv_device(kv: Any) -> str:
    return str(getattr(kv, "device", "cpu") or "cpu")


def _storage_tensor(kv: Any) -> "torch.Tensor":
    """The whole backing buffer of `kv` (words and spare rows) as a torch tensor,
    sharing its memory."""
    torch = require_torch()
    storage = getattr(kv, "_storage", None)
    if storage is None:  # objects without spare rows: the vectors themselves
        storage = kv.vectors
    if isinstance(storage, torch.Tensor):
        return cast("Tensor", storage)
    if _kv_device(kv).startswith("cuda"):
        # CuPy arrays and native buffers: DLPack first (it carries the stream
        # protocol), __cuda_array_interface__ otherwise; both share the memory.
        if hasattr(storage, "__dlpack__"):
            return cast("Tensor", torch.from_dlpack(storage))
        if hasattr(storage, "__cuda_array_interface__"):
            return cast("Tensor", torch.as_tensor(storage, device=_kv_device(kv)))
        raise TypeError(
            f"vectors on {_kv_device(kv)} are stored as {type(storage).__name__}, "
            "which exposes neither __dlpack__ nor __cuda_array_interface__")
    # numpy: from_numpy shares the buffer (DLPack would too).
    if not storage.flags.writeable:
        raise ValueError(
            "the vectors' array is read-only, and a tensor sharing it could be written "
            "through: copy it instead, e.g. torch.tensor(kv.vectors)")
    return cast("Tensor", torch.from_numpy(storage))


def _writable(kv: Any) -> bool:
    storage = getattr(kv, "_storage", None)
    storage = kv.vectors if storage is None else storage
    return bool(getattr(getattr(storage, "flags", None), "writeable", True))


def to_torch(kv: Any, device: Any = None) -> "torch.Tensor":
    """The vectors as a float32 ``[len(kv), vector_size]`` torch tensor.

    With ``device=None`` (or the vectors' own device) the tensor shares memory
    with the vectors: a write through one is seen through the other, and no
    copy is made, on the CPU or on the GPU. Another device gives a copy there,
    as ``Tensor.to`` does. Read-only vectors (e.g. a read-only array given to
    ``KeyedVectors.from_storage``) raise ValueError rather than hand out a
    writable view of them. After writing through the tensor, vectors on a GPU
    keep a stale host copy until ``kv._invalidate()`` (or the next update) is
    called.
    """
    tensor = _storage_tensor(kv)[: len(kv)]
    if device is not None and not same_device(str(device), tensor_device(tensor)):
        tensor = tensor.to(device)
    return tensor


def embedding_vocab(kv: Any, specials: Sequence[str] = DEFAULT_SPECIALS) -> Dict[str, int]:
    """The word-to-id mapping that goes with ``to_embedding(kv, specials=...)``:
    the vectors' own ids, then the specials appended in order."""
    specials = tuple(specials)
    clash = [s for s in specials if s in kv.key_to_index]
    if clash:
        raise ValueError(
            f"special token(s) {clash} are already words of the vectors; pick other "
            "names for the specials, e.g. specials=('[PAD]', '[UNK]')")
    if len(set(specials)) != len(specials):
        raise ValueError(f"specials must be distinct, got {specials}")
    mapping = dict(kv.key_to_index)
    for offset, token in enumerate(specials):
        mapping[token] = len(kv) + offset
    return mapping


def to_embedding(kv: Any, freeze: bool = False, specials: Sequence[str] = DEFAULT_SPECIALS, *,
                 copy: bool = False, device: Any = None
                 ) -> Tuple["torch.nn.Embedding", Dict[str, int]]:
    """A ``torch.nn.Embedding`` initialised from the vectors, and its word-to-id map.

    Like ``nn.Embedding.from_pretrained``: ``freeze=True`` turns off the
    gradient of the weight. The specials are appended after the words (see the
    module doc): ``specials[0]`` is the padding row (zeros, ``padding_idx``, no
    gradient), each later one starts as the mean word vector. ``specials=()``
    adds nothing and sets no ``padding_idx``.

    Without ``copy`` the weight shares the vectors' buffer (the specials go
    into its spare rows past the words; without enough spare rows, or for
    read-only vectors, a new buffer is made), so training the embedding
    updates the vectors in place: :func:`embforge.finetune.finetune` then
    refreshes their caches (norms, host copy), or call
    :func:`vectors_changed` after a training loop of your own. Pass
    ``copy=True`` to train a private copy (e.g. several runs from the same
    vectors). A ``device`` other than the vectors' implies a copy there.

    Returns ``(embedding, key_to_index)`` where ``key_to_index`` holds the
    words and the specials.
    """
    torch = require_torch()
    mapping = embedding_vocab(kv, specials)
    n, rows = len(kv), len(kv) + len(tuple(specials))
    if n == 0:
        raise ValueError("cannot build an embedding from empty vectors")
    if not _writable(kv):  # read-only vectors: the embedding gets its own buffer
        storage, copy = torch.from_numpy(np.array(kv.vectors)), True
    else:
        storage = _storage_tensor(kv)
    target = device if device is not None else tensor_device(storage)
    if copy or not same_device(str(target), tensor_device(storage)) or storage.shape[0] < rows:
        weight = torch.empty((rows, storage.shape[1]), dtype=storage.dtype, device=target)
        weight[:n].copy_(storage[:n])
    else:
        weight = storage[:rows]  # the spare rows take the specials: no copy
    _fill_specials(weight, n, len(tuple(specials)))
    embedding = torch.nn.Embedding.from_pretrained(
        weight, freeze=freeze, padding_idx=n if len(tuple(specials)) else None)
    if weight.data_ptr() == storage.data_ptr():
        # Remember whose memory this is, so training can refresh its caches
        # (kept outside the module, which stays picklable).
        _SHARED[embedding] = weakref.ref(kv)
    return embedding, mapping


def shares_memory(embedding: Any, kv: Any) -> bool:
    """Whether `embedding` was built on `kv`'s own buffer (training it writes the vectors)."""
    ref = _SHARED.get(embedding)
    return ref is not None and ref() is kv


def to_embedding_bag(kv: Any, freeze: bool = False, *, copy: bool = False
                     ) -> Tuple["torch.nn.EmbeddingBag", "SubwordIds"]:
    """``(torch.nn.EmbeddingBag, SubwordIds)`` for FastText vectors: the bag
    (``mode="mean"``) holds the whole input matrix (word rows, then n-gram
    rows) and ``SubwordIds(words)`` gives the ``(input, offsets)`` it takes,
    so ``bag(*ids(words))`` is each word's vector, unseen words included.

    Without ``copy`` the bag's weight shares the input matrix's memory, so
    training it moves the vectors' rows (call ``kv.adjust_vectors()`` to
    refresh ``kv.vectors`` afterwards); ``copy=True`` trains a private copy.
    """
    torch = require_torch()
    rows = getattr(kv, "input_rows", None)
    if rows is None:
        raise ValueError("to_embedding_bag needs FastText vectors (with n-gram rows); plain "
                         "word vectors have to_embedding")
    if isinstance(rows, torch.Tensor):  # rows on a GPU (device="cuda"): shared there too
        weight = rows.detach().clone() if copy else rows
    else:
        weight = torch.tensor(rows) if copy else torch.from_numpy(rows)
    bag = torch.nn.EmbeddingBag.from_pretrained(weight, freeze=freeze, mode="mean")
    return bag, SubwordIds(kv)


class SubwordIds:
    """Words to the ``(input, offsets)`` of an EmbeddingBag over FastText's
    input rows: each word's own row (vocabulary words) and its n-gram rows."""

    def __init__(self, kv: Any) -> None:
        self.kv = kv

    def __call__(self, words: Sequence[str]) -> Tuple["torch.Tensor", "torch.Tensor"]:
        torch = require_torch()
        rows = [self.kv.subword_rows(word) for word in words]
        empty = next((word for word, r in zip(words, rows) if len(r) == 0), None)
        if empty is not None:
            raise KeyError(f"{empty!r} is not a vocabulary word and has no character n-grams of "
                           f"{self.kv.min_n}..{self.kv.max_n} characters")
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(rows) else lengths
        flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return torch.from_numpy(flat.astype(np.int64)), torch.from_numpy(offsets.astype(np.int64))


def vectors_changed(embedding: Any) -> bool:
    """Tells the vectors an embedding shares memory with that they were
    written (drops their cached norms and host copy). Returns False when the
    embedding shares nothing (built with ``copy=True``)."""
    ref = _SHARED.get(embedding)
    kv = ref() if ref is not None else None
    if kv is None or not hasattr(kv, "_invalidate"):
        return False
    kv._invalidate()
    return True


def _fill_specials(weight: "torch.Tensor", n: int, count: int) -> None:
    """Zero padding row, mean vector for the other specials (in place)."""
    torch = require_torch()
    if count == 0:
        return
    with torch.no_grad():
        weight[n].zero_()
        if count > 1:
            weight[n + 1:n + count] = weight[:n].mean(dim=0)


def to_cupy(kv: Any, copy: bool = False) -> Any:
    """The vectors as a CuPy array sharing the GPU buffer they were trained in.

    CuPy arrays live on a GPU, so vectors on the CPU cannot be shared: that
    raises ValueError unless ``copy=True``, which uploads a copy.
    """
    cupy = _require_cupy()
    storage = getattr(kv, "_storage", None)
    if storage is None:
        storage = kv.vectors
    if not _kv_device(kv).startswith("cuda"):
        if not copy:
            raise ValueError(
                "the vectors are on the CPU and a CuPy array lives on a GPU, so it cannot "
                "share their memory: pass copy=True to upload a copy, or train with "
                "device='cuda'")
        return cupy.asarray(kv.vectors)
    if isinstance(storage, cupy.ndarray):
        array = storage
    elif hasattr(storage, "__dlpack__"):  # torch tensors and native buffers
        array = cupy.from_dlpack(storage)
    else:
        array = cupy.asarray(storage)  # __cuda_array_interface__: no copy
    array = array[: len(kv)]
    return array.copy() if copy else array
