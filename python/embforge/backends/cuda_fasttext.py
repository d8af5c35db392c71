"""The CUDA backend's FastText launch loops (``_cuda.fasttext_*``).

The functions mirror ``_core``'s FastText entry points and cuda_launch's
word2vec loop: an epoch is a series of launches over ranges of stream
positions, with progress published and ``stop()`` honoured between them;
only the loss and two counters come back. The subword lists (CSR offsets and
ids from ``_core.fasttext_subwords``, built once on the host) are uploaded
once and cached with the corpus and the sampling tables (device_arrays), and
checked on the device once (cuda_checks), as the corpus is.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _native
from .._layout import SPARE_ROWS
from .cuda_checks import check_corpus
from .cuda_launch import stream_on_device
from .device_arrays import array_module, check_array as _check, device_index as _device_index, to_device

__all__ = ["allocate_fasttext", "train_fasttext_epoch", "fasttext_word_vectors"]

# Stream positions per launch: FastText's windows cost ~20x word2vec's (every
# input word is a bag of ~20 rows), so launches cover fewer positions than
# word2vec's for the same live progress bar and prompt stop().
FASTTEXT_CHUNK_IDS = 1 << 20


def _device_name(device: Any) -> str:
    return str(_native.resolve_device(device if device is not None else "cuda"))


def _launch(cuda: Any, arrays: Any, device: str, **knobs: int) -> Any:
    return cuda.Launch(device=_device_index(device), stream=arrays.stream(device), **knobs)


def allocate_fasttext(vocab_size: int, bucket: int, dim: int, seed: int, scale: float,
                      device: Any = "cuda", spare_rows: int = SPARE_ROWS,
                      initial: Optional[tuple[Any, Any]] = None) -> tuple[Any, Any, Any]:
    """``(input, output, storage)`` on the device: input [vocab + bucket, dim]
    initialised exactly as the CPU backend does (word2vec's init times
    `scale`), or copied from `initial` (host arrays (input, output)); output
    [vocab, dim] zeros; storage [vocab + spare_rows, dim] zeros for the
    composed word vectors."""
    device = _device_name(device)
    arrays, cuda = array_module(), _native.cuda_module()
    rows = int(vocab_size) + int(bucket)
    storage = arrays.zeros((int(vocab_size) + int(spare_rows), int(dim)), "float32", device)
    if initial is not None:
        host_input, host_output = (np.ascontiguousarray(a, dtype=np.float32) for a in initial)
        if host_input.shape != (rows, dim) or host_output.shape != (vocab_size, dim):
            raise ValueError(f"initial arrays have shapes {host_input.shape} and {host_output.shape}, "
                             f"expected {(rows, dim)} and {(vocab_size, dim)}")
        return arrays.upload(host_input, device), arrays.upload(host_output, device), storage
    input = arrays.empty((rows, int(dim)), "float32", device)
    output = arrays.zeros((int(vocab_size), int(dim)), "float32", device)
    cuda.fasttext_init_input(arrays.ptr(input), rows, int(dim), int(seed), float(scale),
                             _launch(cuda, arrays, device))
    return input, output, storage


def _input_shape(arrays: Any, input: Any, bucket: int) -> tuple[str, int, int]:
    """(device, vocabulary size, dim) of an input matrix [vocab + bucket, dim]
    on the device, checked."""
    if not arrays.is_device_array(input):
        raise ValueError("input must be a device array (see allocate_fasttext)")
    device = str(arrays.device(input))
    rows, dim = int(input.shape[0]), int(input.shape[1])
    vocab = rows - int(bucket)
    if int(bucket) < 1 or vocab < 1:
        raise ValueError(f"input has {rows} rows: not vocabulary + bucket={bucket}")
    _check(arrays, input, "input", "float32", (rows, dim), device)
    return device, vocab, dim


def _subwords_on(arrays: Any, device: str, offsets: Any, ids: Any, vocab: int, rows: int) -> tuple[Any, Any]:
    """The subword lists on the device, checked once: offsets [vocab + 1]
    from 0 to len(ids) without decreasing, every id a row of the input."""
    offsets_d = to_device(offsets, device, "int64")
    ids_d = to_device(ids, device, "int32")
    _check(arrays, offsets_d, "subword_offsets", "int64", (vocab + 1,), device)
    _check(arrays, ids_d, "subword_ids", "int32", (int(ids_d.shape[0]),), device)
    try:
        check_corpus(arrays, ids_d, offsets_d, rows)
    except ValueError as error:  # the corpus check's words, about the subword lists
        raise ValueError(f"subword lists: {str(error).replace('in the corpus ', '')}") from None
    return offsets_d, ids_d


def train_fasttext_epoch(ids: Any, offsets: Any, input: Any, output: Any, subword_offsets: Any,
                         subword_ids: Any, keep_threshold: Any, noise_keep: Any, noise_alias: Any, *,
                         bucket: int, skip_gram: bool, window: int, negative: int,
                         shrink_windows: bool, alpha_start: float, alpha_end: float, seed: int,
                         epoch: int, min_n: int = 3, max_n: int = 6, progress: Any = None,
                         chunk_ids: Optional[int] = None, warps_per_block: int = 0,
                         span: int = 0) -> dict[str, Any]:
    """One epoch on the GPU; the arguments and result of ``_core.train_fasttext_epoch``.

    `input` [vocab + bucket, dim] and `output` [vocab, dim] are device
    arrays; the corpus, the subword lists and the tables may be numpy
    (uploaded once, cached) or device arrays. `warps_per_block` and `span`
    tune the kernel (0: defaults). min_n/max_n only travel in the parameter
    struct: the n-grams are already in the subword lists.
    """
    arrays, cuda = array_module(), _native.cuda_module()
    device, vocab, dim = _input_shape(arrays, input, bucket)
    rows = vocab + int(bucket)
    _check(arrays, output, "output", "float32", (vocab, dim), device)
    ids_d, offsets_d, tables = stream_on_device(arrays, device, ids, offsets,
                                                (keep_threshold, noise_keep, noise_alias), vocab)
    n_ids, n_sentences = int(ids_d.shape[0]), int(offsets_d.shape[0]) - 1
    sub_offsets, sub_ids = _subwords_on(arrays, device, subword_offsets, subword_ids, vocab, rows)

    loss = arrays.zeros((1,), "float64", device)
    counts = arrays.zeros((2,), "int64", device)  # loss terms, words trained
    params = _native.core.FastTextParams(
        vector_size=dim, skip_gram=bool(skip_gram), window=int(window), negative=int(negative),
        shrink_windows=bool(shrink_windows), alpha_start=float(alpha_start),
        alpha_end=float(alpha_end), seed=int(seed), epoch=int(epoch), min_n=int(min_n),
        max_n=int(max_n), bucket=int(bucket))
    launch = _launch(cuda, arrays, device, warps_per_block=int(warps_per_block), span=int(span))
    if progress is not None:
        progress.reset(n_ids)
    chunk = int(chunk_ids or max(FASTTEXT_CHUNK_IDS, n_ids // 256))
    done, last_loss, last_terms, stopped = 0, 0.0, 0, False
    while done < n_ids:
        if progress is not None and progress.stop_requested:
            stopped = True
            break
        stop = min(n_ids, done + chunk)
        cuda.fasttext_train_range(
            arrays.ptr(ids_d), arrays.ptr(offsets_d), n_ids, n_sentences, arrays.ptr(input),
            arrays.ptr(output), vocab, int(bucket), arrays.ptr(sub_offsets), arrays.ptr(sub_ids),
            *(arrays.ptr(t) for t in tables), arrays.ptr(loss), arrays.ptr(counts), params, launch,
            begin=done, end=stop)
        (total_loss,), (terms, _) = arrays.scalars(loss), arrays.scalars(counts)  # waits
        rate = alpha_start + (alpha_end - alpha_start) * stop / max(1, n_ids)
        if progress is not None:
            progress.add(stop - done, float(total_loss - last_loss), int(terms - last_terms), float(rate))
        last_loss, last_terms, done = total_loss, terms, stop
    (total_loss,), (terms, words) = arrays.scalars(loss), arrays.scalars(counts)
    return {"loss": float(total_loss), "loss_terms": int(terms), "ids_processed": int(done),
            "words_trained": int(words), "stopped": stopped, "rng_end": 0}


def fasttext_word_vectors(input: Any, subword_offsets: Any, subword_ids: Any, bucket: int,
                          out: Any) -> None:
    """out[w] = the mean of word w's subword rows of `input`, on the device
    (`out`: a device array [vocab, dim], e.g. the first rows of the storage)."""
    arrays, cuda = array_module(), _native.cuda_module()
    device, vocab, dim = _input_shape(arrays, input, bucket)
    _check(arrays, out, "out", "float32", (vocab, dim), device)
    sub_offsets, sub_ids = _subwords_on(arrays, device, subword_offsets, subword_ids, vocab,
                                        vocab + int(bucket))
    cuda.fasttext_word_vectors(arrays.ptr(input), vocab, int(bucket), arrays.ptr(sub_offsets),
                               arrays.ptr(sub_ids), dim, arrays.ptr(out), _launch(cuda, arrays, device))
