"""AdamW over the trainable parameters, and the warm-up + linear decay schedule."""
from __future__ import annotations

from typing import Any, List, Set

from ..torch_bridge import require_torch

torch = require_torch()

__all__ = ["optimizer", "schedule", "input_embedding_weights"]


def input_embedding_weights(model: Any) -> Set[Any]:
    """ids of the token-embedding weights (and what is tied to them)."""
    found = set()
    getter = getattr(model, "get_input_embeddings", None)
    embedding = getter() if callable(getter) else getattr(model, "embedding", None)
    if embedding is not None and hasattr(embedding, "weight"):
        found.add(id(embedding.weight))
    return found


def optimizer(model: Any, lr: float, weight_decay: float) -> Any:
    """AdamW; no decay on the token embedding (it would shrink the
    pre-trained vectors towards zero; a tied output layer is the same
    tensor), biases and norms."""
    embedding = input_embedding_weights(model)
    decay: List[Any] = []
    no_decay: List[Any] = []
    for parameter in model.parameters():   # each tensor once, even when tied
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or id(parameter) in embedding else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    try:  # the fused kernel is several times faster on CPU for the big embedding
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr)


def schedule(optimizer: Any, total_steps: int, warmup: float) -> Any:
    """Linear warm-up over the first `warmup` share of steps, then linear decay to 0."""
    warm = max(1, int(round(warmup * total_steps)))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
