"""train_lm: fine-tuning a language model (ours or a Hugging Face causal LM)
with the shared training loop, held-out perplexity after every epoch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from .._typing import StrPath
from ..torch_bridge import require_torch
from ..training.loop import FitResult, fit
from .data import TokenStream
from .task import LMTask, lm_bos_id, lm_context

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["train_lm", "LMResult", "set_trainable"]


@dataclass
class LMResult(FitResult):
    """:class:`embforge.training.FitResult` plus the best held-out perplexity."""
    best_val_perplexity: Optional[float] = None


def set_trainable(model: Any, freeze_embedding: bool, train_last_layers: Optional[int]) -> None:
    """DecoderLM.set_trainable, or its equivalent for a GPT-2 model (blocks
    ``transformer.h``, final norm ``transformer.ln_f``; the LM head is tied
    to the input embedding and frozen with it)."""
    if hasattr(model, "set_trainable"):
        model.set_trainable(freeze_embedding=freeze_embedding, train_last_layers=train_last_layers)
        return
    body = getattr(model, "transformer", None)
    if body is None or not hasattr(body, "h"):
        raise ValueError(f"freeze_embedding/train_last_layers: {type(model).__name__} is neither "
                         "a DecoderLM nor GPT-2 shaped (transformer.h)")
    layers = len(body.h)
    if train_last_layers is not None and not 0 <= train_last_layers <= layers:
        raise ValueError(f"train_last_layers must be in 0..{layers}, got {train_last_layers}")
    for parameter in model.parameters():
        parameter.requires_grad_(train_last_layers is None)
    if train_last_layers is None:
        model.get_input_embeddings().weight.requires_grad_(not freeze_embedding)
    else:
        for block in list(body.h)[layers - train_last_layers:]:
            block.requires_grad_(True)
        body.ln_f.requires_grad_(True)


def train_lm(model: Any, train: TokenStream, valid: Optional[TokenStream] = None, *,
             epochs: int = 3, batch_size: int = 16, lr: float = 1e-3, weight_decay: float = 0.01,
             warmup: float = 0.1, max_grad_norm: float = 1.0, patience: Optional[int] = 2,
             freeze_embedding: Optional[bool] = None, train_last_layers: Optional[int] = None,
             windows_per_epoch: Optional[int] = None, context: Optional[int] = None,
             checkpoint_dir: Optional[StrPath] = None, resume: bool = False,
             seed: Optional[int] = None, progress: bool = True) -> LMResult:
    """Fine-tunes `model` on `train` (an :func:`encode_texts` stream) in
    windows of the model's context, scoring `valid` after every epoch.

    The shared loop (:func:`embforge.training.fit`): AdamW, warm-up + linear
    decay, clipping, early stopping on the held-out loss after `patience`
    epochs without a better one (the best epoch's weights restored), Ctrl-C
    stops after the batch in progress (``result.interrupted``),
    `checkpoint_dir`/`resume` for the per-epoch training state. What is
    trained: ``freeze_embedding`` (with tied weights the output layer is the
    embedding: frozen too), ``train_last_layers=k``, or (both None) what
    already requires a gradient. ``windows_per_epoch`` makes an epoch that
    many random windows (a token budget) instead of one pass.
    """
    context = context or lm_context(model)
    bos = lm_bos_id(model)
    rows = model.get_input_embeddings().num_embeddings
    for name, stream in (("train", train), ("valid", valid)):
        if stream is not None and len(stream.ids) and int(stream.ids.max()) >= rows:
            raise ValueError(f"{name} stream has id {int(stream.ids.max())} but the model has {rows} "
                             "token rows: encode the texts with the model's own tokenizer")
    if freeze_embedding is not None or train_last_layers is not None:
        set_trainable(model, bool(freeze_embedding), train_last_layers)
    device = model.get_input_embeddings().weight.device
    task = LMTask(train, context=context, batch_size=batch_size, bos_id=bos, device=device,
                  valid=valid, windows_per_epoch=windows_per_epoch)
    settings = {"task": "language model", "batch_size": batch_size, "context": context,
                "train_tokens": int(len(train.ids)), "windows_per_epoch": windows_per_epoch}
    done = fit(model, task, epochs=epochs, lr=lr, weight_decay=weight_decay, warmup=warmup,
               max_grad_norm=max_grad_norm, patience=patience, seed=seed, progress=progress,
               desc="lm", checkpoint_dir=checkpoint_dir, resume=resume, settings=settings)
    result = LMResult(**vars(done))
    if done.best and "val_perplexity" in done.best:
        result.best_val_perplexity = done.best["val_perplexity"]
    return result
