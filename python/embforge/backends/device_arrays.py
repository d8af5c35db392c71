"""Device memory for the CUDA backend: torch tensors, or CuPy arrays when torch is missing.

Python owns every device buffer; the kernels receive raw pointers and the
caller's current stream, so training composes with the caller's own stream
and allocator. Host arrays (the encoded corpus, sampling tables) are copied
to the device once and cached while the host array lives.
"""
from __future__ import annotations

import contextlib
import weakref
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Optional, Tuple

import numpy as np

__all__ = ["array_module", "to_device", "on_caller_stream", "device_index", "check_array"]


class _TorchArrays:
    name = "torch"

    def __init__(self) -> None:
        import torch  # noqa: PLC0415 - optional dependency
        self.torch = torch
        self.dtypes = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
                       "int32": torch.int32, "uint8": torch.uint8}

    def is_device_array(self, a: Any) -> bool:
        return isinstance(a, self.torch.Tensor) and a.is_cuda

    def empty(self, shape: Any, dtype: Any, device: Any) -> Any:
        return self.torch.empty(shape, dtype=self.dtypes[dtype], device=device)

    def zeros(self, shape: Any, dtype: Any, device: Any) -> Any:
        return self.torch.zeros(shape, dtype=self.dtypes[dtype], device=device)

    def upload(self, array: np.ndarray, device: Any) -> Any:
        return self.torch.from_numpy(array).to(device)

    def ptr(self, a: Any) -> int:
        return int(a.data_ptr())

    def dtype(self, a: Any) -> str:
        return str(a.dtype).replace("torch.", "")

    def contiguous(self, a: Any) -> bool:
        return bool(a.is_contiguous())

    def device(self, a: Any) -> str:
        return f"cuda:{a.device.index}"

    def stream(self, device: Any) -> int:
        return self.torch.cuda.current_stream(device).cuda_stream

    def current_stream(self, device: Any) -> Any:
        return self.torch.cuda.current_stream(device)

    def using_stream(self, stream: Any, device: Any) -> ContextManager[Any]:
        return self.torch.cuda.stream(stream)  # also makes the stream's device current

    def synchronize(self, device: Any) -> None:
        self.torch.cuda.current_stream(device).synchronize()

    def scalars(self, a: Any) -> List[Any]:
        values: List[Any] = a.tolist()
        return values

    def free_bytes(self, device: Any) -> int:
        return self.torch.cuda.mem_get_info(device)[0]

    def extrema(self, a: Any) -> Tuple[Any, ...]:
        """(min, max) of a non-empty integer array, reduced on its device."""
        low, high = self.torch.aminmax(a)
        return int(low), int(high)

    def first_true(self, mask: Any) -> int:
        """The first index where a 1-D bool array is True, or -1."""
        hits = self.torch.nonzero(mask)
        return int(hits[0, 0]) if hits.shape[0] else -1

    def group_rows(self, a: Any, column: int, groups: int) -> Tuple[Any, List[int]]:
        """The rows of a 2-d integer array grouped by a[:, column] % groups
        (group 0's rows first, each group's in their order in `a`), a new
        array; and the groups' sizes."""
        key = a[:, column].to(self.torch.int64) % groups
        order = self.torch.argsort(key, stable=True)
        sizes = self.torch.bincount(key, minlength=groups)
        return a[order], [int(size) for size in sizes.tolist()]


