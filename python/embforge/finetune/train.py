"""Fine-tuning the classifier: its task (labelled texts in padded batches,
validation accuracy) run by the shared training loop (``embforge.training``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, cast

import numpy as np

from .._typing import StrPath
from ..tokenizer import Tokenizer
from ..torch_bridge import require_torch
from ..training.loop import Task, fit
from .batches import batches, pad
from .data import encode_labels
from .model import check_device
from .scoring import evaluate

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["FinetuneResult", "finetune", "ClassificationTask"]


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


class ClassificationTask(Task):
    """Labelled texts, shuffled into padded batches of similar lengths;
    validation: accuracy (ties broken by the lower loss)."""
    monitor, maximize = "val_accuracy", True

    def __init__(self, tokenizer: Any, texts: Any, targets: Any, batch_size: Any, where: Any,
                 val_texts: Any = None, val_labels: Any = None) -> None:
        self.tokenizer, self.targets, self.batch_size, self.where = tokenizer, targets, batch_size, where
        self.encoded = [tokenizer.encode(text) for text in texts]
        self.lengths = np.array([len(ids) for ids in self.encoded])
        self.val_texts, self.val_labels = val_texts, val_labels

    def batches(self, rng: Any) -> Any:
        return batches(self.lengths, self.batch_size, rng)

    def loss(self, model: Any, rows: Any) -> Any:
        ids, mask = pad(self.encoded, rows, self.tokenizer.pad_id, self.where)
        target = self.targets[torch.from_numpy(rows).to(self.where)]
        return torch.nn.functional.cross_entropy(model(ids, mask), target), len(rows)

    def validate(self, model: Any) -> Dict[str, float]:
        if self.val_texts is None:
            return {}
        scores = evaluate(model, self.val_texts, self.val_labels, tokenizer=self.tokenizer)
        return {"val_loss": scores["loss"], "val_accuracy": scores["accuracy"]}

    def better(self, row: Any, best: Any) -> bool:
        better: bool = (row["val_accuracy"] > best["val_accuracy"]
                        or (row["val_accuracy"] == best["val_accuracy"]
                            and row["val_loss"] < best["val_loss"]))
        return better


def finetune(model: Any, train_texts: Sequence[str], train_labels: Sequence[str],
             val_texts: Optional[Sequence[str]] = None, val_labels: Optional[Sequence[str]] = None,
             *, epochs: int = 10, batch_size: int = 32, lr: float = 1e-3,
             weight_decay: float = 0.01, warmup: float = 0.1, max_grad_norm: float = 1.0,
             patience: Optional[int] = 3, freeze_embedding: Optional[bool] = None,
             train_last_layers: Optional[int] = None, tokenizer: Optional[Tokenizer] = None,
             device: Any = None, seed: Optional[int] = None, progress: bool = True,
             checkpoint_dir: Optional[StrPath] = None, resume: bool = False) -> FinetuneResult:
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
    second Ctrl-C raises KeyboardInterrupt at once. `checkpoint_dir` and
    `resume` as in :func:`embforge.training.fit`.
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
        encode_labels(cast("Sequence[str]", val_labels), model.labels,  # given with val_texts
                      "validation labels")  # fail before training
    if freeze_embedding is not None or train_last_layers is not None:
        model.set_trainable(freeze_embedding=bool(freeze_embedding), train_last_layers=train_last_layers)
    task = ClassificationTask(tokenizer, train_texts, targets, batch_size, where, val_texts, val_labels)
    done = fit(model, task, epochs=epochs, lr=lr, weight_decay=weight_decay, warmup=warmup,
               max_grad_norm=max_grad_norm, patience=patience, seed=seed, progress=progress,
               desc="finetune", checkpoint_dir=checkpoint_dir, resume=resume,
               settings={"task": "classifier", "batch_size": batch_size, "texts": len(train_texts)})
    best = done.best.get("val_accuracy") if done.best and val_texts is not None else None
    return FinetuneResult(history=done.history, best_epoch=done.best_epoch, best_val_accuracy=best,
                          stopped_early=done.stopped_early, interrupted=done.interrupted,
                          trainable_parameters=done.trainable_parameters, seconds=done.seconds)


def _check_sizes(model: Any, tokenizer: Any) -> None:
    rows = model.embedding.num_embeddings
    if tokenizer.vocab_size > rows:
        raise ValueError(f"vocabulary/embedding size mismatch: the tokenizer has ids up to "
                         f"{tokenizer.vocab_size - 1} but the model's embedding has {rows} rows")
