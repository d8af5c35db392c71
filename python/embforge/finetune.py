"""Fine-tuning a small transformer text classifier that starts from our vectors.

The path the vectors are for: pre-train word vectors on unlabelled text, then
fine-tune a classifier whose embedding starts from them on a labelled task,
adjusting everything, everything but the embedding, or only the last encoder
layers and the head.

    kv = Word2Vec(sg=1).fit("corpus.txt.gz").wv
    texts, labels = load_tsv("train.tsv")
    model = TextClassifier.from_vectors(kv, sorted(set(labels)), copy=True)
    result = finetune(model, texts, labels, val_texts, val_labels)
    evaluate(model, test_texts, test_labels)["accuracy"]

Everything runs on the device of the vectors: vectors trained with
``device="cuda"`` give a model on that GPU without a trip through the host.
torch is imported lazily; this module imports without it.
"""
from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .tokenizer import Tokenizer
from .torch_bridge import DEFAULT_SPECIALS, require_torch, tensor_device, to_embedding, vectors_changed

__all__ = ["load_tsv", "TextClassifier", "finetune", "evaluate", "predict",
           "FinetuneResult", "save_classifier", "load_classifier",
           "add_finetune_parser", "cli_finetune"]


# ---------------------------------------------------------------- TSV input

def load_tsv(path, *, label_column: str = "label", text_column: str = "text",
             skip_empty: bool = False) -> Tuple[List[str], List[str]]:
    """Reads a labelled TSV file with a header line naming its columns.

    Returns ``(texts, labels)``. Raises ValueError, naming the line, for a
    missing header or column, a row with the wrong number of fields, an empty
    label, or an empty text (``skip_empty=True`` drops such rows instead).
    Blank lines are ignored.
    """
    path = os.fspath(path)
    texts: List[str] = []
    labels: List[str] = []
    with open(path, "r", encoding="utf-8") as lines:
        header_line = lines.readline()
        header = header_line.rstrip("\r\n").split("\t")
        missing = [c for c in (label_column, text_column) if c not in header]
        if missing:
            raise ValueError(
                f"{path}:1: header must name the columns {label_column!r} and {text_column!r} "
                f"separated by a tab (e.g. 'label<TAB>text'); got {header_line.rstrip()!r}, "
                f"missing {missing}")
        label_at, text_at = header.index(label_column), header.index(text_column)
        for number, line in enumerate(lines, 2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != len(header):
                raise ValueError(
                    f"{path}:{number}: expected {len(header)} tab-separated fields "
                    f"({', '.join(header)}), got {len(fields)}: {line[:80]!r}")
            label, text = fields[label_at].strip(), fields[text_at].strip()
            if not label:
                raise ValueError(f"{path}:{number}: missing label")
            if not text:
                if skip_empty:
                    continue
                raise ValueError(f"{path}:{number}: empty text (pass skip_empty=True "
                                 "or --skip-empty to drop such rows)")
            texts.append(text)
            labels.append(label)
    if not texts:
        raise ValueError(f"{path}: no labelled rows after the header")
    return texts, labels


def encode_labels(labels: Sequence[str], names: Sequence[str], what: str = "labels") -> np.ndarray:
    """Class ids of `labels` in `names`; labels the model has no class for are an error."""
    index = {name: i for i, name in enumerate(names)}
    unseen = sorted({label for label in labels if label not in index})
    if unseen:
        count = sum(label not in index for label in labels)
        raise ValueError(
            f"{what}: {count} row(s) have label(s) the model has no class for: {unseen[:10]}"
            f"{' ...' if len(unseen) > 10 else ''}; known classes: {list(names)}")
    return np.array([index[label] for label in labels], dtype=np.int64)


# ---------------------------------------------------------------- the model

def _torch_nn():
    torch = require_torch()
    return torch, torch.nn


def _sinusoids(length: int, dim: int):
    """Fixed sinusoidal position codes [length, dim] (no parameters to learn)."""
    torch = require_torch()
    position = torch.arange(length, dtype=torch.float32)[:, None]
    half = (dim + 1) // 2
    frequency = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = position * frequency[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)[:, :dim]


def _classifier_class():
    """Defines TextClassifier on first use, so torch stays optional."""
    torch, nn = _torch_nn()

    class TextClassifier(nn.Module):
        """Embedding -> + positions -> TransformerEncoder -> masked pooling -> linear head.

        ``embedding`` is any ``nn.Embedding`` (see :meth:`from_vectors`); the
        model dimension is its width, which `num_heads` must divide. Pre-norm
        encoder layers (``norm_first``), which train stably from few examples.
        ``dropout`` applies to the embedded input and the pooled output, and
        inside the encoder unless ``encoder_dropout`` says otherwise (0 is
        markedly faster on CPU, where dropout's random draws are costly).
        """

        def __init__(self, embedding, num_classes: int, *, num_layers: int = 2,
                     num_heads: int = 4, ff_dim: Optional[int] = None, dropout: float = 0.1,
                     encoder_dropout: Optional[float] = None, max_length: int = 256, pooling: str = "mean",
                     labels: Optional[Sequence[str]] = None, tokenizer: Optional[Tokenizer] = None):
            super().__init__()
            dim = embedding.embedding_dim
            if num_classes < 2:
                raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
            if num_heads < 1 or dim % num_heads:
                divisors = [h for h in range(1, min(dim, 16) + 1) if dim % h == 0]
                raise ValueError(f"num_heads={num_heads} must divide the embedding width {dim}; "
                                 f"try one of {divisors}")
            if num_layers < 1:
                raise ValueError(f"num_layers must be >= 1, got {num_layers}")
            if pooling not in ("mean", "max"):
                raise ValueError(f"pooling must be 'mean' or 'max', got {pooling!r}")
            if labels is not None and len(labels) != num_classes:
                raise ValueError(f"{len(labels)} label names for {num_classes} classes")
            if tokenizer is not None and tokenizer.vocab_size > embedding.num_embeddings:
                raise ValueError(
                    f"vocabulary/embedding size mismatch: the tokenizer has ids up to "
                    f"{tokenizer.vocab_size - 1} but the embedding has {embedding.num_embeddings} "
                    "rows; build both from the same vectors (TextClassifier.from_vectors)")
            device = embedding.weight.device
            self.config = dict(num_classes=num_classes, num_layers=num_layers, num_heads=num_heads,
                               ff_dim=ff_dim or 2 * dim, dropout=dropout, max_length=max_length,
                               pooling=pooling,
                               encoder_dropout=dropout if encoder_dropout is None else encoder_dropout)
            self.labels = list(labels) if labels is not None else [str(i) for i in range(num_classes)]
            self.tokenizer = tokenizer
            self.padding_idx = embedding.padding_idx
            self.embedding = embedding
            # Everything else is created on the embedding's device: no weights
            # travel between host and GPU when the vectors live on a GPU.
            self.register_buffer("positions", _sinusoids(max_length, dim).to(device), persistent=False)
            self.input_norm = nn.LayerNorm(dim, device=device)
            self.dropout = nn.Dropout(dropout)
            layer = nn.TransformerEncoderLayer(dim, num_heads, self.config["ff_dim"],
                                               self.config["encoder_dropout"],
                                               batch_first=True, norm_first=True, device=device)
            self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(dim, device=device),
                                                 enable_nested_tensor=False)
            self.head = nn.Linear(dim, num_classes, device=device)

        @classmethod
        def from_vectors(cls, kv, labels: Sequence[str], *, freeze_embedding: bool = False,
                         copy: bool = False, device=None, init: str = "vectors",
                         specials: Sequence[str] = DEFAULT_SPECIALS, lowercase: bool = True,
                         seed: Optional[int] = None, **architecture):
            """A classifier whose embedding comes from `kv` (:func:`to_embedding`),
            with the matching tokenizer, on the vectors' device.

            ``copy=False`` shares the vectors' memory, so fine-tuning updates
            them; ``copy=True`` trains a private copy. A `device` other than the
            vectors' is an error unless ``copy=True`` (the copy is then made
            there). ``init="random"`` keeps the vocabulary but draws the word
            rows at random with the vectors' standard deviation: the baseline
            that shows what the pre-trained vectors bring.
            """
            if init not in ("vectors", "random"):
                raise ValueError(f"init must be 'vectors' or 'random', got {init!r}")
            source = getattr(kv, "device", "cpu")
            if device is not None and not copy and not _same_device(device, source):
                raise ValueError(
                    f"the vectors are on {source} but the model was asked for on {device}: "
                    "pass copy=True to copy them there, or leave device=None to build the "
                    "model where the vectors are")
            if len(tuple(specials)) < 2:
                raise ValueError("specials must name a padding and an unknown token, e.g. "
                                 f"('<pad>', '<unk>'); got {tuple(specials)}")
            if seed is not None:
                torch.manual_seed(seed)
            embedding, mapping = to_embedding(kv, freeze=freeze_embedding, specials=specials,
                                              copy=copy or init == "random", device=device)
            tokenizer = Tokenizer(mapping, pad_token=specials[0], unk_token=specials[1],
                                  lowercase=lowercase,
                                  max_length=architecture.get("max_length", 256))
            model = cls(embedding, len(labels), labels=labels, tokenizer=tokenizer, **architecture)
            if init == "random":  # drawn after the layers: same seed, same encoder either way
                _randomise_words(model.embedding, len(kv))
            return model

        def forward(self, input_ids, attention_mask=None):
            """Class logits [batch, num_classes] for padded ids [batch, length]."""
            length = input_ids.shape[1]
            if length > self.positions.shape[0]:
                raise ValueError(f"input of length {length} is longer than the model's "
                                 f"max_length {self.positions.shape[0]}; truncate it (the "
                                 "tokenizer's max_length does)")
            if attention_mask is None:
                attention_mask = (input_ids != self.padding_idx) if self.padding_idx is not None \
                    else torch.ones_like(input_ids, dtype=torch.bool)
            padding = ~attention_mask.bool()
            # A row with no word (empty text) would make attention softmax over
            # nothing (NaN): let it see its first position instead.
            padding[:, 0] &= ~padding.all(dim=1)
            x = self.embedding(input_ids) + self.positions[:length]
            x = self.dropout(self.input_norm(x))
            x = self.encoder(x, src_key_padding_mask=padding)
            keep = (~padding).unsqueeze(-1)
            if self.config["pooling"] == "max":
                pooled = x.masked_fill(~keep, float("-inf")).max(dim=1).values
            else:
                pooled = (x * keep).sum(dim=1) / keep.sum(dim=1)
            return self.head(self.dropout(pooled))

        def set_trainable(self, *, freeze_embedding: bool = False,
                          train_last_layers: Optional[int] = None) -> int:
            """Chooses what fine-tuning adjusts; returns the trainable parameter count.

            Default: everything (full fine-tuning). ``freeze_embedding``: all but
            the embedding. ``train_last_layers=k``: only the last k encoder
            layers, the final norm and the head (k=0: the head alone).
            """
            layers = len(self.encoder.layers)
            if train_last_layers is not None and not 0 <= train_last_layers <= layers:
                raise ValueError(f"train_last_layers must be in 0..{layers}, got {train_last_layers}")
            for parameter in self.parameters():
                parameter.requires_grad_(train_last_layers is None)
            if train_last_layers is None:
                self.embedding.weight.requires_grad_(not freeze_embedding)
            else:
                for layer in list(self.encoder.layers)[layers - train_last_layers:]:
                    layer.requires_grad_(True)
                self.encoder.norm.requires_grad_(True)
                self.head.requires_grad_(True)
            return sum(p.numel() for p in self.parameters() if p.requires_grad)

        @property
        def device(self):
            return self.embedding.weight.device

    TextClassifier.__module__ = __name__
    TextClassifier.__qualname__ = "TextClassifier"  # so pickle finds it via __getattr__
    return TextClassifier


