"""A classifier in one torch file: a plain dict of its architecture, labels,
vocabulary and ``state_dict`` (read back with ``weights_only=True``: no
pickled classes, so the file does not depend on where TextClassifier lives)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._typing import StrPath
from ..tokenizer import Tokenizer
from ..torch_bridge import require_torch
from .model import TextClassifier

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["save_classifier", "load_classifier"]

FORMAT = "embforge-text-classifier-1"


def save_classifier(model: Any, path: StrPath) -> None:
    """Saves weights, architecture, labels and vocabulary in one torch file."""
    tok = model.tokenizer
    torch.save({"format": FORMAT, "config": model.config, "labels": model.labels,
                "vocab": tok.key_to_index, "pad_token": tok.pad_token, "unk_token": tok.unk_token,
                "lowercase": tok.lowercase, "padding_idx": model.padding_idx,
                "state_dict": model.state_dict()}, os.fspath(path))


def load_classifier(path: StrPath, device: str = "cpu") -> Any:
    """Loads a :func:`save_classifier` file onto `device`."""
    saved = torch.load(os.fspath(path), map_location=device, weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path} is not an embforge text classifier file")
    weight = saved["state_dict"]["embedding.weight"]
    embedding = torch.nn.Embedding(weight.shape[0], weight.shape[1], padding_idx=saved["padding_idx"],
                                   device=device)
    config = dict(saved["config"])
    tokenizer = Tokenizer(saved["vocab"], pad_token=saved["pad_token"], unk_token=saved["unk_token"],
                          lowercase=saved["lowercase"], max_length=config["max_length"])
    model = TextClassifier(embedding, config.pop("num_classes"), labels=saved["labels"],
                           tokenizer=tokenizer, **config)
    model.load_state_dict(saved["state_dict"])
    return model.eval()
