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

Modules: ``data`` (TSV input, labels), ``model`` (TextClassifier),
``batches`` (padding), ``train`` (the classifier's task, run by the shared
loop of ``embforge.training``), ``scoring`` (evaluate, predict),
``saving`` (one torch file). The TSV part needs only numpy; the others import
torch, which this package loads when one of their names is first used, so
``import embforge.finetune`` works without torch.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, List

from ..tokenizer import Tokenizer  # noqa: F401 - reachable as embforge.finetune.Tokenizer, as before
from .data import encode_labels, load_tsv

__all__ = ["load_tsv", "encode_labels", "TextClassifier", "finetune", "evaluate", "predict",
           "FinetuneResult", "save_classifier", "load_classifier"]

_NEEDS_TORCH = ("TextClassifier", "model_device", "FinetuneResult", "finetune", "evaluate",
                "predict", "save_classifier", "load_classifier")


def __getattr__(name: str) -> Any:
    module: ModuleType
    # Imported on first use (each of these modules imports torch at its top);
    # files pickled from the old single module name the class
    # `embforge.finetune.TextClassifier` and find it here too.
    if name in ("TextClassifier", "model_device"):
        from . import model as module
    elif name in ("FinetuneResult", "finetune"):
        from . import train as module
    elif name in ("evaluate", "predict"):
        from . import scoring as module
    elif name in ("save_classifier", "load_classifier"):
        from . import saving as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_NEEDS_TORCH))
