"""Word2Vec's model file: ``save`` and ``load``.

``Word2VecFiles`` is a mixin of :class:`embforge.Word2Vec`. A model file is
one uncompressed .npz archive of plain arrays (counts, input vectors, output
weights) and a JSON header of the settings, the epochs trained, the losses
and the training history (io/archive.py: written atomically, read without
pickle, every array checked). Settings added after the format's first
version are optional in the header: a file without them loads with the
value its writer trained with.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

import numpy as np

from ._typing import Array, StrPath
from .backends.arrays import all_finite
from .distributed.sync_schedule import HOT_SYNC_ROWS
from .history import TrainingHistory
from .io.archive import check_shapes, read_archive, write_archive
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .backends.base import Backend
    from .keyedvectors import KeyedVectors
    from .training_guard import TrainingGuard
    from .word2vec import Word2Vec

__all__ = ["Word2VecFiles", "MODEL_MAGIC", "MODEL_VERSION"]

MODEL_MAGIC = "embforge.Word2Vec"
MODEL_VERSION = 1


class Word2VecFiles:
    """``save`` and ``load`` (see the module doc)."""

    if TYPE_CHECKING:  # what the files hold of the model they are mixed into (Word2Vec)
        wv: Optional[KeyedVectors]
        vocab: Optional[Vocabulary]
        syn1neg: Array
        epochs_trained: int
        training_loss: List[float]
        history: TrainingHistory
        _backend: Backend
        _guard: TrainingGuard

    def _config(self) -> Dict[str, Any]:
        names = ("sg", "vector_size", "alpha", "window", "min_count", "max_vocab_size", "sample",
                 "seed", "workers", "min_alpha", "negative", "ns_exponent", "epochs",
                 "shrink_windows", "max_sentence_length", "compute_loss", "epochs_trained",
                 "sync_interval", "combine", "hot_sync_interval", "hot_sync_rows",
                 "hot_average_rows", "hot_average_momentum", "sync_dtype")
        config = {name: getattr(self, name) for name in names}
        config.update(format=MODEL_MAGIC, version=MODEL_VERSION,
                      training_loss=[float(x) for x in self.training_loss],
                      history=self.history.to_json())
        return config

    def save(self, path: StrPath) -> None:
        """Saves the trainable model (vectors, output weights, vocabulary, settings).

        One uncompressed .npz file of plain arrays and a JSON header, written
        atomically; it is loaded without pickle. The corpus is not saved: pass
        it again to train() to continue training.
        """
        if self.wv is None:
            raise ValueError("nothing to save: the model has no vocabulary yet")
        self._guard.check_idle("save")
        vocab = cast("Vocabulary", self.vocab)  # made with wv
        write_archive(path, self._config(), vocab.words, counts=vocab.counts,
                      vectors=np.ascontiguousarray(self.wv.vectors),
                      syn1neg=self._backend.to_host(self.syn1neg))

    @classmethod
    def load(cls, path: StrPath, device: str = "cpu", **options: Any) -> "Word2Vec":
        """Loads a model written by save(); validates every array. `options`
        (e.g. process_group=, distributed=) go to the constructor."""
        config, words, arrays = read_archive(path, "Word2Vec model", ("counts", "vectors", "syn1neg"),
                                             MODEL_MAGIC, MODEL_VERSION)
        counts, vectors, syn1neg = arrays["counts"], arrays["vectors"], arrays["syn1neg"]
        try:
            n, dim = len(words), int(config["vector_size"])
            trained = int(config.pop("epochs_trained", 0))
            losses = [float(x) for x in config.pop("training_loss", [])]
            history = TrainingHistory.from_json(config.pop("history", None), os.fspath(path))
            kwargs = {k: config[k] for k in ("sg", "vector_size", "alpha", "window", "min_count",
                                             "max_vocab_size", "sample", "seed", "workers",
                                             "min_alpha", "negative", "ns_exponent", "epochs",
                                             "shrink_windows", "max_sentence_length",
                                             "compute_loss")}
            # files written before distributed training have no sync settings:
            # they take the defaults
            kwargs.update(sync_interval=config.get("sync_interval"),
                          combine=config.get("combine", "sum"),
                          hot_sync_interval=config.get("hot_sync_interval"),
                          hot_sync_rows=config.get("hot_sync_rows", HOT_SYNC_ROWS),
                          # added later: files without it were trained adding every row
                          hot_average_rows=config.get("hot_average_rows", 0),
                          # added later still: files without it averaged without momentum
                          hot_average_momentum=config.get("hot_average_momentum", 0.0),
                          sync_dtype=config.get("sync_dtype", "float32"))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid Word2Vec model ({error!r})") from None
        check_shapes(path, (("counts", counts, (n,)), ("vectors", vectors, (n, dim)),
                            ("syn1neg", syn1neg, (n, dim))))
        if not (all_finite(vectors) and all_finite(syn1neg)):
            raise ValueError(f"{path}: the model holds NaN or infinite weights")
        kwargs.update(options)
        make: Any = cls  # the class this is mixed into (Word2Vec), whose constructor takes these
        try:
            model: "Word2Vec" = make(device=device, **kwargs)
            model._reset_weights(Vocabulary(words, counts))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid Word2Vec model ({error})") from None
        model._backend.copy_into(model._input_rows(), vectors)
        model._backend.copy_into(model.syn1neg, syn1neg)
        cast("KeyedVectors", model.wv)._invalidate()
        model.epochs_trained = trained
        model.training_loss = list(losses)
        model.history = history
        return model
