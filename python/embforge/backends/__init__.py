"""One backend per device kind, chosen once from ``device``.

    backend = get_backend("cuda:0")      # or "cpu", "cuda", a torch.device
    storage, output = backend.init_word2vec(vocab_size, dim, seed)

``base.Backend`` is the contract; ``cpu.CpuBackend`` (numpy, ``_core``) and
``cuda.CudaBackend`` (torch/CuPy memory, ``_cuda``) implement it. ``arrays``
holds the device helpers every layer shares (where an array lives, host
copies, the spare rows).
"""
from __future__ import annotations

from .. import _native
from .base import Backend
from .cpu import CpuBackend
from .cuda import CudaBackend

__all__ = ["Backend", "get_backend"]

_KINDS = {"cpu": CpuBackend, "cuda": CudaBackend}


def get_backend(device: str) -> Backend:
    """The backend for "cpu", "cuda", "cuda:N" or a torch.device; ValueError
    for other names, RuntimeError saying why when CUDA is unavailable."""
    name = _native.resolve_device(device)
    return _KINDS[name.split(":", 1)[0]](name)
