"""Text to ids with an embforge vocabulary, and padded batches for models.

Tokenisation matches how the corpora are read for training: split on
whitespace, lower-cased by option. Words outside the vocabulary map to the
unknown token. numpy is enough to encode; torch is needed only for
``return_tensors="pt"``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence

if TYPE_CHECKING:
    from .keyedvectors import KeyedVectors

import numpy as np

__all__ = ["Tokenizer"]


class Tokenizer:
    """Maps text to ids with a fixed word-to-id mapping.

    ``key_to_index`` must contain ``pad_token`` and ``unk_token``. Build one
    that matches an embedding with :meth:`from_vectors` (same ids as
    :func:`embforge.torch_bridge.to_embedding`).
    """

    def __init__(self, key_to_index: Mapping[str, int], *, pad_token: str = "<pad>",
                 unk_token: str = "<unk>", lowercase: bool = True,
                 max_length: Optional[int] = None) -> None:
        self.key_to_index: Dict[str, int] = dict(key_to_index)
        for name, token in (("pad_token", pad_token), ("unk_token", unk_token)):
            if token not in self.key_to_index:
                raise ValueError(f"{name} {token!r} is not in the vocabulary; add it "
                                 "(to_embedding's specials do) or name another token")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
        self.pad_token, self.unk_token = pad_token, unk_token
        self.pad_id = self.key_to_index[pad_token]
        self.unk_id = self.key_to_index[unk_token]
        self.lowercase = lowercase
        self.max_length = max_length
        # The largest id + 1: an embedding must have at least this many rows.
        self.vocab_size = max(self.key_to_index.values()) + 1

    @classmethod
    def from_vectors(cls, kv: "KeyedVectors", specials: Sequence[str] = ("<pad>", "<unk>"),
                     **kwargs: Any) -> "Tokenizer":
        """The tokenizer for ``to_embedding(kv, specials=specials)``: specials[0]
        pads, specials[1] stands for unknown words."""
        from .torch_bridge import embedding_vocab
        if len(tuple(specials)) < 2:
            raise ValueError("a tokenizer needs a padding and an unknown token: "
                             f"specials=('<pad>', '<unk>'), got {tuple(specials)}")
        mapping = embedding_vocab(kv, specials)
        return cls(mapping, pad_token=specials[0], unk_token=specials[1], **kwargs)

    def __len__(self) -> int:
        return len(self.key_to_index)

    def __repr__(self) -> str:
        return (f"Tokenizer({len(self)} tokens, pad={self.pad_token!r}, unk={self.unk_token!r}, "
                f"lowercase={self.lowercase}, max_length={self.max_length})")

    def tokenize(self, text: str) -> List[str]:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        return (text.lower() if self.lowercase else text).split()

    def encode(self, text: str, max_length: Optional[int] = None) -> List[int]:
        """Ids of the words of `text` (unknown words -> unk id), truncated to
        `max_length` (default: the tokenizer's)."""
        limit = max_length if max_length is not None else self.max_length
        lookup, unk = self.key_to_index.get, self.unk_id
        ids = [lookup(word, unk) for word in self.tokenize(text)]
        return ids[:limit] if limit is not None else ids

    def unknown_rate(self, texts: Iterable[str]) -> float:
        """The share of words that are not in the vocabulary."""
        total = unknown = 0
        for text in texts:
            words = self.tokenize(text)
            total += len(words)
            unknown += sum(word not in self.key_to_index for word in words)
        return unknown / total if total else 0.0

    def batch(self, texts: Sequence[str], max_length: Optional[int] = None,
              return_tensors: Optional[str] = "pt", device: Any = None) -> Dict[str, object]:
        """Encodes `texts` padded to the longest (after truncation).

        Returns ``{"input_ids", "attention_mask"}`` of shape ``[len(texts), L]``
        with ``L >= 1``; the mask is 1 for words and 0 for padding (the Hugging
        Face convention). An empty text gives a row of padding only: models
        must cope (:class:`embforge.finetune.TextClassifier` does).
        ``return_tensors``: "pt" (torch, on `device`), "np" or None (lists).
        """
        if isinstance(texts, str):
            raise TypeError("batch() takes a sequence of texts, not one str; use encode()")
        encoded = [self.encode(text, max_length) for text in texts]
        width = max([len(ids) for ids in encoded] + [1])
        ids = np.full((len(encoded), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, seq in enumerate(encoded):
            ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        if return_tensors is None:
            return {"input_ids": ids.tolist(), "attention_mask": mask.tolist()}
        if return_tensors == "np":
            return {"input_ids": ids, "attention_mask": mask}
        if return_tensors == "pt":
            from .torch_bridge import require_torch
            torch = require_torch()
            return {"input_ids": torch.from_numpy(ids).to(device),
                    "attention_mask": torch.from_numpy(mask).to(device)}
        raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")

    __call__ = batch

    def decode(self, ids: Iterable[int], skip_padding: bool = True) -> List[str]:
        """The tokens of `ids` (padding dropped unless `skip_padding` is False)."""
        if not hasattr(self, "_index_to_key"):
            self._index_to_key = {i: k for k, i in self.key_to_index.items()}
        return [self._index_to_key[int(i)] for i in ids
                if not (skip_padding and int(i) == self.pad_id)]
