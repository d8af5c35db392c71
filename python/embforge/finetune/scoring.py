"""Scoring and using a trained classifier: accuracy and loss, predicted labels."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import numpy as np

from ..tokenizer import Tokenizer
from ..torch_bridge import require_torch
from .batches import batches, pad
from .data import encode_labels
from .model import model_device

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["evaluate", "predict", "logits"]


def logits(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int) -> Any:
    """Class logits [len(texts), num_classes] on the model's device, in eval mode."""
    where = model_device(model)
    encoded = [tokenizer.encode(text) for text in texts]
    out = torch.empty((len(encoded), model.config["num_classes"]), device=where)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for rows in batches(np.array([len(e) for e in encoded]), batch_size, None):
            ids, mask = pad(encoded, rows, tokenizer.pad_id, where)
            out[torch.from_numpy(rows).to(where)] = model(ids, mask).float()
    model.train(was_training)
    return out


def evaluate(model: Any, texts: Sequence[str], labels: Sequence[str], *,
             tokenizer: Optional[Tokenizer] = None, batch_size: int = 256) -> Dict[str, float]:
    """``{"accuracy", "loss", "n"}`` of `model` on labelled texts. Labels the
    model has no class for are an error."""
    tokenizer = tokenizer or model.tokenizer
    if len(texts) != len(labels) or not len(texts):
        raise ValueError(f"need as many labels as texts (>0), got {len(texts)} and {len(labels)}")
    targets = torch.from_numpy(encode_labels(labels, model.labels)).to(model_device(model))
    scores = logits(model, tokenizer, texts, batch_size)
    loss = torch.nn.functional.cross_entropy(scores, targets)
    accuracy = (scores.argmax(dim=1) == targets).float().mean()
    return {"accuracy": float(accuracy), "loss": float(loss), "n": len(texts)}


def predict(model: Any, texts: Sequence[str], *, tokenizer: Optional[Tokenizer] = None,
            batch_size: int = 256) -> List[str]:
    """The predicted label of each text."""
    scores = logits(model, tokenizer or model.tokenizer, texts, batch_size)
    return [model.labels[i] for i in scores.argmax(dim=1).tolist()]
