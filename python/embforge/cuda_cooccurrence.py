"""Co-occurrence counting on the GPU: ``cooccurrence(..., device="cuda")`` (issue 5).

The count itself is one call of ``cuda_backend.count_cooccurrences`` (it
publishes progress per chunk and honours stop between chunks); this module
gives it the CPU path's bar, Ctrl-C handling and result object. ``memory`` is
the device workspace: the GPU does not spill to disk, so a matrix that
outgrows it raises an error naming the budget.

The result equals the CPU's bit for bit (both sum 1/d in fixed point). It
comes back as a host ``Cooccurrence`` unless ``keep_on_device=True``: then a
``DeviceCooccurrence`` keeps rows, cols and values as torch (or CuPy) arrays
on the GPU, e.g. for ``GloVe(device="cuda")``, which makes its pairs there.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from . import _native
from .cooccurrence import Cooccurrence
from .progress import make_bar, run_polled

__all__ = ["DeviceCooccurrence", "count", "upload"]

logger = logging.getLogger(__name__)


class DeviceCooccurrence(Cooccurrence):
    """A ``Cooccurrence`` whose ``rows``/``cols``/``values`` are device arrays
    (int32, int32, float32) on ``device``. What reads values on the host
    (lookups, ``to_scipy``, ``save``, ``save_glove_binary``, ``==``) works on a
    host copy made for that call: call ``to_host()`` once for many lookups."""

    def __init__(self, rows, cols, values, vocab, *, device: str, window=None, symmetric=None,
                 distance_weighting=None, stats=None):
        # The base class sets every other attribute; its checks are host-side,
        # and these arrays come from the counting kernel or a checked host matrix.
        empty = np.zeros(0, np.int32)
        super().__init__(empty, empty, empty.view(np.float32), vocab, window=window,
                         symmetric=symmetric, distance_weighting=distance_weighting, stats=stats,
                         check=False)
        self.rows, self.cols, self.values = rows, cols, values
        self.device = device

    def to_host(self) -> Cooccurrence:
        from .keyedvectors import _to_host
        return Cooccurrence(_to_host(self.rows), _to_host(self.cols), _to_host(self.values),
                            self.vocab, window=self.window, symmetric=self.symmetric,
                            distance_weighting=self.distance_weighting, stats=self.stats,
                            check=False)

    def to_device(self, device="cuda") -> Cooccurrence:
        if _native.resolve_device(device) == self.device:
            return self
        return self.to_host().to_device(device)

    def __getitem__(self, pair) -> float:
        return self.to_host()[pair]

    def to_scipy(self, format: str = "coo"):
        return self.to_host().to_scipy(format)

    def save(self, path) -> None:
        self.to_host().save(path)

    def save_glove_binary(self, path, vocab_path=None) -> None:
        self.to_host().save_glove_binary(path, vocab_path)

    def __eq__(self, other) -> bool:
        return isinstance(other, Cooccurrence) and self.to_host() == other.to_host()

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", device={self.device!r})"


def upload(matrix: Cooccurrence, device="cuda") -> DeviceCooccurrence:
    """A device copy of a host matrix (``Cooccurrence.to_device``)."""
    from . import cuda_backend
    device = _native.resolve_device(device)
    if device == "cpu":
        raise ValueError("to_device() needs a CUDA device ('cuda' or 'cuda:N'), got 'cpu'; "
                         "to_host() gives host arrays")
    arrays = cuda_backend.array_module()
    rows, cols, values = (arrays.upload(np.ascontiguousarray(a), device)
                          for a in (matrix.rows, matrix.cols, matrix.values))
    return DeviceCooccurrence(rows, cols, values, matrix.vocab, device=device,
                              window=matrix.window, symmetric=matrix.symmetric,
                              distance_weighting=matrix.distance_weighting, stats=matrix.stats)


def count(encoded, *, window: int, symmetric: bool, distance_weighting: bool, memory,
          memory_bytes: int, device: str, progress, keep_on_device: bool) -> Cooccurrence:
    """The body of ``cooccurrence()`` on a GPU, from the encoded corpus on."""
    from . import cuda_backend
    native_progress = _native.core.Progress()
    bar = make_bar(progress, encoded.n_tokens, "co-occurrence", "word")
    started = time.perf_counter()

    def call():
        return cuda_backend.count_cooccurrences(
            encoded.ids, encoded.offsets, len(encoded.vocab), window=window,
            symmetric=symmetric, distance_weighting=distance_weighting,
            memory_bytes=memory_bytes, progress=native_progress, device=device)

    def poll():
        if bar is not None:
            bar.update(native_progress.work_done - bar.n)

    try:
        result, interrupted = run_polled(cuda_backend.on_caller_stream(call, device),
                                         native_progress, poll)
    except RuntimeError as error:  # e.g. the matrix outgrew the workspace: name the knob
        raise RuntimeError(f"co-occurrence on {device} with memory={memory!r} "
                           f"({memory_bytes} bytes of device workspace): {error}") from error
    finally:
        if bar is not None:
            bar.close()
    rows, cols, values, stats = result
    if interrupted or stats["stopped"]:
        raise KeyboardInterrupt("co-occurrence counting stopped; nothing was kept")
    stats["seconds"] = time.perf_counter() - started
    stats["raw_tokens"] = encoded.raw_tokens
    logger.info("co-occurrence on %s: %d nonzeros from %d tokens in %.2fs (%d chunks)", device,
                len(values), encoded.n_tokens, stats["seconds"], stats["chunks"])
    matrix = DeviceCooccurrence(rows, cols, values, encoded.vocab, device=device, window=window,
                                symmetric=symmetric, distance_weighting=distance_weighting,
                                stats=stats)
    return matrix if keep_on_device else matrix.to_host()
