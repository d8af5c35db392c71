"""Checks of the encoded corpus on the GPU path, before any kernel indexes it.

The kernels index rows by id and sentences by offset without bounds checks.
The CPU path checks its host arrays in C++ on every call (``corpus_view`` in
csrc/python/bindings.h); here the arrays are in device memory, so the checks
run there, as the array library's reductions (a min/max over the ids, a
comparison of neighbouring offsets), and once per corpus: a corpus that
passed is remembered for as long as its device arrays live (the launch loops
call this once per epoch). The messages are the CPU path's.
"""
from __future__ import annotations

import weakref
from typing import Any, Dict, Optional, Tuple

__all__ = ["check_corpus"]

# (id(ids), id(offsets), vocab_size) of corpora that passed -> weak references
# to the two arrays, so a new array reusing a freed one's id is checked again.
_passed: Dict[Tuple[int, int, Optional[int]], Tuple["weakref.ref[Any]", "weakref.ref[Any]"]] = {}


def check_corpus(arrays: Any, ids: Any, offsets: Any, vocab_size: Optional[int]) -> None:
    """ValueError unless `offsets` (int64) runs from 0 to len(ids) without
    decreasing and, given `vocab_size`, every id (int32 storage of uint32)
    is below it. `arrays` is device_arrays.array_module()."""
    key = (id(ids), id(offsets), vocab_size)
    hit = _passed.get(key)
    if hit is not None and hit[0]() is ids and hit[1]() is offsets:
        return
    n_ids, n_sentences = int(ids.shape[0]), int(offsets.shape[0]) - 1
    if n_sentences < 0:
        raise ValueError("offsets must hold at least one entry")
    first, last = arrays.scalars(offsets[0:1])[0], arrays.scalars(offsets[n_sentences:])[0]
    if first != 0 or last != n_ids:
        raise ValueError(f"offsets must run from 0 to len(ids)={n_ids}, got offsets[0]={first} "
                         f"and offsets[-1]={last}")
    if n_sentences > 1:
        s = arrays.first_true(offsets[1:] < offsets[:-1])
        if s >= 0:
            a, b = arrays.scalars(offsets[s:s + 2])
            raise ValueError(f"offsets must not decrease (at {s}: {a} then {b})")
    if vocab_size is not None and n_ids:
        low, high = arrays.extrema(ids)
        # int32 storage of uint32 ids: a negative value is an id >= 2^31
        largest = high if low >= 0 else arrays.extrema(ids[ids < 0])[1] + (1 << 32)
        if largest >= vocab_size:
            raise ValueError(f"id {largest} in the corpus is out of range for a vocabulary of "
                             f"{vocab_size} words")
    try:
        def forget(_: object, key: Tuple[int, int, Optional[int]] = key) -> None:
            _passed.pop(key, None)

        refs = (weakref.ref(ids, forget), weakref.ref(offsets))
    except TypeError:  # not weak-referenceable: checked again next time
        return
    _passed[key] = refs
