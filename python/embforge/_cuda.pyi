"""Types of the native CUDA module (csrc/python/cuda/*.cpp, pybind11), for type checkers.

Device arrays travel as raw device pointers (int); the Python side (backends/) owns them.
tests/test_typing.py checks that every public name of the built module appears here.
"""

from typing import Any, SupportsFloat, SupportsIndex, SupportsInt

from . import _core

_Int = SupportsInt | SupportsIndex
_Float = SupportsFloat | SupportsIndex


class Launch:
    batch: int
    device: int
    span: int
    stream: int
    variant: int
    warps_per_block: int
    def __init__(self, *, device: _Int = ..., stream: _Int = ..., warps_per_block: _Int = ...,
                 span: _Int = ..., batch: _Int = ..., variant: _Int = ...) -> None: ...

def cooccur_capacity(workspace_bytes: _Int, vocab_size: _Int, device: _Int) -> int: ...
def cooccur_count(ids: _Int, offsets: _Int, n_ids: _Int, n_sentences: _Int, vocab_size: _Int,
                  params: _core.CooccurParams, workspace: _Int, workspace_bytes: _Int,
                  launch: Launch, *, progress: _core.Progress | None = ...) -> dict[str, Any]: ...
def cooccur_export(keys: _Int, values: _Int, nnz: _Int, vocab_size: _Int, fraction_bits: _Int,
                   rows: _Int, cols: _Int, out_values: _Int, launch: Launch) -> None: ...
def device_count() -> tuple[int, str]: ...
def device_info(index: _Int = ...) -> dict[str, Any]: ...
def fasttext_init_input(input: _Int, rows: _Int, dim: _Int, seed: _Int, scale: _Float,
                        launch: Launch) -> None: ...
def fasttext_train_range(ids: _Int, offsets: _Int, n_ids: _Int, n_sentences: _Int, input: _Int,
                         output: _Int, vocab_size: _Int, bucket: _Int, subword_offsets: _Int,
                         subword_ids: _Int, keep_threshold: _Int, noise_keep: _Int,
                         noise_alias: _Int, loss: _Int, counts: _Int,
                         params: _core.FastTextParams, launch: Launch, *, begin: _Int,
                         end: _Int) -> None: ...
def fasttext_word_vectors(input: _Int, vocab_size: _Int, bucket: _Int, subword_offsets: _Int,
                          subword_ids: _Int, dim: _Int, out: _Int, launch: Launch) -> None: ...
def glove_init(weights: _Int, gradsq: _Int, rows: _Int, dim: _Int, seed: _Int, launch: Launch
               ) -> None: ...
def glove_make_pairs(rows: _Int, cols: _Int, values: _Int, n: _Int, vocab_size: _Int,
                     x_max: _Float, alpha: _Float, pairs: _Int, invalid: _Int, launch: Launch
                     ) -> None: ...
def glove_train_range(pairs: _Int, order: _Int, n_pairs: _Int, weights: _Int, gradsq: _Int,
                      vocab_size: _Int, cost: _Int, counts: _Int, params: _core.GloveParams,
                      launch: Launch, *, begin: _Int, end: _Int) -> None: ...
def word2vec_init_input(input: _Int, rows: _Int, dim: _Int, seed: _Int, launch: Launch) -> None: ...
def word2vec_train_range(ids: _Int, offsets: _Int, n_ids: _Int, n_sentences: _Int, input: _Int,
                         output: _Int, vocab_size: _Int, keep_threshold: _Int, noise_keep: _Int,
                         noise_alias: _Int, loss: _Int, counts: _Int, params: _core.Word2VecParams,
                         launch: Launch, *, begin: _Int, end: _Int) -> None: ...
