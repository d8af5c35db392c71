"""embforge: fast word-embedding training on CPU threads and CUDA GPUs.

    import embforge
    model = embforge.Word2Vec(sg=1, workers=2).fit("corpus.txt.gz")
    model.wv.most_similar("linux")

The public names load on first use (`embforge._api` holds them): importing the
package alone loads neither numpy nor the native modules, so the command line
can set up the process (BLAS threads, see `embforge.cli`) before they load.
"""
import sys as _sys
import types as _types
import typing as _t

__version__ = "0.1.0"

__all__ = ["Cooccurrence", "EncodedCorpus", "FastText", "FastTextKeyedVectors", "GloVe",
           "KeyedVectors", "Tokenizer", "Vocabulary", "Word2Vec",
           "cooccurrence", "cooccurrence_to_glove", "cuda_available", "cuda_unavailable_reason",
           "device_info", "encode",
           "load_facebook_model", "load_facebook_vectors", "save_facebook_model", "simd_level"]

if _t.TYPE_CHECKING:
    from ._api import (Cooccurrence, EncodedCorpus, FastText, FastTextKeyedVectors, GloVe,
                       KeyedVectors, Tokenizer, Vocabulary, Word2Vec, cooccurrence,
                       cooccurrence_to_glove, cuda_available, cuda_unavailable_reason,
                       device_info, encode, load_facebook_model, load_facebook_vectors,
                       save_facebook_model, simd_level)


if not _t.TYPE_CHECKING:  # type checkers see the names imported above, and no others
    def __getattr__(name: str) -> _t.Any:
        # Only the listed names load the library: any other is not there yet
        # (the import system asks for a submodule's name before importing it,
        # as `from . import evaluation` does), and a submodule is reached as
        # in any package, `import embforge.fasttext`.
        if name not in __all__:
            raise AttributeError(f"module 'embforge' has no attribute {name!r}")
        from . import _api
        globals().update({n: getattr(_api, n) for n in __all__})
        return globals()[name]


def __dir__() -> _t.List[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """The package's module type: `embforge.cooccurrence` names the function,
    not the submodule of the same name. Importing a submodule sets the
    package's attribute of that name to the module; when the package loaded
    its names at once, its own import ran last and the function won. Loaded
    lazily, the submodule may come first (a caller imports it directly)."""

    def __setattr__(self, name: str, value: _t.Any) -> None:
        if name == "cooccurrence" and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
