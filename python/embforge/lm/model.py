"""A GPT-2-style decoder-only language model whose token embedding starts
from our vectors.

ids -> embedding (our vectors, plus <pad>/<unk>/<bos>/<eos>) -> [projection to
the model width] -> + positions (learned or sinusoidal) -> pre-norm blocks
(causal self-attention through scaled_dot_product_attention, MLP) -> final
norm -> output layer: the embedding itself (tied, default; through the
transposed projection when widths differ) or a separate linear layer.
Built on the vectors' device. Needs torch (imported at the top).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, cast

from ..backends.arrays import same_device
from ..finetune.model import check_heads, sinusoids
from ..tokenizer import Tokenizer
from ..torch_bridge import LM_SPECIALS, require_torch, to_embedding

if TYPE_CHECKING:
    from ..keyedvectors import KeyedVectors

torch = require_torch()
if TYPE_CHECKING:  # torch's own types for the classes below
    from torch import Tensor, nn
else:
    nn = torch.nn
F = torch.nn.functional

__all__ = ["DecoderLM", "Cache"]

Cache = List[Tuple[Any, Any]]   # per block: keys and values [batch, heads, seen, head_dim]


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, width: int, heads: int, ff_dim: int, dropout: float, device: Any) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1 = nn.LayerNorm(width, device=device)
        self.qkv = nn.Linear(width, 3 * width, device=device)
        self.out = nn.Linear(width, width, device=device)
        self.norm2 = nn.LayerNorm(width, device=device)
        self.mlp = nn.Sequential(nn.Linear(width, ff_dim, device=device), nn.GELU(),
                                 nn.Linear(ff_dim, width, device=device))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Any, mask: Any, past: Any) -> Any:
        b, t, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, width // self.heads).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if past is not None:   # the cached keys and values of the tokens before these
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=mask is None,
            dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.out(attended.transpose(1, 2).reshape(b, t, width)))
        x = x + self.drop(self.mlp(self.norm2(x)))
        return x, (k, v)


class DecoderLM(nn.Module):
    """The language model; build one with :meth:`from_vectors`.

    ``embedding``: an ``nn.Embedding`` whose rows are the vocabulary and the
    four specials; ``width`` (default: the embedding's) is the model width,
    which `num_heads` must divide; a different width adds a linear
    projection in (and, tied, back out). ``positions``: "learned" or
    "sinusoidal". ``tie=True`` makes the output layer the embedding itself:
    then freezing the embedding freezes the output layer too.
    """

    sinusoids: "Tensor"  # a buffer (positions="sinusoidal"): register_buffer in __init__

    def __init__(self, embedding: Any, *, tokenizer: Tokenizer, bos_id: int, eos_id: int,
                 width: Optional[int] = None, num_layers: int = 2, num_heads: int = 4,
                 ff_dim: Optional[int] = None, dropout: float = 0.1, context: int = 128,
                 positions: str = "learned", tie: bool = True) -> None:
        super().__init__()
        dim, rows = embedding.embedding_dim, embedding.num_embeddings
        width = int(width or dim)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        check_heads(num_heads, width, "the model width")
        if context < 2:
            raise ValueError(f"context must be >= 2 tokens, got {context}")
        if positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions must be 'learned' or 'sinusoidal', got {positions!r}")
        if tokenizer.vocab_size > rows:
            raise ValueError(f"vocabulary/embedding size mismatch: the tokenizer has ids up to "
                             f"{tokenizer.vocab_size - 1} but the embedding has {rows} rows; build "
                             "both from the same vectors (DecoderLM.from_vectors)")
        for name, token in (("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= token < rows:
                raise ValueError(f"{name}={token} is not a row of the {rows}-row embedding")
        device = embedding.weight.device
        self.config: Dict[str, Any] = dict(width=width, num_layers=num_layers, num_heads=num_heads,
                           ff_dim=int(ff_dim or 4 * width), dropout=dropout, context=context,
                           positions=positions, tie=tie)
        self.tokenizer, self.bos_id, self.eos_id = tokenizer, bos_id, eos_id
        self.pad_id = tokenizer.pad_id
        self.embedding = embedding
        projected = width != dim
        self.project_in = nn.Linear(dim, width, bias=False, device=device) if projected else None
        self.project_out = nn.Linear(width, dim, bias=False, device=device) if projected and tie else None
        self.position: Optional[nn.Embedding]
        if positions == "learned":
            self.position = nn.Embedding(context, width, device=device)
            nn.init.normal_(self.position.weight, std=0.02)
        else:
            self.position = None
            self.register_buffer("sinusoids", sinusoids(context, width).to(device), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(width, num_heads, self.config["ff_dim"], dropout, device)
                                    for _ in range(num_layers))
        self.norm = nn.LayerNorm(width, device=device)
        self.head = None if tie else nn.Linear(width, rows, bias=False, device=device)
        for block in self.blocks:   # GPT-2's scaling of the residual projections
            for layer in (cast("Block", block).out, cast("nn.Linear", cast("Block", block).mlp[2])):
                nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * num_layers))

    @classmethod
    def from_vectors(cls, kv: "KeyedVectors", *, share_vectors: bool = False, device: Any = None,
                     init: str = "vectors", freeze_embedding: bool = False, lowercase: bool = True,
                     seed: Optional[int] = None, **architecture: Any) -> "DecoderLM":
        """A language model whose token embedding is `kv` plus the specials
        ``<pad> <unk> <bos> <eos>`` (:func:`to_embedding`), with the matching
        tokenizer, on the vectors' device (or `device`).

        ``share_vectors=False`` (default): the model trains its own copy and
        `kv` never changes. ``share_vectors=True``: the embedding *is* the
        vectors' buffer (no copy, on the CPU or the GPU; the specials live in
        its spare rows), so fine-tuning rewrites the vectors in place; it
        needs `device` to be the vectors'. ``init="random"`` keeps the
        vocabulary but draws the word rows with the vectors' spread (the
        baseline). ``freeze_embedding``: with the default tied output layer,
        that layer is frozen too (it is the same tensor).
        """
        if init not in ("vectors", "random"):
            raise ValueError(f"init must be 'vectors' or 'random', got {init!r}")
        source = getattr(kv, "device", "cpu")
        if share_vectors and device is not None and not same_device(device, source):
            raise ValueError(f"share_vectors=True but the vectors are on {source} and the model was "
                             f"asked for on {device}: a shared buffer cannot be on two devices; "
                             "leave device=None or pass share_vectors=False")
        if share_vectors and init == "random":
            raise ValueError("init='random' overwrites the word rows: it cannot share the vectors")
        if seed is not None:
            torch.manual_seed(seed)
        embedding, mapping = to_embedding(kv, freeze=freeze_embedding, specials=LM_SPECIALS,
                                          copy=not share_vectors, device=device)
        tokenizer = Tokenizer(mapping, pad_token=LM_SPECIALS[0], unk_token=LM_SPECIALS[1],
                              lowercase=lowercase)
        model = cls(embedding, tokenizer=tokenizer, bos_id=mapping[LM_SPECIALS[2]],
                    eos_id=mapping[LM_SPECIALS[3]], **architecture)
        if init == "random":  # drawn after the layers: same seed, same blocks either way
            with torch.no_grad():
                words = model.embedding.weight[:len(kv)]
                words.normal_(0.0, float(words.std()))
        return model

    # -------------------------------------------------------------- running
    @property
    def device(self) -> Any:
        return self.embedding.weight.device

    @property
    def context(self) -> int:
        context: int = self.config["context"]
        return context

    def get_input_embeddings(self) -> Any:
        return self.embedding

    def forward(self, input_ids: Any, attention_mask: Any = None, past: Optional[Cache] = None,
                use_cache: bool = False) -> Any:
        """Next-token logits [batch, length, rows] for ids [batch, length].

        ``attention_mask`` (1 = token, 0 = padding; left padding for batched
        prompts) covers the cached tokens and these. ``past``: the cache a
        previous call returned with ``use_cache=True``; these ids continue it.
        With ``use_cache`` returns ``(logits, cache)``.
        """
        b, t = input_ids.shape
        seen = 0 if past is None else past[0][0].shape[2]
        if seen + t > self.context:
            raise ValueError(f"{seen + t} tokens are more than the model's context of "
                             f"{self.context}; shorten the input")
        mask, position = self._mask_and_positions(attention_mask, b, t, seen, input_ids.device)
        x = self.embedding(input_ids)
        if self.project_in is not None:
            x = self.project_in(x)
        x = x + (self.position(position) if self.position is not None else self.sinusoids[position])
        x = self.drop(x)
        cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, mask, None if past is None else past[i])
            cache.append(kv)
        logits = self.logits(self.norm(x))
        return (logits, cache) if use_cache else logits

    def logits(self, hidden: Any) -> Any:
        if self.head is not None:
            return self.head(hidden)
        if self.project_out is not None:
            hidden = self.project_out(hidden)
        return hidden @ self.embedding.weight.T

    def _mask_and_positions(self, attention_mask: Any, b: int, t: int, seen: int, device: Any
                            ) -> Any:
        """The attention mask SDPA takes (None: plain causal) and the position
        of each new token (counted over real tokens: left padding takes none)."""
        if attention_mask is None and seen == 0:
            return None, torch.arange(t, device=device).expand(b, t)
        total = seen + t
        if attention_mask is None:
            attention_mask = torch.ones((b, total), dtype=torch.bool, device=device)
        attention_mask = attention_mask.to(device=device, dtype=torch.bool)
        if tuple(attention_mask.shape) != (b, total):
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}, expected "
                             f"({b}, {total}) (the cached and the new tokens)")
        position = (attention_mask.long().cumsum(dim=1) - 1).clamp_min(0)[:, seen:]
        query = torch.arange(seen, total, device=device)[:, None]
        key = torch.arange(total, device=device)[None, :]
        mask = (key <= query)[None] & attention_mask[:, None, :]
        # A padding position sees no real token yet: let it see itself (its
        # output is never used) instead of a softmax over nothing (NaN).
        mask = mask | (key == query)[None]
        return mask[:, None], position

    # ------------------------------------------------------------ training
    def set_trainable(self, *, freeze_embedding: bool = False,
                      train_last_layers: Optional[int] = None) -> int:
        """What fine-tuning adjusts; returns the trainable parameter count.

        Default: everything. ``freeze_embedding``: all but the embedding (with
        a tied output layer, the output layer is frozen with it).
        ``train_last_layers=k``: the last k blocks, the final norm and an
        untied head or output projection (the embedding, and so a tied
        output layer, stays frozen).
        """
        layers = len(self.blocks)
        if train_last_layers is not None and not 0 <= train_last_layers <= layers:
            raise ValueError(f"train_last_layers must be in 0..{layers}, got {train_last_layers}")
        for parameter in self.parameters():
            parameter.requires_grad_(train_last_layers is None)
        if train_last_layers is None:
            self.embedding.weight.requires_grad_(not freeze_embedding)
        else:
            for block in list(self.blocks)[layers - train_last_layers:]:
                block.requires_grad_(True)
            self.norm.requires_grad_(True)
            for layer in (self.head, self.project_out):
                if layer is not None:
                    layer.requires_grad_(True)
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
