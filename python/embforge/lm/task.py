"""Next-token prediction as a task of the shared training loop, and
perplexity on held-out text. Works for :class:`DecoderLM` and for Hugging
Face causal LMs (whose output carries ``.logits``)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, Optional

import numpy as np

from ..torch_bridge import require_torch
from ..training.loop import Task
from .data import IGNORE, TokenStream

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["LMTask", "perplexity", "window_batch", "lm_context", "lm_bos_id"]


def lm_context(model: Any) -> int:
    """How many tokens `model` attends over (ours: ``context``; GPT-2: ``n_positions``)."""
    context = getattr(model, "context", None) or getattr(getattr(model, "config", None), "n_positions", None)
    if not context:
        raise ValueError(f"cannot tell the context length of {type(model).__name__}: pass context=")
    return int(context)


def lm_bos_id(model: Any) -> int:
    bos = getattr(model, "bos_id", None)
    if bos is None:
        bos = getattr(getattr(model, "config", None), "bos_token_id", None)
    if bos is None:
        raise ValueError(f"{type(model).__name__} names no <bos> id (config.bos_token_id)")
    return int(bos)


def _logits(model: Any, ids: Any) -> Any:
    out = model(ids)
    return out.logits if hasattr(out, "logits") else out


def window_batch(stream: TokenStream, starts: Any, context: int, bos_id: int, device: Any) -> Any:
    """Inputs and targets [len(starts), width] for windows at `starts`;
    short windows padded with ignored targets (and the <bos> id as input)."""
    width = max(min(context, len(stream.ids) - 1 - int(s)) for s in starts)
    inputs = np.full((len(starts), width), bos_id, dtype=np.int64)
    targets = np.full((len(starts), width), IGNORE, dtype=np.int64)
    for row, start in enumerate(starts):
        chunk = stream.ids[start:start + width + 1]
        inputs[row, :len(chunk) - 1] = chunk[:-1]
        targets[row, :len(chunk) - 1] = chunk[1:]
    # nothing predicts a text's <bos>: the target after an <eos> is ignored
    targets[targets == bos_id] = IGNORE
    return torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)


def _loss_sum(model: Any, inputs: Any, targets: Any) -> Any:
    logits = _logits(model, inputs)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                             targets.reshape(-1), ignore_index=IGNORE,
                                             reduction="sum")


class LMTask(Task):
    """Windows of `context` tokens of a training stream in shuffled batches;
    validation: held-out loss and perplexity (lower is better).

    ``windows_per_epoch`` (default: all) draws that many windows at random
    per epoch: epochs then measure the token budget, e.g. for a learning curve.
    """
    monitor: Optional[str] = "val_loss"
    maximize = False

    def __init__(self, stream: TokenStream, *, context: int, batch_size: int, bos_id: int,
                 device: Any, valid: Optional[TokenStream] = None,
                 windows_per_epoch: Optional[int] = None, eval_batch_size: int = 32) -> None:
        if batch_size < 1 or context < 2:
            raise ValueError(f"batch_size must be >= 1 and context >= 2, got {batch_size} and {context}")
        self.stream, self.context, self.batch_size = stream, context, batch_size
        self.bos_id, self.device, self.valid, self.eval_batch_size = bos_id, device, valid, eval_batch_size
        self.starts = stream.windows(context)
        if windows_per_epoch is not None and windows_per_epoch < 1:
            raise ValueError(f"windows_per_epoch must be >= 1, got {windows_per_epoch}")
        self.windows_per_epoch = windows_per_epoch
        if valid is None:
            self.monitor = None

    def batches(self, rng: Any) -> Any:
        if self.windows_per_epoch is None:
            order = rng.permutation(self.starts)
        else:
            order = rng.choice(self.starts, size=self.windows_per_epoch,
                               replace=self.windows_per_epoch > len(self.starts))
        return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def loss(self, model: Any, starts: Any) -> Any:
        inputs, targets = window_batch(self.stream, starts, self.context, self.bos_id, self.device)
        count = int((targets != IGNORE).sum())
        return _loss_sum(model, inputs, targets) / max(1, count), count

    def epoch_row(self, loss_sum: Any, items: Any) -> Dict[str, float]:
        return {"train_loss": loss_sum / max(1, items), "tokens": items}

    def validate(self, model: Any) -> Dict[str, float]:
        if self.valid is None:
            return {}
        scores = perplexity(model, self.valid, context=self.context, bos_id=self.bos_id,
                            batch_size=self.eval_batch_size)
        return {"val_loss": scores["loss"], "val_perplexity": scores["perplexity"]}


def perplexity(model: Any, stream: TokenStream, *, context: Optional[int] = None,
               bos_id: Optional[int] = None, batch_size: int = 32) -> Dict[str, float]:
    """``{"perplexity", "loss", "tokens", "unknown_rate"}`` of `model` on
    `stream`, read in non-overlapping windows of `context` tokens (default:
    the model's; each window starts without the text before it). Every word
    and <eos> is predicted, <unk> included: report ``unknown_rate`` next to it."""
    context = context or lm_context(model)
    bos_id = lm_bos_id(model) if bos_id is None else bos_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        starts = stream.windows(context)
        for i in range(0, len(starts), batch_size):
            inputs, targets = window_batch(stream, starts[i:i + batch_size], context, bos_id, device)
            total += float(_loss_sum(model, inputs, targets))
            count += int((targets != IGNORE).sum())
    model.train(was_training)
    loss = total / max(1, count)
    return {"perplexity": math.exp(min(loss, 700.0)), "loss": loss, "tokens": count,
            "unknown_rate": stream.unknown_rate}
