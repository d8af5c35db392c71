"""The transformer text classifier whose embedding starts from trained vectors.

Embedding -> + fixed sinusoidal positions -> pre-norm TransformerEncoder ->
masked pooling -> linear head, built on the vectors' device. This module needs
torch (imported here, at the top); the package imports it only when one of
its names is first used.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, cast

from ..backends.arrays import same_device
from ..tokenizer import Tokenizer
from ..torch_bridge import (DEFAULT_SPECIALS, require_torch, tensor_device,
                            to_embedding)

if TYPE_CHECKING:
    from ..keyedvectors import KeyedVectors

torch = require_torch()  # an ImportError that says how to install it
if TYPE_CHECKING:  # torch's own types for the classes below
    from torch import Tensor, nn
else:
    nn = torch.nn

__all__ = ["TextClassifier", "model_device", "check_device"]


def check_heads(num_heads: int, width: int, what: str) -> None:
    """Refuses a head count that does not divide `width` (`what` names it in
    the message), suggesting the ones that do."""
    if num_heads < 1 or width % num_heads:
        divisors = [h for h in range(1, min(width, 16) + 1) if width % h == 0]
        raise ValueError(f"num_heads={num_heads} must divide {what} {width}; "
                         f"try one of {divisors}")


def sinusoids(length: int, dim: int) -> Any:
    """Fixed sinusoidal position codes [length, dim] (no parameters to learn)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    half = (dim + 1) // 2
    frequency = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = position * frequency[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)[:, :dim]


class TextClassifier(nn.Module):
    positions: "Tensor"  # a buffer: register_buffer in __init__
    """Embedding -> + positions -> TransformerEncoder -> masked pooling -> linear head.

    ``embedding`` is any ``nn.Embedding`` (see :meth:`from_vectors`); the
    model dimension is its width, which `num_heads` must divide. Pre-norm
    encoder layers (``norm_first``), which train stably from few examples.
    ``dropout`` applies to the embedded input and the pooled output, and
    inside the encoder unless ``encoder_dropout`` says otherwise (0 is
    markedly faster on CPU, where dropout's random draws are costly).
    """

    def __init__(self, embedding: Any, num_classes: int, *, num_layers: int = 2,
                 num_heads: int = 4, ff_dim: Optional[int] = None, dropout: float = 0.1,
                 encoder_dropout: Optional[float] = None, max_length: int = 256,
                 pooling: str = "mean", labels: Optional[Sequence[str]] = None,
                 tokenizer: Optional[Tokenizer] = None) -> None:
        super().__init__()
        dim = embedding.embedding_dim
        if num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
        check_heads(num_heads, dim, "the embedding width")
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
        self.config: Dict[str, Any] = dict(num_classes=num_classes, num_layers=num_layers, num_heads=num_heads,
                           ff_dim=ff_dim or 2 * dim, dropout=dropout, max_length=max_length,
                           pooling=pooling,
                           encoder_dropout=dropout if encoder_dropout is None else encoder_dropout)
        self.labels = list(labels) if labels is not None else [str(i) for i in range(num_classes)]
        self.tokenizer = tokenizer
        self.padding_idx = embedding.padding_idx
        self.embedding = embedding
        # Everything else is created on the embedding's device: no weights
        # travel between host and GPU when the vectors live on a GPU.
        self.register_buffer("positions", sinusoids(max_length, dim).to(device), persistent=False)
        self.input_norm = nn.LayerNorm(dim, device=device)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, num_heads, self.config["ff_dim"],
                                           self.config["encoder_dropout"],
                                           batch_first=True, norm_first=True, device=device)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(dim, device=device),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(dim, num_classes, device=device)

    @classmethod
    def from_vectors(cls, kv: "KeyedVectors", labels: Sequence[str], *,
                     freeze_embedding: bool = False, copy: bool = False, device: Any = None,
                     init: str = "vectors", specials: Sequence[str] = DEFAULT_SPECIALS,
                     lowercase: bool = True, seed: Optional[int] = None, **architecture: Any
                     ) -> Any:
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
        if device is not None and not copy and not same_device(device, source):
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

    def forward(self, input_ids: Any, attention_mask: Any = None) -> Any:
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
            cast("nn.Module", self.encoder.norm).requires_grad_(True)  # built with a norm
            self.head.requires_grad_(True)
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @property
    def device(self) -> Any:
        return self.embedding.weight.device


def _randomise_words(embedding: Any, n_words: int) -> None:
    """Random word rows with the pre-trained rows' spread; specials kept."""
    with torch.no_grad():
        words = embedding.weight[:n_words]
        words.normal_(0.0, float(words.std()))


def model_device(model: Any) -> str:
    """The one device of all of `model`'s parameters and buffers; a model split
    across devices is an error (it would copy activations at every step)."""
    devices = {tensor_device(t) for t in list(model.parameters()) + list(model.buffers())}
    if len(devices) != 1:
        raise ValueError(f"the model's parameters are on several devices {sorted(devices)}; "
                         "put the whole model on the vectors' device")
    return devices.pop()


def check_device(model: Any, device: Any) -> str:
    """The model's device, after checking that `device` (if given) names it."""
    where = model_device(model)
    if device is not None and not same_device(device, where):
        raise ValueError(f"the model (and its vectors) are on {where} but device={device!r} was "
                         "asked for; build the model there (from_vectors(..., device=, copy=True)) "
                         "instead of moving data between devices at every step")
    return where
