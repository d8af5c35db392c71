"""The CUDA backend's launch loops: each long call as a series of kernel launches.

Long calls run as a series of launches over ranges of the work (stream
positions, pairs): between launches the Python loop waits for the GPU,
publishes progress to the trainer's ``_core.Progress`` (the bar the CPU path
uses) and honours ``stop()``. Only a few scalars (loss, counts) are read back.
Device memory comes from device_arrays (torch, else CuPy).

The functions mirror ``_core``'s: ``train_word2vec_epoch``,
``count_cooccurrences``, ``make_glove_pairs``, ``train_glove_epoch`` take the
same arguments and return the same dicts, plus device placement.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Optional, Sequence, Tuple

from .. import _native
from .._layout import SPARE_ROWS
from .cuda_checks import check_corpus
from .device_arrays import array_module, check_array as _check, device_index as _device_index, to_device

__all__ = ["allocate_word2vec", "train_word2vec_epoch", "stream_on_device", "count_cooccurrences",
           "allocate_glove", "make_glove_pairs", "train_glove_epoch", "COOCCUR_MAX_WORKSPACE"]

# Launch sizes: each launch is short enough for a live bar and a prompt stop(),
# long enough that the wait between launches is noise (~10-50 ms at target speed).
WORD2VEC_CHUNK_IDS = 1 << 22
GLOVE_CHUNK_PAIRS = 1 << 24
COOCCUR_MAX_WORKSPACE = 16 << 30


def _device_name(device: Any) -> str:
    return _native.resolve_device(device if device is not None else "cuda")


def _publish(progress: Any, work: Any, loss: Any, terms: Any, rate: Any) -> None:
    if progress is not None:
        progress.add(int(work), float(loss), int(terms), float(rate))


def _stop_requested(progress: Any) -> bool:
    return progress is not None and progress.stop_requested


# -------------------------------------------------------------------- word2vec
def stream_on_device(arrays: Any, device: str, ids: Any, offsets: Any, tables: Sequence[Any],
                     vocab: int) -> tuple[Any, Any, list[Any]]:
    """(ids, offsets, [keep_threshold, noise_keep, noise_alias]) on `device`
    (host arrays uploaded once and cached), their dtypes and shapes checked
    and the corpus checked against the vocabulary (once per corpus): what a
    word2vec-style launch loop reads."""
    n_ids, n_sentences = int(ids.shape[0]), int(offsets.shape[0]) - 1
    if n_sentences < 0:
        raise ValueError("offsets must hold at least one entry")
    ids_d = to_device(ids, device, "int32")
    offsets_d = to_device(offsets, device, "int64")
    tables_d = [to_device(t, device, "int32") for t in tables]
    for name, t in zip(("keep_threshold", "noise_keep", "noise_alias"), tables_d):
        _check(arrays, t, name, "int32", (vocab,), device)
    _check(arrays, ids_d, "ids", "int32", (n_ids,), device)
    _check(arrays, offsets_d, "offsets", "int64", (n_sentences + 1,), device)
    check_corpus(arrays, ids_d, offsets_d, vocab)
    return ids_d, offsets_d, tables_d


def allocate_word2vec(vocab_size: int, dim: int, seed: int, device: str = "cuda",
                      spare_rows: int = SPARE_ROWS) -> Tuple[Any, Any]:
    """(storage, syn1neg) on the device: storage is [vocab + spare_rows, dim]
    with rows [0, vocab) initialised exactly as the CPU's init_word2vec_input
    and the spare rows zero; syn1neg is [vocab, dim] zeros."""
    device = _device_name(device)
    arrays, cuda = array_module(), _native.cuda_module()
    storage = arrays.zeros((vocab_size + spare_rows, dim), "float32", device)
    output = arrays.zeros((vocab_size, dim), "float32", device)
    cuda.word2vec_init_input(arrays.ptr(storage), int(vocab_size), int(dim), int(seed),
                             cuda.Launch(device=_device_index(device), stream=arrays.stream(device)))
    return storage, output


def train_word2vec_epoch(ids: Any, offsets: Any, input: Any, output: Any, keep_threshold: Any,
                         noise_keep: Any, noise_alias: Any, *, skip_gram: bool, window: int,
                         negative: int, shrink_windows: bool, alpha_start: float, alpha_end: float,
                         seed: int, epoch: int, compute_loss: bool = True,
                         workers: Optional[int] = None, progress: Any = None,
                         chunk_ids: Optional[int] = None, warps_per_block: int = 0, span: int = 0,
                         batch: int = 0, begin: int = 0, end: Optional[int] = None,
                         variant: int = 0) -> Dict[str, Any]:
    """One epoch on the GPU; the arguments and result of ``_core.train_word2vec_epoch``.

    `input` and `output` are device arrays; the corpus and tables may be numpy
    (uploaded once, cached) or device arrays. `workers` is ignored.
    `warps_per_block`, `span` and `batch` tune the kernel (0: defaults);
    `variant`: speed variants not yet measured on a GPU (Launch.variant bits:
    4 pipelined loads, 8 register-capped kernels, 16 span queue; 0 the
    default kernels).
    `begin`/`end` train stream positions [begin, end) only (a slice of the
    epoch); the learning rate still runs from alpha_start at position 0 to
    alpha_end at the corpus's last position. `compute_loss=False` skips the
    loss in the kernel (loss and loss_terms come back 0); the weights are the same.
    """
    arrays, cuda = array_module(), _native.cuda_module()
    if not arrays.is_device_array(input):
        raise ValueError("input must be a device array (see allocate_word2vec)")
    device = arrays.device(input)
    vocab, dim = int(input.shape[0]), int(input.shape[1])
    _check(arrays, input, "input", "float32", (vocab, dim), device)
    _check(arrays, output, "output", "float32", (vocab, dim), device)
    ids_d, offsets_d, tables = stream_on_device(arrays, device, ids, offsets,
                                                (keep_threshold, noise_keep, noise_alias), vocab)
    n_ids, n_sentences = int(ids_d.shape[0]), int(offsets_d.shape[0]) - 1

    loss = arrays.zeros((1,), "float64", device)
    counts = arrays.zeros((3,), "int64", device)  # loss terms, words trained, the span queue's counter
    params = _native.core.Word2VecParams(
        vector_size=dim, skip_gram=bool(skip_gram), window=int(window), negative=int(negative),
        shrink_windows=bool(shrink_windows), alpha_start=float(alpha_start), alpha_end=float(alpha_end),
        seed=int(seed), epoch=int(epoch), compute_loss=bool(compute_loss))
    launch = cuda.Launch(device=_device_index(device), stream=arrays.stream(device),
                         warps_per_block=int(warps_per_block), span=int(span), batch=int(batch),
                         variant=int(variant))
    last = n_ids if end is None else int(end)
    if not 0 <= int(begin) <= last <= n_ids:
        raise ValueError(f"begin={begin}, end={end}: expected 0 <= begin <= end <= {n_ids}")
    if progress is not None:
        progress.reset(last - int(begin))
    chunk = int(chunk_ids or max(WORD2VEC_CHUNK_IDS, n_ids // 256))
    done, last_loss, last_terms, stopped = int(begin), 0.0, 0, False
    while done < last:
        if _stop_requested(progress):
            stopped = True
            break
        stop = min(last, done + chunk)
        cuda.word2vec_train_range(
            arrays.ptr(ids_d), arrays.ptr(offsets_d), n_ids, n_sentences, arrays.ptr(input),
            arrays.ptr(output), vocab, *(arrays.ptr(t) for t in tables), arrays.ptr(loss),
            arrays.ptr(counts), params, launch, begin=done, end=stop)
        (total_loss,), (terms, _, _) = arrays.scalars(loss), arrays.scalars(counts)  # waits
        rate = alpha_start + (alpha_end - alpha_start) * stop / max(1, n_ids)
        _publish(progress, stop - done, total_loss - last_loss, terms - last_terms, rate)
        last_loss, last_terms, done = total_loss, terms, stop
    (total_loss,), (terms, words, _) = arrays.scalars(loss), arrays.scalars(counts)
    # rng_end: the CPU's stream position for a next slice; the kernel's
    # randomness is keyed by stream position, so there is nothing to carry.
    return {"loss": float(total_loss), "loss_terms": int(terms), "ids_processed": int(done - begin),
            "words_trained": int(words), "stopped": stopped, "rng_end": 0}


# --------------------------------------------------------------- co-occurrence
def count_cooccurrences(ids: Any, offsets: Any, vocab_size: int, *, window: int,
                        symmetric: bool = True, distance_weighting: bool = True,
                        memory_bytes: Optional[int] = None, progress: Any = None,
                        device: str = "cuda", workers: Optional[int] = None, variant: int = 0,
                        **_ignored: Any) -> Tuple[Any, Any, Any, Dict[str, Any]]:
    """The co-occurrence matrix on the GPU: ``(rows, cols, values, stats)`` as
    ``_core.count_cooccurrences`` returns them (COO sorted by row, col; equal
    to the CPU's bit for bit), as device arrays. `memory_bytes` is the device
    workspace (default: half the free memory, at most 16 GiB); a matrix that
    outgrows it raises RuntimeError (count on the CPU, which spills to disk).
    `variant`: speed variants not yet measured on a GPU (Launch.variant bits:
    32 narrow keys, 64 compacted pairs; 0 the default), the same matrix.
    """
    device = _device_name(device)
    arrays, cuda = array_module(), _native.cuda_module()
    n_ids, n_sentences = int(ids.shape[0]), int(offsets.shape[0]) - 1
    ids_d = to_device(ids, device, "int32")
    offsets_d = to_device(offsets, device, "int64")
    _check(arrays, ids_d, "ids", "int32", (n_ids,), device)
    _check(arrays, offsets_d, "offsets", "int64", (n_sentences + 1,), device)
    check_corpus(arrays, ids_d, offsets_d, int(vocab_size))
    if memory_bytes is None:
        memory_bytes = min(COOCCUR_MAX_WORKSPACE, arrays.free_bytes(device) // 2)
    launch = cuda.Launch(device=_device_index(device), stream=arrays.stream(device), variant=int(variant))
    params = _native.core.CooccurParams(window=int(window), symmetric=bool(symmetric),
                                        distance_weighting=bool(distance_weighting))
    workspace = arrays.empty((int(memory_bytes),), "uint8", device)
    started = time.perf_counter()
    result = cuda.cooccur_count(arrays.ptr(ids_d), arrays.ptr(offsets_d), n_ids, n_sentences,
                                int(vocab_size), params, arrays.ptr(workspace), int(memory_bytes),
                                launch, progress=progress)
    counted = time.perf_counter()
    nnz = result["nnz"]
    rows = arrays.empty((nnz,), "int32", device)
    cols = arrays.empty((nnz,), "int32", device)
    values = arrays.empty((nnz,), "float32", device)
    if nnz:
        cuda.cooccur_export(result["keys"], result["values"], nnz, int(vocab_size),
                            result["fraction_bits"], arrays.ptr(rows), arrays.ptr(cols),
                            arrays.ptr(values), launch)
        arrays.synchronize(device)  # the workspace must outlive the export
    del workspace
    stats = {"ids_processed": 0 if result["stopped"] else n_ids,
             "pair_updates": result["pair_updates"], "dense_updates": 0, "max_product": 0,
             "dense_bytes": 0, "buffer_bytes": int(memory_bytes), "runs": result["chunks"],
             "spilled_runs": 0, "spilled_bytes": 0, "merge_passes": 0,
             "planned_peak_bytes": int(memory_bytes) + 12 * nnz,
             "fraction_bits": result["fraction_bits"], "stopped": result["stopped"],
             "count_seconds": counted - started, "merge_seconds": time.perf_counter() - counted,
             "chunks": result["chunks"], "capacity": result["capacity"]}
    return rows, cols, values, stats


# ----------------------------------------------------------------------- GloVe
def allocate_glove(vocab_size: int, dim: int, seed: int, device: str = "cuda") -> Tuple[Any, Any]:
    """(weights, gradsq) [2 * vocab, dim + 1] on the device, initialised
    exactly as the CPU's init_glove."""
    device = _device_name(device)
    arrays, cuda = array_module(), _native.cuda_module()
    weights = arrays.empty((2 * vocab_size, dim + 1), "float32", device)
    gradsq = arrays.empty((2 * vocab_size, dim + 1), "float32", device)
    cuda.glove_init(arrays.ptr(weights), arrays.ptr(gradsq), 2 * int(vocab_size), int(dim),
                    int(seed), cuda.Launch(device=_device_index(device), stream=arrays.stream(device)))
    return weights, gradsq


def make_glove_pairs(rows: Any, cols: Any, values: Any, vocab_size: int, x_max: float, alpha: float,
                     device: str = "cuda", workers: Optional[int] = None) -> Any:
    """Pair records [n, 4] (int32 storage of glove::Pair) on the device, as
    ``_core.make_glove_pairs``; ValueError when an entry is invalid."""
    device = _device_name(device)
    arrays, cuda = array_module(), _native.cuda_module()
    n = int(rows.shape[0])
    r, c, v = (to_device(rows, device, "int32"), to_device(cols, device, "int32"),
               to_device(values, device, "float32"))
    for name, a, dtype in (("rows", r, "int32"), ("cols", c, "int32"), ("values", v, "float32")):
        _check(arrays, a, name, dtype, (n,), device)
    pairs = arrays.empty((n, 4), "int32", device)
    invalid = arrays.zeros((1,), "int64", device)
    cuda.glove_make_pairs(arrays.ptr(r), arrays.ptr(c), arrays.ptr(v), n, int(vocab_size),
                          float(x_max), float(alpha), arrays.ptr(pairs), arrays.ptr(invalid),
                          cuda.Launch(device=_device_index(device), stream=arrays.stream(device)))
    (bad,) = arrays.scalars(invalid)
    if bad:
        raise ValueError(f"{bad} co-occurrence entries have ids out of range for a vocabulary of "
                         f"{vocab_size} words or values that are not finite and > 0")
    return pairs


def train_glove_epoch(pairs: Any, order: Any, weights: Any, gradsq: Any, *, learning_rate: float,
                      grad_clip: float, seed: int = 1, epoch: int = 0,
                      workers: Optional[int] = None, progress: Any = None,
                      chunk_pairs: Optional[int] = None, warps_per_block: int = 0, variant: int = 0,
                      begin: int = 0, end: Optional[int] = None) -> Dict[str, Any]:
    """One GloVe epoch on the GPU; the result of ``_core.train_glove_epoch``.

    `order=None` visits the pairs in a keyed permutation of (seed, epoch)
    computed on the device; a given order array is used as is. `begin` and
    `end` (default: all n pairs): the positions of that order to visit, so
    that an epoch may go in parts, one permutation across them. `variant`:
    speed variants not yet measured on a GPU (Launch.variant bits: 1 staged
    update, 2 tight pair order; 0 the default kernel).
    """
    arrays, cuda = array_module(), _native.cuda_module()
    if not arrays.is_device_array(weights):
        raise ValueError("weights must be a device array (see allocate_glove)")
    device = arrays.device(weights)
    rows2, stride = int(weights.shape[0]), int(weights.shape[1])
    if rows2 % 2 or stride < 2:
        raise ValueError("weights must have shape [2 * vocab, dim + 1]")
    _check(arrays, weights, "weights", "float32", (rows2, stride), device)
    _check(arrays, gradsq, "gradsq", "float32", (rows2, stride), device)
    n = int(pairs.shape[0])
    pairs_d = to_device(pairs, device, "int32")
    _check(arrays, pairs_d, "pairs", "int32", (n, 4), device)
    order_ptr = 0
    if order is not None:
        order_d = to_device(order, device, "int32")
        _check(arrays, order_d, "order", "int32", (n,), device)
        order_ptr = arrays.ptr(order_d)
    end = n if end is None else int(end)
    if not 0 <= int(begin) <= end <= n:
        raise ValueError(f"begin={begin}, end={end}: expected 0 <= begin <= end <= {n}")
    cost = arrays.zeros((1,), "float64", device)
    counts = arrays.zeros((2,), "int64", device)
    params = _native.core.GloveParams(vector_size=stride - 1, learning_rate=float(learning_rate),
                                      grad_clip=float(grad_clip), seed=int(seed), epoch=int(epoch))
    launch = cuda.Launch(device=_device_index(device), stream=arrays.stream(device),
                         warps_per_block=int(warps_per_block), variant=int(variant))
    if progress is not None:
        progress.reset(end - int(begin))
    chunk = int(chunk_pairs or max(GLOVE_CHUNK_PAIRS, n // 64))
    done, last_cost, stopped = int(begin), 0.0, False
    while done < end:
        if _stop_requested(progress):
            stopped = True
            break
        stop = min(end, done + chunk)
        cuda.glove_train_range(arrays.ptr(pairs_d), order_ptr, n, arrays.ptr(weights),
                               arrays.ptr(gradsq), rows2 // 2, arrays.ptr(cost), arrays.ptr(counts),
                               params, launch, begin=done, end=stop)
        (total,) = arrays.scalars(cost)  # waits
        _publish(progress, stop - done, total - last_cost, stop - done, learning_rate)
        last_cost, done = total, stop
    (total,), (visited, skipped) = arrays.scalars(cost), arrays.scalars(counts)
    return {"cost": float(total), "pairs": int(visited), "skipped": int(skipped), "stopped": stopped}