def _same_device(a, b) -> bool:
    norm = lambda d: "cuda:0" if str(d).lower() == "cuda" else str(d).lower()  # noqa: E731
    return norm(a) == norm(b)


def _randomise_words(embedding, n_words: int) -> None:
    """Random word rows with the pre-trained rows' spread; specials kept."""
    torch = require_torch()
    with torch.no_grad():
        words = embedding.weight[:n_words]
        words.normal_(0.0, float(words.std()))


_CLASS = None


def __getattr__(name):
    # `TextClassifier` is built (and torch imported) when first asked for.
    global _CLASS
    if name == "TextClassifier":
        if _CLASS is None:
            _CLASS = _classifier_class()
        return _CLASS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- training

@dataclass
class FinetuneResult:
    """What :func:`finetune` did: one history row per epoch run."""
    history: List[Dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: Optional[float] = None
    stopped_early: bool = False
    trainable_parameters: int = 0
    seconds: float = 0.0


def model_device(model):
    """The one device of all of `model`'s parameters and buffers; a model split
    across devices is an error (it would copy activations at every step)."""
    devices = {tensor_device(t) for t in list(model.parameters()) + list(model.buffers())}
    if len(devices) != 1:
        raise ValueError(f"the model's parameters are on several devices {sorted(devices)}; "
                         "put the whole model on the vectors' device")
    return devices.pop()


def _check_device(model, device) -> str:
    where = model_device(model)
    if device is not None and not _same_device(device, where):
        raise ValueError(f"the model (and its vectors) are on {where} but device={device!r} was "
                         "asked for; build the model there (from_vectors(..., device=, copy=True)) "
                         "instead of moving data between devices at every step")
    return where


def _batches(lengths: np.ndarray, batch_size: int, rng: Optional[np.random.Generator]) -> List[np.ndarray]:
    """Index batches; with `rng`, shuffled, grouping similar lengths so little
    padding is computed (sorted within windows of 16 batches)."""
    order = rng.permutation(len(lengths)) if rng is not None else np.argsort(lengths, kind="stable")
    if rng is not None:
        window = batch_size * 16
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                                for chunk in np.split(order, range(window, len(order), window))])
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _pad(encoded: List[List[int]], rows: np.ndarray, pad_id: int, device):
    torch = require_torch()
    width = max(1, max(len(encoded[r]) for r in rows))
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        ids[i, :len(encoded[r])] = encoded[r]
        mask[i, :len(encoded[r])] = True
    # Only the token ids (made from host text) move to the model's device.
    return torch.from_numpy(ids).to(device, non_blocking=True), torch.from_numpy(mask).to(device, non_blocking=True)


