"""The public names of the `embforge` package, which loads them from here on
first use (see its docstring for why)."""
from ._native import cuda_available, cuda_unavailable_reason, device_info
from .cooccurrence import Cooccurrence, cooccurrence
from .cooccurrence_count import cooccurrence_to_glove
from .corpus import EncodedCorpus, encode
from .fasttext import FastText, load_facebook_model, load_facebook_vectors, save_facebook_model
from .fasttext_kv import FastTextKeyedVectors
from .glove import GloVe
from .keyedvectors import KeyedVectors
from .tokenizer import Tokenizer
from .vocab import Vocabulary
from .word2vec import Word2Vec

__all__ = ["Cooccurrence", "EncodedCorpus", "FastText", "FastTextKeyedVectors", "GloVe",
           "KeyedVectors", "Tokenizer", "Vocabulary", "Word2Vec",
           "cooccurrence", "cooccurrence_to_glove", "cuda_available", "cuda_unavailable_reason",
           "device_info", "encode",
           "load_facebook_model", "load_facebook_vectors", "save_facebook_model", "simd_level"]


def simd_level() -> str:
    """The SIMD code path the CPU kernels picked on this machine."""
    from ._native import core
    return core.simd_level()
