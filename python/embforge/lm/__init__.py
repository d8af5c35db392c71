"""GPT-2-style language models that start from our vectors: fine-tuning,
held-out perplexity, generation, a dialogue loop.

    kv = Word2Vec(sg=1).fit("corpus.txt.gz").wv
    model = DecoderLM.from_vectors(kv, num_layers=2, context=128)   # trains a copy of kv
    train = encode_texts(model.tokenizer, read_texts("domain.txt.gz"), model.bos_id, model.eos_id)
    valid = encode_texts(model.tokenizer, read_texts("held_out.txt"), model.bos_id, model.eos_id)
    result = train_lm(model, train, valid, epochs=3)      # held-out perplexity every epoch
    generate(model, "the scheduler", max_new_tokens=20, top_p=0.9, seed=0).text

Everything runs on the vectors' device. Modules: ``model`` (DecoderLM),
``data`` (texts to a token stream; numpy only), ``task`` (the training
loop's task, perplexity), ``train`` (train_lm), ``generation`` (generate), ``saving``
(one safetensors file), ``chat`` (a bounded dialogue), ``gpt2`` (the same
path through a Hugging Face GPT2LMHeadModel, which generates with its own
``model.generate``). torch is imported when a name
that needs it is first used, so ``import embforge.lm`` works without it.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, List

from .data import TokenStream, encode_texts, read_texts

__all__ = ["DecoderLM", "train_lm", "LMResult", "perplexity", "generate", "Completion",
           "save_lm", "load_lm", "Dialogue", "gpt2_from_vectors", "TokenStream",
           "encode_texts", "read_texts"]


def __getattr__(name: str) -> Any:
    module: ModuleType
    # each of these modules imports torch at its top: loaded on first use
    if name == "DecoderLM":
        from . import model as module
    elif name in ("train_lm", "LMResult"):
        from . import train as module
    elif name == "perplexity":
        from . import task as module
    elif name in ("generate", "Completion"):
        from . import generation as module
    elif name in ("save_lm", "load_lm"):
        from . import saving as module
    elif name == "Dialogue":
        from . import chat as module
    elif name == "gpt2_from_vectors":
        from . import gpt2 as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