class _CupyArrays:
    name = "cupy"

    def __init__(self) -> None:
        import cupy  # noqa: PLC0415 - optional dependency
        self.cupy = cupy

    def _on(self, device: Any) -> Any:
        return self.cupy.cuda.Device(device_index(device))

    def is_device_array(self, a: Any) -> bool:
        return isinstance(a, self.cupy.ndarray)

    def empty(self, shape: Any, dtype: Any, device: Any) -> Any:
        with self._on(device):
            return self.cupy.empty(shape, dtype=dtype)

    def zeros(self, shape: Any, dtype: Any, device: Any) -> Any:
        with self._on(device):
            return self.cupy.zeros(shape, dtype=dtype)

    def upload(self, array: np.ndarray, device: Any) -> Any:
        with self._on(device):
            return self.cupy.asarray(array)

    def ptr(self, a: Any) -> int:
        return int(a.data.ptr)

    def dtype(self, a: Any) -> str:
        return str(a.dtype)

    def contiguous(self, a: Any) -> bool:
        return bool(a.flags.c_contiguous)

    def device(self, a: Any) -> str:
        return f"cuda:{a.device.id}"

    def stream(self, device: Any) -> int:
        with self._on(device):
            return int(self.cupy.cuda.get_current_stream().ptr)

    def current_stream(self, device: Any) -> Any:
        with self._on(device):
            return self.cupy.cuda.get_current_stream()

    @contextlib.contextmanager
    def using_stream(self, stream: Any, device: Any) -> Iterator[None]:
        with self._on(device), stream:
            yield

    def synchronize(self, device: Any) -> None:
        with self._on(device):
            self.cupy.cuda.get_current_stream().synchronize()

    def scalars(self, a: Any) -> List[Any]:
        values: List[Any] = a.tolist()
        return values

    def free_bytes(self, device: Any) -> int:
        with self._on(device):
            return int(self.cupy.cuda.runtime.memGetInfo()[0])

    def extrema(self, a: Any) -> Tuple[Any, ...]:
        return int(a.min()), int(a.max())

    def first_true(self, mask: Any) -> int:
        hits = self.cupy.flatnonzero(mask)
        return int(hits[0]) if hits.shape[0] else -1

    def group_rows(self, a: Any, column: int, groups: int) -> Tuple[Any, List[int]]:
        cupy = self.cupy
        key = a[:, column].astype(cupy.int64) % groups
        # the row index breaks ties: the same order as torch's stable sort,
        # whichever sort CuPy picks (key * rows stays far below 2**63)
        order = cupy.argsort(key * len(a) + cupy.arange(len(a), dtype=cupy.int64))
        sizes = cupy.bincount(key, minlength=groups)
        return a[order], [int(size) for size in sizes.get()]


_arrays = None


def array_module() -> Any:
    """torch when importable, else CuPy; RuntimeError naming both otherwise."""
    global _arrays
    if _arrays is None:
        errors = []
        for kind in (_TorchArrays, _CupyArrays):
            try:
                _arrays = kind()
                break
            except ImportError as error:
                errors.append(str(error))
        else:
            raise RuntimeError('device="cuda" needs torch or CuPy for device memory; install one '
                               f"(pip install torch): {'; '.join(errors)}")
    return _arrays


def device_index(device: Any) -> int:
    text = str(device)
    return int(text.split(":", 1)[1]) if ":" in text else 0


# Device copies of host arrays, alive as long as the host array is.
_copies: Dict[Tuple[int, str], Tuple["weakref.ref[Any]", Any]] = {}


def to_device(array: Any, device: Any, dtype: Optional[str] = None) -> Any:
    """`array` on `device`: a device array is returned as is, a numpy array is
    copied once and the copy cached for as long as the array lives (the
    encoded corpus and the sampling tables are uploaded once per run).
    uint32 data travels as int32 (same bits: torch has no full uint32)."""
    arrays = array_module()
    if arrays.is_device_array(array):
        return array
    host = np.asarray(array)
    if dtype is not None and host.dtype != np.dtype(dtype) and not (
            dtype == "int32" and host.dtype == np.uint32):
        raise ValueError(f"expected {dtype} data, got {host.dtype}")
    key = (id(array), str(device))
    hit = _copies.get(key)
    if hit is not None and hit[0]() is array:
        return hit[1]
    upload = np.ascontiguousarray(host)
    if upload.dtype == np.uint32:
        upload = upload.view(np.int32)
    copy = arrays.upload(upload, device)
    try:
        def forget(_: object, key: Tuple[int, str] = key) -> None:
            _copies.pop(key, None)

        ref = weakref.ref(array, forget)
    except TypeError:  # not weak-referenceable (e.g. a list): no caching
        return copy
    _copies[key] = (ref, copy)
    return copy


def on_caller_stream(call: Any, device: Any) -> Callable[[], Any]:
    """`call` bound to the calling thread's current stream on `device`, to run
    on another thread: torch and CuPy keep one current stream per thread, and
    the trainers run their launch loop on a helper thread (run_polled), which
    would otherwise launch on the default stream instead of the caller's."""
    arrays = array_module()
    stream = arrays.current_stream(device)

    def run() -> Any:
        with arrays.using_stream(stream, device):
            return call()
    return run


def check_array(arrays: Any, a: Any, name: Any, dtype: Any, shape: Any, device: Any) -> None:
    """ValueError unless `a` is a C-contiguous `dtype` device array of `shape` on `device`."""
    if not arrays.is_device_array(a):
        raise ValueError(f"{name} must be a device array on {device}, got {type(a).__name__}")
    if arrays.device(a) != device:
        raise ValueError(f"{name} is on {arrays.device(a)}, expected {device}")
    if arrays.dtype(a) != dtype:
        raise ValueError(f"{name} must have dtype {dtype}, got {arrays.dtype(a)}")
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(a.shape)}, expected {tuple(shape)}")
    if not arrays.contiguous(a):
        raise ValueError(f"{name} must be C-contiguous")
