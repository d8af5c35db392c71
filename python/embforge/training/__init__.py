"""The one training loop of the PyTorch models built on our vectors (the text
classifier of ``embforge.finetune``, the language models of ``embforge.lm``).

``fit(model, task, ...)`` runs AdamW with linear warm-up and decay, gradient
clipping, a validation score after every epoch, early stopping with the best
epoch's weights restored, a tqdm bar, Ctrl-C (stop after the batch in
progress), and per-epoch checkpoints written without pickle (safetensors)
that ``resume=`` continues from. A *task* says what a batch is and how a
model is scored (see ``loop.Task``).

Modules: ``loop`` (fit, FitResult, Task), ``optim`` (optimizer, schedule),
``interrupt`` (Ctrl-C; the Word2Vec and GloVe loops use it too), ``tensor_files`` (safetensors files with a JSON
header), ``checkpoints`` (the per-epoch training state). Every module but
``interrupt`` imports torch; this package imports them on first use of one
of their names, so ``import embforge.training`` works without torch.
"""
from __future__ import annotations

from typing import Any, List

__all__ = ["fit", "FitResult", "Task", "read_tensors", "write_tensors"]


def __getattr__(name: str) -> Any:
    if name in ("fit", "FitResult", "Task"):
        from . import loop
        value = getattr(loop, name)
    elif name in ("read_tensors", "write_tensors"):
        from . import tensor_files
        value = getattr(tensor_files, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
