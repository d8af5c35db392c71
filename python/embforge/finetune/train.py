"""The fine-tuning loop: AdamW with warm-up and decay, early stopping on a
validation set, the best epoch's weights restored."""
from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..tokenizer import Tokenizer
from ..torch_bridge import require_torch, vectors_changed
from .batches import batches, pad
from .data import encode_labels
from .model import check_device
from .scoring import evaluate

torch = require_torch()
logger = logging.getLogger(__name__)

__all__ = ["FinetuneResult", "finetune"]


@dataclass
class FinetuneResult:
    """What :func:`finetune` did: one history row per epoch run."""
    history: List[Dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: Optional[float] = None
    stopped_early: bool = False
    interrupted: bool = False   # Ctrl-C: stopped after a whole batch, the best weights kept
    trainable_parameters: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def _ctrl_c_stops(flag: threading.Event):
    """While fine-tuning runs in the main thread with Python's own Ctrl-C
    handler, the first Ctrl-C sets `flag` (the loop stops after the batch in
    progress: no optimizer step is cut in half) and a second one raises
    KeyboardInterrupt at once. A handler the caller installed is left alone."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return

    def first(signum, frame):
        flag.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _optimizer(model, lr: float, weight_decay: float):
    """AdamW; no decay on the embedding (it would shrink the pre-trained
    vectors towards zero), biases and norms."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or name.startswith("embedding.") else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    try:  # the fused kernel is several times faster on CPU for the big embedding
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr)


def _schedule(optimizer, total_steps: int, warmup: float):
    """Linear warm-up over the first `warmup` share of steps, then linear decay to 0."""
    warm = max(1, int(round(warmup * total_steps)))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def finetune(model, train_texts: Sequence[str], train_labels: Sequence[str],
             val_texts: Optional[Sequence[str]] = None, val_labels: Optional[Sequence[str]] = None, *,
             epochs: int = 10, batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 0.01,
             warmup: float = 0.1, max_grad_norm: float = 1.0, patience: Optional[int] = 3,
             freeze_embedding: Optional[bool] = None, train_last_layers: Optional[int] = None,
             tokenizer: Optional[Tokenizer] = None, device=None, seed: Optional[int] = None,
             progress: bool = True) -> FinetuneResult:
    """Fine-tunes `model` (a :class:`TextClassifier`) on labelled texts.

    AdamW with linear warm-up and decay, gradient clipping at
    `max_grad_norm`. With a validation set, it is scored after every epoch,
    training stops after `patience` epochs without a better accuracy, and the
    best epoch's weights are restored. What is trained: ``freeze_embedding``
    and ``train_last_layers`` as in :meth:`TextClassifier.set_trainable`;
    both None (default) leave the model's ``requires_grad`` as they are
    (everything, unless the embedding was built frozen). Labels are the model's ``labels``;
    others are an error. `device` (default: the model's) must be where the
    model is. A tqdm bar shows progress unless ``progress=False``.

    Ctrl-C (in the main thread, under Python's own SIGINT handler) stops
    after the batch in progress and returns as training does (the best
    validated epoch's weights restored, ``result.interrupted`` True); a
    second Ctrl-C raises KeyboardInterrupt at once.
    """
    tokenizer = tokenizer or getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("no tokenizer: pass tokenizer= or build the model with TextClassifier.from_vectors")
    _check_sizes(model, tokenizer)
    where = check_device(model, device)
    if len(train_texts) != len(train_labels) or not len(train_texts):
        raise ValueError(f"need as many train labels as texts (>0), got {len(train_texts)} texts "
                         f"and {len(train_labels)} labels")
    if (val_texts is None) != (val_labels is None):
        raise ValueError("pass both val_texts and val_labels, or neither")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    targets = torch.from_numpy(encode_labels(train_labels, model.labels, "train labels")).to(where)
    if val_texts is not None:
        encode_labels(val_labels, model.labels, "validation labels")  # fail before training
    if seed is not None:
        torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    if freeze_embedding is not None or train_last_layers is not None:
        model.set_trainable(freeze_embedding=bool(freeze_embedding), train_last_layers=train_last_layers)
    result = FinetuneResult(trainable_parameters=sum(
        p.numel() for p in model.parameters() if p.requires_grad))
    if not result.trainable_parameters:
        raise ValueError("nothing to train: every parameter of the model is frozen")
    encoded = [tokenizer.encode(text) for text in train_texts]
    lengths = np.array([len(ids) for ids in encoded])
    steps_per_epoch = math.ceil(len(encoded) / batch_size)
    optimizer = _optimizer(model, lr, weight_decay)
    scheduler = _schedule(optimizer, epochs * steps_per_epoch, warmup)
    best_state, waited, started = None, 0, time.perf_counter()

    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, desc="finetune", unit="batch")
    stop = threading.Event()
    with _ctrl_c_stops(stop), bar:
        logger.info("fine-tuning %d trainable parameters: %d epochs of %d batches",
                    result.trainable_parameters, epochs, steps_per_epoch)
        for epoch in range(1, epochs + 1):
            model.train()
            total = torch.zeros((), device=where)  # summed on the device: no sync per step
            for rows in batches(lengths, batch_size, rng):
                if stop.is_set():
                    break
                ids, mask = pad(encoded, rows, tokenizer.pad_id, where)
                loss = torch.nn.functional.cross_entropy(model(ids, mask), targets[torch.from_numpy(rows).to(where)])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], max_grad_norm)
                optimizer.step()
                scheduler.step()
                total += loss.detach() * len(rows)
                bar.update(1)
            if stop.is_set():
                break                       # the epoch is not whole: no history row for it
            row = {"epoch": epoch, "train_loss": float(total) / len(encoded),
                   "lr": scheduler.get_last_lr()[0]}
            if val_texts is not None:
                scores = evaluate(model, val_texts, val_labels, tokenizer=tokenizer)
                row.update(val_loss=scores["loss"], val_accuracy=scores["accuracy"])
                better = (result.best_val_accuracy is None or scores["accuracy"] > result.best_val_accuracy
                          or (scores["accuracy"] == result.best_val_accuracy
                              and scores["loss"] < result.history[result.best_epoch - 1]["val_loss"]))
                if better:
                    result.best_epoch, result.best_val_accuracy, waited = epoch, scores["accuracy"], 0
                    best_state = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
                else:
                    waited += 1
            else:
                result.best_epoch = epoch
            row["seconds"] = time.perf_counter() - started
            result.history.append(row)
            bar.set_postfix({k: round(v, 4) for k, v in row.items() if k in ("train_loss", "val_accuracy")})
            if patience is not None and val_texts is not None and waited >= patience:
                result.stopped_early = epoch < epochs
                break
    result.interrupted = stop.is_set()
    if best_state is not None:
        with torch.no_grad():  # copy_ keeps any memory shared with the vectors
            for name, parameter in model.named_parameters():
                if name in best_state:
                    parameter.copy_(best_state[name])
    if model.embedding.weight.requires_grad:
        vectors_changed(model.embedding)  # shared vectors: their cached norms are stale now
    model.eval()
    result.seconds = time.perf_counter() - started
    return result


def _check_sizes(model, tokenizer) -> None:
    rows = model.embedding.num_embeddings
    if tokenizer.vocab_size > rows:
        raise ValueError(f"vocabulary/embedding size mismatch: the tokenizer has ids up to "
                         f"{tokenizer.vocab_size - 1} but the model's embedding has {rows} rows")
