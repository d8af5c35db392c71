"""Tokenised texts to padded batches of ids and masks on the model's device."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

import numpy as np

from ..torch_bridge import require_torch

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["batches", "pad"]


def batches(lengths: np.ndarray, batch_size: int, rng: Optional[np.random.Generator]
            ) -> List[np.ndarray]:
    """Index batches; with `rng`, shuffled, grouping similar lengths so little
    padding is computed (sorted within windows of 16 batches)."""
    order = rng.permutation(len(lengths)) if rng is not None else np.argsort(lengths, kind="stable")
    if rng is not None:
        window = batch_size * 16
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                                for chunk in np.split(order, range(window, len(order), window))])
    out = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        out = [out[i] for i in rng.permutation(len(out))]
    return out


def pad(encoded: List[List[int]], rows: np.ndarray, pad_id: int, device: Any) -> Any:
    """Ids [len(rows), longest] padded with `pad_id`, and the mask of real tokens."""
    width = max(1, max(len(encoded[r]) for r in rows))
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        ids[i, :len(encoded[r])] = encoded[r]
        mask[i, :len(encoded[r])] = True
    # Only the token ids (made from host text) move to the model's device.
    return torch.from_numpy(ids).to(device, non_blocking=True), torch.from_numpy(mask).to(device, non_blocking=True)
