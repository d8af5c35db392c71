"""The same path through Hugging Face: a ``GPT2LMHeadModel`` built from a
small config (nothing downloaded) whose token ids are our vocabulary plus
``<pad> <unk> <bos> <eos>`` (GPT-2's BPE files are not needed), its input
embeddings written by :func:`embforge.hf.load_into_hf_model` (the tie to the
LM head kept: the rows are written in place), trained by :func:`train_lm`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..hf import HFTransfer, load_into_hf_model
from ..tokenizer import Tokenizer
from ..torch_bridge import LM_SPECIALS, embedding_vocab, require_torch

if TYPE_CHECKING:
    from ..keyedvectors import KeyedVectors

torch = require_torch()

__all__ = ["gpt2_from_vectors", "VocabularyAdapter"]


class VocabularyAdapter:
    """The few tokenizer methods the hf adapter asks for, over our vocabulary."""

    def __init__(self, mapping: Dict[str, int], specials: Any = LM_SPECIALS) -> None:
        self._mapping = dict(mapping)
        self.all_special_tokens: List[str] = list(specials)

    def get_vocab(self) -> Dict[str, int]:
        return dict(self._mapping)

    def __len__(self) -> int:
        return len(self._mapping)

    def add_tokens(self, tokens: Any) -> int:
        raise ValueError("the vocabulary of a model built from our vectors is fixed (add_tokens=0)")


def gpt2_from_vectors(kv: "KeyedVectors", *, n_layer: int = 2, n_head: int = 4,
                      n_embd: Optional[int] = None, n_positions: int = 128, dropout: float = 0.1,
                      projection: str = "auto", rescale: bool = True, device: Any = None,
                      seed: int = 0, lowercase: bool = True) -> Any:
    """``(model, tokenizer, transfer)``: a randomly initialised
    ``GPT2LMHeadModel`` over our vocabulary with every word's input row set
    from `kv` (projected when ``n_embd`` differs from the vectors' size, see
    :func:`load_into_hf_model`; ``rescale`` matches GPT-2's initial scale),
    on the vectors' device unless `device` says otherwise. The LM head stays
    tied to the input embedding (so freezing one freezes both). The model
    is its own copy: `kv` never changes.
    """
    try:
        from transformers import GPT2Config, GPT2LMHeadModel  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise ImportError("the GPT-2 path needs transformers: pip install 'embforge[hf]'") from error
    mapping = embedding_vocab(kv, LM_SPECIALS)
    width = int(n_embd or kv.vector_size)
    if width % n_head:
        raise ValueError(f"n_head={n_head} must divide n_embd={width}")
    config = GPT2Config(vocab_size=len(mapping), n_positions=n_positions, n_embd=width,
                        n_layer=n_layer, n_head=n_head, resid_pdrop=dropout, embd_pdrop=dropout,
                        attn_pdrop=dropout, bos_token_id=mapping["<bos>"], eos_token_id=mapping["<eos>"],
                        pad_token_id=mapping["<pad>"], tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).to(device or getattr(kv, "device", "cpu"))
    transfer: HFTransfer = load_into_hf_model(model, VocabularyAdapter(mapping), kv,
                                              projection=projection, rescale=rescale, seed=seed)
    tokenizer = Tokenizer(mapping, pad_token=LM_SPECIALS[0], unk_token=LM_SPECIALS[1],
                          lowercase=lowercase)
    return model, tokenizer, transfer
