"""fit(): the loop every fine-tuning in embforge runs (see the package doc)."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np
from tqdm.auto import tqdm

from .._typing import StrPath
from ..torch_bridge import require_torch, vectors_changed
from .checkpoints import load_state, save_state
from .interrupt import ctrl_c_stops
from .optim import optimizer as make_optimizer
from .optim import schedule

torch = require_torch()
logger = logging.getLogger(__name__)

__all__ = ["fit", "FitResult", "Task"]


class Task:
    """What :func:`fit` trains on; subclasses fill in the methods.

    ``monitor`` names the history entry validation is judged by
    (``maximize`` says which way is better), None without validation data.
    """
    monitor: Optional[str] = None
    maximize: bool = False
    unit: str = "batch"

    def batches(self, rng: np.random.Generator) -> Sequence[Any]:
        """One epoch's batches (anything :meth:`loss` takes), drawn with `rng`."""
        raise NotImplementedError

    def loss(self, model: Any, batch: Any) -> Tuple[Any, int]:
        """``(mean loss tensor, number of items it averages)`` for one batch."""
        raise NotImplementedError

    def validate(self, model: Any) -> Dict[str, float]:
        """Validation scores (history entries) after an epoch; {} for none."""
        return {}

    def epoch_row(self, loss_sum: float, items: int) -> Dict[str, float]:
        """The training entries of an epoch's history row."""
        return {"train_loss": loss_sum / max(1, items)}

    def better(self, row: Dict[str, float], best: Dict[str, float]) -> bool:
        monitor = cast("str", self.monitor)  # fit() calls better() only with a monitor
        new, old = row[monitor], best[monitor]
        return new > old if self.maximize else new < old


