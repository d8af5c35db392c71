"""The training state after a whole epoch, in one safetensors file: model,
optimizer, schedule, best weights so far, history and random state, so that
``fit(..., resume=True)`` continues as if it had never stopped."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

from .._typing import StrPath
from ..torch_bridge import require_torch
from .tensor_files import read_tensors, write_tensors

torch = require_torch()

__all__ = ["FILE", "save_state", "load_state"]

FILE = "training.safetensors"
FORMAT = "embforge-training-state-1"


def save_state(directory: StrPath, *, model: Any, optimizer: Any, scheduler: Any, best_state: Any,
               settings: Dict[str, Any], progress: Dict[str, Any]) -> str:
    """Writes the state to ``directory/FILE`` (atomically); returns the path."""
    os.makedirs(os.fspath(directory), exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim = optimizer.state_dict()
    plain_state: Dict[str, Any] = {}
    for index, values in optim["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                plain_state.setdefault(str(index), {})[key] = value
    tensors.update({f"best.{k}": v for k, v in (best_state or {}).items()})
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"format": FORMAT, "settings": settings, "progress": progress,
            "optimizer_groups": optim["param_groups"], "optimizer_plain": plain_state,
            "scheduler": {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"},
            "has_best": best_state is not None}
    path = os.path.join(os.fspath(directory), FILE)
    write_tensors(path, tensors, meta)
    return path


def load_state(directory: StrPath, *, model: Any, optimizer: Any, scheduler: Any,
               settings: Dict[str, Any], device: Any) -> Optional[Dict[str, Any]]:
    """Restores a :func:`save_state` file into model, optimizer and scheduler.

    Returns ``{"progress", "best_state"}``, or None when there is no file.
    Settings that differ from the saved ones (another learning rate, batch
    size, ...) are a ValueError naming them; so is a file for another model."""
    path = os.path.join(os.fspath(directory), FILE)
    if not os.path.exists(path):
        return None
    tensors, meta = read_tensors(path, device=None)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an embforge training state (format {meta.get('format')!r})")
    saved = meta.get("settings", {})
    differ = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if differ:
        raise ValueError(f"{path} was written with other settings: "
                         + ", ".join(f"{k}={saved.get(k)!r} (now {settings.get(k)!r})" for k in differ)
                         + "; resume with the same settings or use another checkpoint directory")
    state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = model.state_dict()
    wrong = sorted(set(state) ^ set(expected))
    wrong += sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if wrong:
        raise ValueError(f"{path} holds another model's weights (differing: {wrong[:5]})")
    model.load_state_dict(state)
    groups = meta["optimizer_groups"]
    optim_state: Dict[int, Dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim_state.setdefault(int(index), {})[name] = value
    for index, values in meta["optimizer_plain"].items():
        optim_state.setdefault(int(index), {}).update(values)
    try:
        optimizer.load_state_dict({"state": optim_state, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError) as error:
        raise ValueError(f"{path}: the optimizer state does not fit this model: {error}") from None
    scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(groups)})
    torch.set_rng_state(tensors["rng.torch"])
    best = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
    return {"progress": meta["progress"], "best_state": best if meta.get("has_best") else None}