def _optimizer(model, lr: float, weight_decay: float):
    """AdamW; no decay on the embedding (it would shrink the pre-trained
    vectors towards zero), biases and norms."""
    torch = require_torch()
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
    torch = require_torch()
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
    """
    torch = require_torch()
    tokenizer = tokenizer or getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("no tokenizer: pass tokenizer= or build the model with TextClassifier.from_vectors")
    _check_sizes(model, tokenizer)
    where = _check_device(model, device)
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

    from tqdm.auto import tqdm
    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, desc="finetune", unit="batch")
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            total = torch.zeros((), device=where)  # summed on the device: no sync per step
            for rows in _batches(lengths, batch_size, rng):
                ids, mask = _pad(encoded, rows, tokenizer.pad_id, where)
                loss = torch.nn.functional.cross_entropy(model(ids, mask), targets[torch.from_numpy(rows).to(where)])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], max_grad_norm)
                optimizer.step()
                scheduler.step()
                total += loss.detach() * len(rows)
                bar.update(1)
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
    finally:
        bar.close()
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


def _logits(model, tokenizer, texts: Sequence[str], batch_size: int):
    torch = require_torch()
    where = model_device(model)
    encoded = [tokenizer.encode(text) for text in texts]
    out = torch.empty((len(encoded), model.config["num_classes"]), device=where)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for rows in _batches(np.array([len(e) for e in encoded]), batch_size, None):
            ids, mask = _pad(encoded, rows, tokenizer.pad_id, where)
            out[torch.from_numpy(rows).to(where)] = model(ids, mask).float()
    model.train(was_training)
    return out


def evaluate(model, texts: Sequence[str], labels: Sequence[str], *,
             tokenizer: Optional[Tokenizer] = None, batch_size: int = 256) -> Dict[str, float]:
    """``{"accuracy", "loss", "n"}`` of `model` on labelled texts. Labels the
    model has no class for are an error."""
    torch = require_torch()
    tokenizer = tokenizer or model.tokenizer
    if len(texts) != len(labels) or not len(texts):
        raise ValueError(f"need as many labels as texts (>0), got {len(texts)} and {len(labels)}")
    targets = torch.from_numpy(encode_labels(labels, model.labels)).to(model_device(model))
    logits = _logits(model, tokenizer, texts, batch_size)
    loss = torch.nn.functional.cross_entropy(logits, targets)
    accuracy = (logits.argmax(dim=1) == targets).float().mean()
    return {"accuracy": float(accuracy), "loss": float(loss), "n": len(texts)}


def predict(model, texts: Sequence[str], *, tokenizer: Optional[Tokenizer] = None,
            batch_size: int = 256) -> List[str]:
    """The predicted label of each text."""
    logits = _logits(model, tokenizer or model.tokenizer, texts, batch_size)
    return [model.labels[i] for i in logits.argmax(dim=1).tolist()]


# ---------------------------------------------------------------- save / load

_FORMAT = "embforge-text-classifier-1"


def save_classifier(model, path) -> None:
    """Saves weights, architecture, labels and vocabulary in one torch file."""
    torch = require_torch()
    tok = model.tokenizer
    torch.save({"format": _FORMAT, "config": model.config, "labels": model.labels,
                "vocab": tok.key_to_index, "pad_token": tok.pad_token, "unk_token": tok.unk_token,
                "lowercase": tok.lowercase, "padding_idx": model.padding_idx,
                "state_dict": model.state_dict()}, os.fspath(path))


def load_classifier(path, device="cpu"):
    """Loads a :func:`save_classifier` file onto `device`."""
    torch = require_torch()
    saved = torch.load(os.fspath(path), map_location=device, weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        raise ValueError(f"{path} is not an embforge text classifier file")
    weight = saved["state_dict"]["embedding.weight"]
    embedding = torch.nn.Embedding(weight.shape[0], weight.shape[1], padding_idx=saved["padding_idx"],
                                   device=device)
    config = dict(saved["config"])
    tokenizer = Tokenizer(saved["vocab"], pad_token=saved["pad_token"], unk_token=saved["unk_token"],
                          lowercase=saved["lowercase"], max_length=config["max_length"])
    model = __getattr__("TextClassifier")(embedding, config.pop("num_classes"), labels=saved["labels"],
                                          tokenizer=tokenizer, **config)
    model.load_state_dict(saved["state_dict"])
    return model.eval()


# ---------------------------------------------------------------- CLI

def add_finetune_parser(subparsers) -> argparse.ArgumentParser:
    """Adds ``embforge finetune`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "finetune", help="fine-tune a transformer classifier that starts from trained vectors",
        description="Fine-tunes a small transformer text classifier whose embedding starts from "
                    "word vectors, on TSV files with a 'label<TAB>text' header, and reports "
                    "test accuracy.")
    p.add_argument("--vectors", required=True,
                   help="vectors: .kv (embforge), .bin (word2vec binary), else word2vec/GloVe text")
    p.add_argument("--binary", action="store_true",
                   help="read the vectors as binary word2vec whatever their extension")
    p.add_argument("--train", required=True, help="training TSV (label<TAB>text header)")
    p.add_argument("--test", required=True, help="test TSV, scored after training")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training rows held out for early stopping (0: none)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1, help="share of steps of linear warm-up")
    p.add_argument("--patience", type=int, default=3, help="epochs without improvement before stopping")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=None,
                   help="attention heads, must divide the vector size (default: 4, else 5, 2, 3 or 1)")
    p.add_argument("--ff-dim", type=int, default=None, help="feed-forward width (default: 2 x vector size)")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--max-length", type=int, default=128, help="tokens kept per text")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--freeze-embedding", action="store_true", help="train all but the embedding")
    what.add_argument("--train-last-layers", type=int, default=None, metavar="K",
                      help="train only the last K encoder layers and the head")
    p.add_argument("--random-init", action="store_true",
                   help="baseline: same vocabulary, random embedding instead of the vectors")
    p.add_argument("--skip-empty", action="store_true", help="drop rows with an empty text")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="write the fine-tuned classifier here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cli_finetune, func=cli_finetune)
    return p


def _split(texts, labels, fraction: float, seed: int):
    """Stratified hold-out of `fraction` of the rows (at least one per class
    with 2+ rows)."""
    if not fraction:
        return (texts, labels), (None, None)
    if not 0 < fraction < 1:
        raise ValueError(f"--val-fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for label in sorted(set(labels)):
        rows = [i for i, l in enumerate(labels) if l == label]
        if len(rows) > 1:
            held.extend(rng.permutation(rows)[:max(1, int(round(fraction * len(rows))))].tolist())
    held_set = set(held)
    keep = [i for i in range(len(texts)) if i not in held_set]
    return ([texts[i] for i in keep], [labels[i] for i in keep]), \
        ([texts[i] for i in held], [labels[i] for i in held])


def cli_finetune(args) -> int:
    """Runs ``embforge finetune``; returns the exit status."""
    train_texts, train_labels = load_tsv(args.train, skip_empty=args.skip_empty)
    test_texts, test_labels = load_tsv(args.test, skip_empty=args.skip_empty)
    labels = sorted(set(train_labels))
    encode_labels(test_labels, labels, f"{args.test}")  # unseen test labels: fail before training
    from .cli import load_vectors
    from .keyedvectors import KeyedVectors
    kv = (KeyedVectors.load_word2vec_format(args.vectors, binary=True) if args.binary
          else load_vectors(args.vectors))
    (fit_texts, fit_labels), (val_texts, val_labels) = _split(train_texts, train_labels,
                                                             args.val_fraction, args.seed)
    model = _classifier_from_args(kv, labels, args)
    print(f"{len(kv)} vectors of {kv.vector_size} dims; {len(labels)} classes; "
          f"{len(fit_texts)} training rows, {len(val_texts or [])} validation, {len(test_texts)} test; "
          f"unknown words in test: {model.tokenizer.unknown_rate(test_texts):.1%}")
    result = finetune(model, fit_texts, fit_labels, val_texts, val_labels, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                      warmup=args.warmup, patience=args.patience,
                      freeze_embedding=args.freeze_embedding,
                      train_last_layers=args.train_last_layers, seed=args.seed,
                      progress=not args.quiet)
    scores = evaluate(model, test_texts, test_labels)
    print(f"trained {len(result.history)} epoch(s) in {result.seconds:.1f}s, best epoch "
          f"{result.best_epoch}; {result.trainable_parameters} trainable parameters")
    print(f"test accuracy {scores['accuracy']:.4f}  loss {scores['loss']:.4f}  (n={scores['n']})")
    if args.save:
        save_classifier(model, args.save)
        print(f"saved {args.save}")
    return 0


def _classifier_from_args(kv, labels, args):
    """The classifier the CLI options describe (the loaded vectors are private: copy=False)."""
    return __getattr__("TextClassifier").from_vectors(
        kv, labels, device=args.device, copy=not _same_device(args.device, getattr(kv, "device", "cpu")),
        init="random" if args.random_init else "vectors", seed=args.seed,
        num_layers=args.layers, ff_dim=args.ff_dim,
        num_heads=args.heads or next(h for h in (4, 5, 2, 3, 1) if kv.vector_size % h == 0), dropout=args.dropout,
        max_length=args.max_length)
