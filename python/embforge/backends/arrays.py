"""Where an array lives, and host copies of it: the device helpers every layer shares.

Duck-typed on purpose: numpy arrays are host memory; anything exposing
``__dlpack_device__`` or ``__cuda_array_interface__`` (torch tensors, CuPy
arrays, native buffers) may live on a GPU. torch and CuPy are never imported
here, so these helpers work in a CPU-only install.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

__all__ = ["device_of", "is_host", "to_host", "as_array", "host_rows", "require_host",
           "same_device", "tensor_device", "all_finite", "largest_magnitude"]

# DLPack device types that are GPU memory: 2 CUDA, 10 ROCm, 13 CUDA managed
# (3, CUDA host/pinned memory, is readable by the CPU and counts as host).
_DLPACK_GPU_TYPES = (2, 10, 13)


def device_of(array: Any) -> str:
    """'cpu' for host arrays, 'cuda:N' for arrays on a GPU."""
    if isinstance(array, np.ndarray):
        return "cpu"
    dlpack_device = getattr(array, "__dlpack_device__", None)
    if dlpack_device is not None:
        kind, index = dlpack_device()
        return f"cuda:{int(index)}" if int(kind) in _DLPACK_GPU_TYPES else "cpu"
    if hasattr(array, "__cuda_array_interface__"):
        device = getattr(array, "device", None)
        index = getattr(device, "id", getattr(device, "index", 0))
        return f"cuda:{int(index or 0)}"
    return "cpu"


def is_host(array: Any) -> bool:
    """True when the CPU can read `array` in place."""
    return device_of(array) == "cpu"


def to_host(array: Any) -> np.ndarray:
    """`array` as a numpy array: host data as it is (no copy when it already
    is one), GPU data as a host copy (CuPy ``.get()``, torch ``.cpu()``)."""
    if isinstance(array, np.ndarray):
        return array
    if is_host(array):
        return np.asarray(array)  # e.g. a CPU torch tensor: shares its memory
    if hasattr(array, "get") and hasattr(array, "__cuda_array_interface__"):
        host = array.get()
    elif hasattr(array, "cpu"):
        host = array.detach().cpu().numpy() if hasattr(array, "detach") else array.cpu().numpy()
    else:
        raise TypeError(f"cannot copy a {type(array).__name__} from the GPU: it has neither "
                        ".get() (CuPy) nor .cpu() (torch)")
    return np.ascontiguousarray(host)


def as_array(array: Any) -> Any:
    """Host data as a numpy array (sharing memory where it can), device arrays
    unchanged: what a container of either kind keeps."""
    return np.asarray(array) if is_host(array) else array


def host_rows(storage: Any, rows: int) -> np.ndarray:
    """The first `rows` rows of `storage` readable on the CPU: a writable view
    of host storage, a read-only copy of GPU storage."""
    if is_host(storage):
        return np.asarray(storage)[:rows]  # as_array of host data
    host = to_host(storage[:rows])
    host.flags.writeable = False
    return host


def require_host(array: Any, what: str) -> None:
    """ValueError unless `array` is host memory; `what` says what needed it."""
    device = device_of(array)
    if device != "cpu":
        raise ValueError(f"the data live on {device}: {what}")


def same_device(a: Any, b: Any) -> bool:
    """'cuda' and 'cuda:0' name the same GPU; anything else compares as text."""
    def norm(text: Any) -> str:
        text = str(text).lower()
        return "cuda:0" if text == "cuda" else text
    return norm(a) == norm(b)


def tensor_device(tensor: Any) -> str:
    """A torch tensor's device as embforge spells it ("cpu", "cuda:0")."""
    device = tensor.device
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else 0}"
    return str(device)


def all_finite(array: Any) -> bool:
    """True when no entry is NaN or infinite, checked where the data live
    (numpy, torch or CuPy; only the answer crosses to the host)."""
    if isinstance(array, (np.ndarray, np.generic)):
        return _host_all_finite(np.asarray(array))
    if hasattr(array, "isfinite"):  # torch
        return bool(array.isfinite().all())
    import cupy  # noqa: PLC0415 - only CuPy arrays reach here
    return bool(cupy.isfinite(array).all())


# Elements checked at a time: np.isfinite of a whole FastText input matrix
# (2M x 100) made a 200 MB boolean temporary each epoch, fresh pages the
# kernel zeroes (0.48 s where the check itself takes 0.04 s).
_FINITE_CHUNK = 1 << 20


def _pieces(array: np.ndarray) -> Iterator[np.ndarray]:
    """`array` in runs of rows of about _FINITE_CHUNK elements (whole when
    small), so that an element-wise check makes no array-sized temporary."""
    if array.ndim == 0 or array.size <= _FINITE_CHUNK:
        yield array
        return
    rows = max(1, _FINITE_CHUNK * len(array) // array.size)
    for start in range(0, len(array), rows):
        yield array[start:start + rows]


def _host_all_finite(array: np.ndarray) -> bool:
    return all(bool(np.isfinite(piece).all()) for piece in _pieces(array))


def largest_magnitude(array: Any) -> float:
    """The largest absolute value of an entry, computed where the data live;
    NaN when an entry is NaN (inf when one is infinite), so that one pass
    answers both "finite?" and "how large?". 0.0 for an empty array."""
    if isinstance(array, (np.ndarray, np.generic)):
        return _host_largest_magnitude(np.asarray(array))
    if hasattr(array, "numel"):  # torch
        return float(array.abs().max()) if array.numel() else 0.0
    import cupy  # noqa: PLC0415 - only CuPy arrays reach here
    return float(cupy.abs(array).max()) if array.size else 0.0


def _host_largest_magnitude(array: np.ndarray) -> float:
    if array.size == 0:
        return 0.0
    # np.max over the pieces' maxima propagates a NaN, as over the whole array
    return float(np.max([np.abs(piece).max() for piece in _pieces(array)]))
