"""numpy arrays and torch tensors alike: the few operations a sync of
model replicas (replicas.py) needs on either kind, host or device."""
from __future__ import annotations

from typing import Any, List

import numpy as np

__all__ = ["nbytes", "like", "to_half", "copy_into", "concat", "empty_like"]


def nbytes(array: Any) -> int:
    """The bytes of `array`'s elements."""
    return int(array.nbytes) if isinstance(array, np.ndarray) else int(
        array.numel() * array.element_size())


def like(array: Any, values: List[float]) -> Any:
    """`values` as a 1-d array of `array`'s kind, dtype and device."""
    if isinstance(array, np.ndarray):
        return np.asarray(values, dtype=array.dtype)
    import torch
    return torch.tensor(values, dtype=array.dtype, device=array.device)


# The casts go through torch (there whenever there are replicas): numpy
# converts float16 one value at a time, 3-9 times slower, which on 2
# processes of one machine made a whole sync of a 58k x 100 model 2.7 times
# slower than sending float32.
def to_half(values: Any, limit: float) -> Any:
    """`values` clipped to +-`limit` (in place), as float16 (of the same
    kind: numpy array or torch tensor)."""
    import torch
    if isinstance(values, np.ndarray):
        return torch.from_numpy(values).clamp_(-limit, limit).to(torch.float16).numpy()
    return values.clamp_(-limit, limit).to(torch.float16)


def copy_into(values: Any, wire: Any) -> None:
    """`values[...] = wire`, float16 to float32."""
    import torch
    if isinstance(values, np.ndarray):
        torch.from_numpy(values).copy_(torch.from_numpy(wire))
    else:
        values.copy_(wire)


def concat(parts: List[Any]) -> Any:
    """`parts` (of one kind) joined along their first axis."""
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    import torch
    return torch.cat(parts)


def empty_like(rows: Any, count: int) -> Any:
    """An uninitialised array of `count` rows like those of `rows` (kind,
    dtype, device, row shape)."""
    if isinstance(rows, np.ndarray):
        return np.empty((count,) + rows.shape[1:], dtype=rows.dtype)
    import torch
    return torch.empty((count,) + tuple(rows.shape[1:]), dtype=rows.dtype, device=rows.device)
