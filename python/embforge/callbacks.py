"""Training callbacks, gensim's protocol: an object with any of
``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end``, ``on_train_end``
(each called with the model), or a plain callable, which means
``on_epoch_end``. Word2Vec and GloVe call them between native epochs."""
from __future__ import annotations

from typing import Any, Iterable

__all__ = ["call_callbacks"]


def call_callbacks(callbacks: Iterable[Any], name: str, model: object) -> None:
    """Calls hook `name` of every callback that has it, in order."""
    for callback in callbacks:
        method = getattr(callback, name, None)
        if method is not None:
            method(model)
        elif callable(callback) and name == "on_epoch_end":
            callback(model)
