"""Access to the native modules and the device a computation runs on.

The CPU module `_core` is always built. The CUDA module `_cuda` exists only
when the package was built with nvcc; without it (or without a GPU) the package
still imports and `device="cuda"` raises an error that says why.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Dict, Optional

from . import _core

__all__ = ["core", "cuda_available", "cuda_unavailable_reason", "cuda_module",
           "resolve_device", "device_info"]

core = _core

_cuda_module: Optional[ModuleType] = None
_cuda_reason: Optional[str] = None
_cuda_probed = False


def _probe_cuda() -> None:
    global _cuda_module, _cuda_reason, _cuda_probed
    if _cuda_probed:
        return
    _cuda_probed = True
    try:
        from . import _cuda  # noqa: PLC0415 - optional module
    except ImportError as error:
        _cuda_reason = (
            "embforge was built without its CUDA module (nvcc was not found when the "
            "package was built, or EMBFORGE_CUDA=OFF). Reinstall on a machine with the "
            f"CUDA toolkit, e.g. EMBFORGE_CUDA=ON pip install embforge. ({error})")
        return
    count, why = _cuda.device_count()
    if count == 0:
        _cuda_reason = ("embforge's CUDA module is built, but no CUDA device is visible"
                        + (f": {why}" if why else ""))
        return
    _cuda_module = _cuda


def cuda_available() -> bool:
    """True when the CUDA module is built and at least one GPU is visible."""
    _probe_cuda()
    return _cuda_module is not None


def cuda_unavailable_reason() -> Optional[str]:
    """Why device="cuda" cannot run here, or None when it can."""
    _probe_cuda()
    return _cuda_reason


def cuda_module() -> ModuleType:
    """The `_cuda` extension module; raises RuntimeError saying why it is missing."""
    _probe_cuda()
    if _cuda_module is None:
        raise RuntimeError(f'device="cuda" is unavailable: {_cuda_reason}')
    return _cuda_module


def resolve_device(device: object) -> str:
    """Normalises "cpu", "cuda", "cuda:N" or a torch.device to a string."""
    text = str(device).strip().lower()
    if text == "cpu":
        return "cpu"
    if text == "cuda" or text.startswith("cuda:"):
        index = 0
        if ":" in text:
            try:
                index = int(text.split(":", 1)[1])
            except ValueError:
                raise ValueError(f"invalid device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'") from None
        count, _ = cuda_module().device_count()
        if not 0 <= index < count:
            raise ValueError(f"invalid device {device!r}: {count} CUDA device(s) visible")
        return f"cuda:{index}"
    raise ValueError(f"invalid device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def device_info(index: int = 0) -> Dict[str, Any]:
    """Name, memory and compute capability of a CUDA device."""
    info: Dict[str, Any] = cuda_module().device_info(index)
    return info