@dataclass
class FitResult:
    """What :func:`fit` did: one history row per whole epoch run."""
    history: List[Dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best: Optional[Dict[str, float]] = None   # the best epoch's history row
    stopped_early: bool = False
    interrupted: bool = False   # Ctrl-C: stopped after a whole batch, the best weights kept
    trainable_parameters: int = 0
    seconds: float = 0.0
    resumed_from: int = 0       # the epoch a checkpoint had reached (0: a fresh start)


def fit(model: Any, task: Task, *, epochs: int = 10, lr: float = 1e-3, weight_decay: float = 0.01,
        warmup: float = 0.1, max_grad_norm: float = 1.0, patience: Optional[int] = 3,
        seed: Optional[int] = None, progress: bool = True, desc: str = "finetune",
        checkpoint_dir: Optional[StrPath] = None, resume: bool = False,
        settings: Optional[Dict[str, Any]] = None) -> FitResult:
    """Trains the parameters of `model` that require a gradient on `task`.

    AdamW (no decay on the token embedding, biases and norms), linear
    warm-up over the first `warmup` share of the steps then linear decay to
    0, gradients clipped to `max_grad_norm`. After every epoch the task
    validates; training stops after `patience` epochs without a better score
    and the best epoch's weights are restored. Each epoch draws its batch
    order from ``(seed, epoch)``, so a resumed run repeats the uninterrupted
    one. With `checkpoint_dir` the whole training state is written there
    after every epoch; ``resume=True`` continues from it (same `settings`
    required: the caller's description of data and options).

    Ctrl-C (in the main thread, under Python's own SIGINT handler) stops
    after the batch in progress and returns as training does
    (``result.interrupted``); a second Ctrl-C raises KeyboardInterrupt.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a share of the steps in [0, 1), got {warmup}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir (where the training state was written)")
    trainable = [p for p in model.parameters() if p.requires_grad]
    result = FitResult(trainable_parameters=sum(p.numel() for p in trainable))
    if not result.trainable_parameters:
        raise ValueError("nothing to train: every parameter of the model is frozen")
    if seed is not None:
        torch.manual_seed(seed)
    where = next(iter(trainable)).device
    steps_per_epoch = len(task.batches(_epoch_rng(seed, 1)))
    if steps_per_epoch < 1:
        raise ValueError("the training data give no batch")
    optimizer = make_optimizer(model, lr, weight_decay)
    scheduler = schedule(optimizer, epochs * steps_per_epoch, warmup)
    settings = dict(settings or {}, epochs=epochs, lr=lr, weight_decay=weight_decay, warmup=warmup,
                    max_grad_norm=max_grad_norm, seed=seed, steps_per_epoch=steps_per_epoch)
    best_state, waited, first = None, 0, 1
    if resume:
        restored = load_state(cast("StrPath", checkpoint_dir), model=model,  # checked above
                              optimizer=optimizer, scheduler=scheduler,
                              settings=settings, device=where)
        if restored is not None:
            state, best_state = restored["progress"], restored["best_state"]
            result.history, result.best_epoch = state["history"], state["best_epoch"]
            result.best, waited = state["best"], state["waited"]
            first = result.resumed_from = len(result.history) + 1
            if state["finished"]:
                first = epochs + 1
    started = time.perf_counter()
    bar = tqdm(total=epochs * steps_per_epoch, initial=(first - 1) * steps_per_epoch,
               disable=not progress, desc=desc, unit=task.unit)
    stop = threading.Event()
    with ctrl_c_stops(stop.set), bar:
        logger.info("fine-tuning %d trainable parameters: %d epochs of %d batches",
                    result.trainable_parameters, epochs, steps_per_epoch)
        for epoch in range(first, epochs + 1):
            model.train()
            total = torch.zeros((), device=where)  # summed on the device: no sync per step
            items = 0
            for batch in task.batches(_epoch_rng(seed, epoch)):
                if stop.is_set():
                    break
                loss, count = task.loss(model, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
                optimizer.step()
                scheduler.step()
                total += loss.detach() * count
                items += count
                bar.update(1)
            if stop.is_set():
                break                       # the epoch is not whole: no history row for it
            row = {"epoch": epoch, **task.epoch_row(float(total), items), "lr": scheduler.get_last_lr()[0]}
            row.update(task.validate(model))
            if task.monitor is not None and task.monitor in row:
                if result.best is None or task.better(row, result.best):
                    result.best_epoch, result.best, waited = epoch, dict(row), 0
                    best_state = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
                else:
                    waited += 1
            else:
                result.best_epoch, result.best = epoch, dict(row)
            row["seconds"] = time.perf_counter() - started
            result.history.append(row)
            bar.set_postfix({k: round(v, 4) for k, v in row.items()
                             if k in ("train_loss", task.monitor) and v is not None})
            stopping = (patience is not None and task.monitor is not None and task.monitor in row
                        and waited >= patience)
            if checkpoint_dir is not None:
                save_state(checkpoint_dir, model=model, optimizer=optimizer, scheduler=scheduler,
                           best_state=best_state, settings=settings,
                           progress={"history": result.history, "best_epoch": result.best_epoch,
                                     "best": result.best, "waited": waited,
                                     "finished": stopping or epoch == epochs})
            if stopping:
                result.stopped_early = epoch < epochs
                break
    result.interrupted = stop.is_set()
    if best_state is not None:
        with torch.no_grad():  # copy_ keeps any memory shared with the vectors
            for name, parameter in model.named_parameters():
                if name in best_state:
                    parameter.copy_(best_state[name])
    _tell_shared_vectors(model)
    model.eval()
    result.seconds = time.perf_counter() - started
    return result


def _epoch_rng(seed: Optional[int], epoch: int) -> np.random.Generator:
    return np.random.default_rng(None if seed is None else [seed, epoch])


def _tell_shared_vectors(model: Any) -> None:
    """Vectors whose memory a trained embedding shares: their cached norms are stale now."""
    getter = getattr(model, "get_input_embeddings", None)
    embedding = getter() if callable(getter) else getattr(model, "embedding", None)
    if embedding is not None and getattr(getattr(embedding, "weight", None), "requires_grad", False):
        vectors_changed(embedding)

