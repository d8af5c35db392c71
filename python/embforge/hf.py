"""Putting our vectors into a Hugging Face ``transformers`` model.

:func:`load_into_hf_model` writes, into the model's input embedding matrix
(``get_input_embeddings()``), our vector for every token that the model's
tokenizer shares with our vocabulary; other rows keep their values. Optional
``add_tokens`` first adds our most frequent words the tokenizer lacks and
resizes the embeddings (``resize_token_embeddings``). When the widths differ
the vectors are projected (see ``projection``).

Matching: a tokenizer token matches the word spelled the same; the word-start
markers of byte-level BPE ("Ġ") and SentencePiece ("▁") are ignored, and
``lowercase=True`` also tries the lower-cased token. Continuation pieces
("##ing") and the tokenizer's special tokens are never written.

Rows are written in place (``weight[ids] = ...``), so output embeddings tied
to the input ones stay tied. Only the rows written travel to the model's
device if it differs from the vectors'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .torch_bridge import require_torch, to_torch

__all__ = ["load_into_hf_model", "shared_tokens", "HFTransfer"]

_WORD_START = ("Ġ", "▁")


def _require_transformers() -> Any:
    try:
        import transformers  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise ImportError("the Hugging Face adapter needs transformers: pip install transformers") from error
    return transformers


@dataclass
class HFTransfer:
    """What :func:`load_into_hf_model` wrote."""
    matched: int                 # tokenizer tokens that received one of our vectors
    added: List[str]             # words added to the tokenizer (add_tokens)
    vocab_size: int              # the tokenizer's size afterwards
    projection: Optional[object]  # the [vector_size, hidden] map used, or None

    @property
    def coverage(self) -> float:
        """Share of the tokenizer's tokens that got one of our vectors."""
        return self.matched / self.vocab_size if self.vocab_size else 0.0


def shared_tokens(tokenizer: Any, kv: Any, lowercase: bool = False) -> Dict[int, int]:
    """``{tokenizer id: our vector id}`` for the tokens both vocabularies have."""
    specials = set(getattr(tokenizer, "all_special_tokens", []) or [])
    ours = kv.key_to_index
    pairs: Dict[int, int] = {}
    for token, token_id in tokenizer.get_vocab().items():
        if token in specials or token.startswith("##"):
            continue
        word = token[1:] if token[:1] in _WORD_START and len(token) > 1 else token
        index = ours.get(word)
        if index is None and lowercase:
            index = ours.get(word.lower())
        if index is not None:
            pairs[token_id] = index
    return pairs


def _projection(kind: Any, vectors: Any, model_rows: Any, everything: Any, dim: int, seed: int
                ) -> Any:
    """The [d, dim] map applied to our vectors (None for the identity).
    `vectors`: our rows of the shared tokens, `model_rows`: the model's rows
    for them, `everything`: all our vectors."""
    torch = require_torch()
    d = vectors.shape[1]
    if kind is not None and not isinstance(kind, str):
        matrix = kind.weight.detach().T if isinstance(kind, torch.nn.Linear) else torch.as_tensor(kind)
        if tuple(matrix.shape) != (d, dim):
            raise ValueError(f"projection must map {d} -> {dim} dims, i.e. have shape ({d}, {dim}), "
                             f"got {tuple(matrix.shape)}")
        return matrix.to(vectors.device, vectors.dtype)
    if kind == "auto":
        kind = None if d == dim else ("pca" if d > dim else "orthogonal")
    if kind is None:
        if d != dim:
            raise ValueError(f"our vectors have {d} dims and the model {dim}: a projection is needed")
        return None
    if kind == "orthogonal":
        # Orthonormal rows (d <= dim) keep every dot product between vectors.
        generator = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(max(d, dim), min(d, dim), generator=generator))
        matrix = q if d >= dim else q.T
        return matrix.to(vectors.device, vectors.dtype)
    if kind == "pca":
        if d < dim:
            raise ValueError(f"projection='pca' reduces dimensions; our {d} < the model's {dim}: "
                             "use 'orthogonal'")
        # All our vectors, not only the shared ones; full_matrices completes
        # the basis when there are fewer words than dimensions.
        centred = everything - everything.mean(dim=0)
        _, _, vh = torch.linalg.svd(centred, full_matrices=True)
        return vh[:dim].T.contiguous()
    if kind == "lstsq":
        # Fits our vectors to the model's current rows for the shared tokens:
        # lands in a pre-trained model's own embedding space.
        if vectors.shape[0] < d:
            raise ValueError(f"projection='lstsq' needs at least {d} shared tokens, got {vectors.shape[0]}")
        return torch.linalg.lstsq(vectors.float(), model_rows.float()).solution.to(vectors.dtype)
    raise ValueError(f"projection must be 'auto', 'orthogonal', 'pca', 'lstsq', None, a "
                     f"({d}, {dim}) matrix or an nn.Linear; got {kind!r}")


def load_into_hf_model(model: Any, tokenizer: Any, kv: Any, *, projection: str = "auto",
                       rescale: bool = True, lowercase: bool = False, add_tokens: int = 0,
                       seed: int = 0) -> HFTransfer:
    """Writes our vectors into `model`'s input embeddings for the tokens of
    `tokenizer` that our vocabulary shares.

    ``projection`` when the widths differ: "auto" (default: "pca" to reduce,
    "orthogonal" to widen, nothing when equal), "orthogonal" (a seeded random
    map with orthonormal rows or columns), "pca" (our top principal
    directions), "lstsq" (least-squares fit to the model's current rows of
    the shared tokens, for pre-trained models), or an explicit ``(vector_size,
    hidden)`` matrix / ``nn.Linear``. ``rescale`` scales the written rows to
    the root-mean-square of the rows they replace, keeping the balance with
    position embeddings and norms (not applied with "lstsq", which fits the
    scale already). ``add_tokens=N`` first adds up to N of our most frequent
    words missing from the tokenizer and resizes the model's embeddings.
    """
    torch = require_torch()
    _require_transformers()
    added: List[str] = []
    if add_tokens:
        known = set(tokenizer.get_vocab())
        missing = [w for w in kv.index_to_key if w not in known and not (lowercase and w.lower() in known)]
        added = missing[:add_tokens]
        tokenizer.add_tokens(added)
    embedding = model.get_input_embeddings()
    if embedding is None or not hasattr(embedding, "weight"):
        raise ValueError(f"{type(model).__name__} has no input embedding matrix to write into")
    if len(tokenizer) > embedding.weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
        embedding = model.get_input_embeddings()
    weight = embedding.weight
    pairs = shared_tokens(tokenizer, kv, lowercase=lowercase)
    if not pairs:
        return HFTransfer(0, added, len(tokenizer), None)

    vectors = to_torch(kv)  # on the vectors' device, shared: nothing copied yet
    token_ids = torch.tensor(list(pairs), dtype=torch.long)
    ours = vectors[torch.tensor(list(pairs.values()), dtype=torch.long, device=vectors.device)]
    current = weight.detach()[token_ids.to(weight.device)]
    matrix = _projection(projection, ours, current.to(ours.device), vectors, weight.shape[1], seed)
    rows = ours if matrix is None else ours @ matrix
    if rescale and projection != "lstsq":
        target = current.float().pow(2).mean().sqrt()
        rows = rows * (target.to(rows.device) / rows.float().pow(2).mean().sqrt().clamp_min(1e-12))
    with torch.no_grad():
        weight[token_ids.to(weight.device)] = rows.to(weight.device, weight.dtype)
    return HFTransfer(len(pairs), added, len(tokenizer), matrix)
