"""The device side of ``GloVe(device="cuda")`` (issue 5).

The model's state lives on the GPU as torch (or CuPy) arrays: the weights
and squared-gradient sums ([2V, d+1], initialised exactly as the CPU's), the
pair records, and the storage under ``wv``, so the vectors reach PyTorch
without a copy as Word2Vec(device="cuda")'s do. The pair order of an epoch is
a permutation keyed by (seed, epoch) that the kernel computes itself, so no
order array exists. Only per-launch scalars (cost, counts) come back.

The update rule is the CPU's: both compile glove_update's formulas from
csrc/include/embforge/glove_math.h (vector gradients clipped, then scaled
by eta; bias step f(x) * diff without eta; init uniform / d). The CUDA
launcher (``_cuda.glove_train_range``) takes no bias rate, so the kernel runs
glove.c's bias rule (GloveArgs.bias_rate = 1, ``bias_learning_rate=1.0``);
another ``bias_learning_rate`` is refused by ``GloVe(device=...)`` rather than ignored.
Out-of-core training (glove_blocks) is CPU-only: the pairs live on the device.
"""
from __future__ import annotations

import numpy as np

from . import cuda_backend

__all__ = ["allocate", "make_pairs", "write_vectors", "epoch_call", "copy_in", "host"]


def allocate(vocab_size: int, dim: int, seed: int, device: str, spare_rows: int):
    """(weights, gradsq, storage): the model state and zeroed [V + spare_rows, d] vector rows."""
    weights, gradsq = cuda_backend.allocate_glove(vocab_size, dim, seed, device)
    storage = cuda_backend.array_module().zeros((vocab_size + spare_rows, dim), "float32", device)
    return weights, gradsq, storage


def make_pairs(matrix, x_max: float, alpha: float, device: str):
    """The pair records of a Cooccurrence on the device. A host matrix is
    uploaded for this call only (not cached like the corpus: it can be large
    and is not needed once the pairs exist)."""
    arrays = cuda_backend.array_module()
    parts = [a if arrays.is_device_array(a) else arrays.upload(np.ascontiguousarray(a), device)
             for a in (matrix.rows, matrix.cols, matrix.values)]
    return cuda_backend.make_glove_pairs(*parts, len(matrix.vocab), x_max, alpha, device=device)


def write_vectors(out, weights, n: int, dim: int, kind: str) -> None:
    """``out`` ([n, dim], device) = main, context or their sum (glove.c -model 2)."""
    if kind == "main":
        out[...] = weights[:n, :dim]
    elif kind == "context":
        out[...] = weights[n:, :dim]
    else:
        out[...] = weights[:n, :dim] + weights[n:, :dim]


def epoch_call(pairs, weights, gradsq, *, learning_rate: float, grad_clip: float, seed: int,
               order_epoch: int, progress, device: str):
    """A no-argument call training one epoch (for run_polled's helper thread),
    on the caller's current stream; returns ``_core.train_glove_epoch``'s dict."""
    def call():
        return cuda_backend.train_glove_epoch(pairs, None, weights, gradsq,
                                              learning_rate=learning_rate, grad_clip=grad_clip,
                                              seed=int(seed), epoch=int(order_epoch),
                                              progress=progress)
    return cuda_backend.on_caller_stream(call, device)


def copy_in(target, array: np.ndarray, device: str) -> None:
    """Writes a host array into a device array of the same shape (GloVe.load)."""
    target[...] = cuda_backend.array_module().upload(np.ascontiguousarray(array), device)


def host(array) -> np.ndarray:
    """A host copy of a device array (GloVe.save)."""
    from .keyedvectors import _to_host
    return _to_host(array)
