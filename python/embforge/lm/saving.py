"""A language model in one safetensors file: weights, architecture and
vocabulary (in the JSON header). Loading never unpickles; a truncated,
corrupt, foreign or inconsistent file is a ValueError naming it."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict

from .._typing import StrPath
from ..tokenizer import Tokenizer
from ..torch_bridge import LM_SPECIALS, require_torch
from ..training.tensor_files import read_tensors, write_tensors
from .model import DecoderLM

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["save_lm", "load_lm", "MODEL_FILE"]

FORMAT = "embforge-decoder-lm-1"
MODEL_FILE = "model.safetensors"
_CONFIG_TYPES = {"width": int, "num_layers": int, "num_heads": int, "ff_dim": int, "dropout": float,
                 "context": int, "positions": str, "tie": bool}


def _file(path: StrPath) -> str:
    path = os.fspath(path)
    return os.path.join(path, MODEL_FILE) if os.path.isdir(path) or not path.endswith(".safetensors") \
        else path


def save_lm(model: Any, path: StrPath) -> str:
    """Writes `model` to ``path/model.safetensors`` (a directory, made if
    needed) or to `path` itself when it ends in ``.safetensors``; returns
    the file written."""
    file = _file(path)
    os.makedirs(os.path.dirname(file) or ".", exist_ok=True)
    tok = model.tokenizer
    vocab = sorted(tok.key_to_index, key=tok.key_to_index.get)
    meta = {"format": FORMAT, "config": model.config, "vocab": vocab,
            "specials": list(LM_SPECIALS), "lowercase": tok.lowercase,
            "rows": model.embedding.num_embeddings, "dim": model.embedding.embedding_dim}
    write_tensors(file, model.state_dict(), meta)
    return file


def load_lm(path: StrPath, device: str = "cpu") -> DecoderLM:
    """Loads a :func:`save_lm` file (or the directory holding it) onto `device`."""
    file = _file(path)
    tensors, meta = read_tensors(file, device=None)
    try:
        model = _build(meta, device)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{file}: not a usable embforge language model: {error}") from None
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    shapes = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or extra or shapes:
        raise ValueError(f"{file}: the weights do not match the architecture in its header "
                         f"(missing {missing[:5]}, unexpected {extra[:5]}, wrong shape {shapes[:5]})")
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(f"{file}: weights hold NaN or infinity: {bad[:5]}")
    model.load_state_dict({k: v.to(device) for k, v in tensors.items()})
    return model.eval()


def _build(meta: Dict[str, Any], device: Any) -> DecoderLM:
    if meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
    config = dict(meta["config"])
    for key, kind in _CONFIG_TYPES.items():
        value = config[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = config[key] = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"config {key}={value!r} is not a {kind.__name__}")
    if set(config) != set(_CONFIG_TYPES):
        raise ValueError(f"config keys {sorted(config)}, expected {sorted(_CONFIG_TYPES)}")
    if not 0 <= config["dropout"] < 1 or not 2 <= config["context"] <= 1 << 20 \
            or not 1 <= config["width"] <= 1 << 16 or not 1 <= config["ff_dim"] <= 1 << 18:
        raise ValueError(f"config out of range: {config}")
    vocab, specials, rows, dim = meta["vocab"], meta["specials"], meta["rows"], meta["dim"]
    if (not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab)
            or len(set(vocab)) != len(vocab) or len(vocab) != rows):
        raise ValueError(f"the vocabulary must be {rows} distinct strings")
    if list(specials) != list(LM_SPECIALS) or vocab[rows - len(specials):] != list(specials):
        raise ValueError(f"the vocabulary must end with the specials {list(LM_SPECIALS)}")
    if not isinstance(dim, int) or not 1 <= dim <= 1 << 16:
        raise ValueError(f"embedding width {dim!r}")
    mapping = {word: i for i, word in enumerate(vocab)}
    tokenizer = Tokenizer(mapping, pad_token=specials[0], unk_token=specials[1],
                          lowercase=bool(meta["lowercase"]))
    embedding = torch.nn.Embedding(rows, dim, padding_idx=mapping[specials[0]], device=device)
    return DecoderLM(embedding, tokenizer=tokenizer, bos_id=mapping[specials[2]],
                     eos_id=mapping[specials[3]], **config)
