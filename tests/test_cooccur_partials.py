"""Co-occurrence counts in parts: fixed-point output (CooccurParams.fraction_bits,
fixed_point_output), the exact merge of partial counts and the conversion to
float32, checked against a whole-corpus count and numpy oracles."""
import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._native import core

TINY = 1 << 16  # the smallest budget: runs spill


def count(ids, offsets, vocab, window, symmetric=True, weighting=True, workers=1, memory=1 << 30,
          max_product=-1, **kw):
    with tempfile.TemporaryDirectory() as spill:
        params = core.CooccurParams(window=window, symmetric=symmetric, distance_weighting=weighting,
                                    workers=workers, memory_bytes=memory, temp_dir=spill,
                                    max_product=max_product, **kw)
        out = core.count_cooccurrences(np.asarray(ids, np.uint32), np.asarray(offsets, np.int64),
                                       vocab, params)
        assert os.listdir(spill) == []
    return out


def sentences_slice(ids, offsets, first, end):
    """Sentences [first, end) as their own encoded corpus."""
    ids, offsets = np.asarray(ids, np.uint32), np.asarray(offsets, np.int64)
    return ids[offsets[first]:offsets[end]], offsets[first:end + 1] - offsets[first]


def oracle_merge(parts):
    """np.unique over the (row, col) keys and integer sums, zero sums dropped."""
    rows = np.concatenate([p[0] for p in parts]).astype(np.int64)
    cols = np.concatenate([p[1] for p in parts]).astype(np.int64)
    values = np.concatenate([p[2] for p in parts]).astype(np.int64)
    keys, inverse = np.unique((rows << 32) | cols, return_inverse=True)
    sums = np.zeros(len(keys), np.int64)
    np.add.at(sums, inverse, values)
    keep = sums != 0
    return (keys[keep] >> 32).astype(np.int32), (keys[keep] & 0xFFFFFFFF).astype(np.int32), sums[keep]


def oracle_to_float(fixed, bits):
    """int64 -> float64 (rounded), times 2^-bits (exact), -> float32 (rounded)."""
    return (fixed.astype(np.float64) * 2.0 ** -bits).astype(np.float32)


@st.composite
def split_streams(draw):
    vocab = draw(st.integers(1, 30))
    ids = draw(st.lists(st.integers(0, vocab - 1), max_size=400))
    cuts = sorted(draw(st.lists(st.integers(0, len(ids)), max_size=15)))
    offsets = [0] + cuts + [len(ids)]
    n_sentences = len(offsets) - 1
    splits = sorted(draw(st.lists(st.integers(0, n_sentences), max_size=3)))
    return vocab, ids, offsets, [0] + splits + [n_sentences]


@given(stream=split_streams(), window=st.integers(1, 8), symmetric=st.booleans(),
       weighting=st.booleans(), workers=st.integers(1, 2),
       memory=st.sampled_from([TINY, 1 << 30]), max_product=st.sampled_from([-1, 0, 7]),
       merge_workers=st.integers(1, 3))
def test_merged_parts_equal_the_whole_count_bit_for_bit(stream, window, symmetric, weighting, workers,
                                                       memory, max_product, merge_workers):
    vocab, ids, offsets, splits = stream
    rows, cols, values, stats = count(ids, offsets, vocab, window, symmetric, weighting)
    bits = core.cooccurrence_fraction_bits(len(ids), window, symmetric, weighting)
    assert bits == stats["fraction_bits"]
    parts = []
    for first, end in zip(splits, splits[1:]):
        part_ids, part_offsets = sentences_slice(ids, offsets, first, end)
        r, c, fixed, s = count(part_ids, part_offsets, vocab, window, symmetric, weighting, workers,
                               memory, max_product, fraction_bits=bits, fixed_point_output=True)
        assert fixed.dtype == np.int64 and s["fraction_bits"] == bits and np.all(fixed > 0)
        parts.append((r, c, fixed))
    m_rows, m_cols, m_fixed = core.merge_cooccurrence_partials(parts, workers=merge_workers)
    o_rows, o_cols, o_fixed = oracle_merge(parts)
    assert np.array_equal(m_rows, o_rows) and np.array_equal(m_cols, o_cols)
    assert np.array_equal(m_fixed, o_fixed)
    merged = core.cooccurrence_fixed_to_float(m_fixed, bits)
    assert np.array_equal(m_rows, rows) and np.array_equal(m_cols, cols)
    assert merged.dtype == np.float32 and np.array_equal(merged, values)
    # The whole corpus counted in fixed point is the merged sums themselves.
    _, _, whole_fixed, _ = count(ids, offsets, vocab, window, symmetric, weighting,
                                 fixed_point_output=True)
    assert np.array_equal(whole_fixed, m_fixed)


def test_fixed_output_is_what_the_float_output_rounds():
    rng = np.random.default_rng(5)
    ids = (rng.zipf(1.3, 50_000).clip(1, 400) - 1).astype(np.uint32)
    offsets = np.arange(0, len(ids) + 1, 25, dtype=np.int64)
    for workers, memory in [(1, 1 << 30), (2, TINY)]:
        rows, cols, values, stats = count(ids, offsets, 400, 10, workers=workers, memory=memory,
                                          max_product=0 if memory == TINY else -1)
        f_rows, f_cols, fixed, f_stats = count(ids, offsets, 400, 10, workers=workers, memory=memory,
                                               max_product=0 if memory == TINY else -1,
                                               fixed_point_output=True)
        assert f_stats["fraction_bits"] == stats["fraction_bits"] == 32
        assert np.array_equal(rows, f_rows) and np.array_equal(cols, f_cols)
        assert np.array_equal(core.cooccurrence_fixed_to_float(fixed, 32), values)
        assert np.array_equal(oracle_to_float(fixed, 32), values)
        assert (f_stats["spilled_runs"] > 0) == (memory == TINY)


@pytest.mark.parametrize("workers, memory, to_files", [(1, 1 << 30, True), (2, 1 << 30, True),
                                                      (2, TINY, False)])
def test_fixed_output_goes_to_result_files_as_it_is_held(workers, memory, to_files):
    """A part of a distributed count past its budget (or asked to) leaves its
    int64 sums in the threads' result files, the rows' ranges in order."""
    rng = np.random.default_rng(9)
    ids = (rng.zipf(1.3, 40_000).clip(1, 300) - 1).astype(np.uint32)
    offsets = np.arange(0, len(ids) + 1, 20, dtype=np.int64)
    rows, cols, fixed, _ = count(ids, offsets, 300, 8, workers=workers, fixed_point_output=True)
    with tempfile.TemporaryDirectory() as result_dir:
        f_rows, f_cols, f_fixed, stats = count(ids, offsets, 300, 8, workers=workers, memory=memory,
                                               fixed_point_output=True, result_dir=result_dir,
                                               result_to_files=to_files)
        assert len(f_rows) == len(f_cols) == len(f_fixed) == 0 and f_fixed.dtype == np.int64
        counts = stats["result_file_counts"]
        assert len(counts) == workers and sum(counts) == stats["nnz"] == len(rows)
        read = {name: np.concatenate([np.fromfile(f"{result_dir}/result-{t}.{name}", dtype)
                                      for t in range(workers)])
                for name, dtype in (("rows", np.int32), ("cols", np.int32), ("values", np.int64))}
    assert np.array_equal(read["rows"], rows) and np.array_equal(read["cols"], cols)
    assert np.array_equal(read["values"], fixed)


def test_forced_fraction_bits_are_used():
    ids, offsets = np.array([0, 1, 2, 0, 1], np.uint32), np.array([0, 5], np.int64)
    _, _, fixed, stats = count(ids, offsets, 3, 3, fraction_bits=4, fixed_point_output=True)
    assert stats["fraction_bits"] == 4
    rows, cols, values, _ = count(ids, offsets, 3, 3, fraction_bits=4)
    assert np.array_equal(values, oracle_to_float(fixed, 4))
    expected = {}  # sixteenths: w(d) = 1/d rounded to the 2^-4 grid (1/3 -> 5/16)
    for j in range(5):
        for k in range(max(0, j - 3), j):
            w = int(np.floor(16 / (j - k) + 0.5))
            for key in ((ids[k], ids[j]), (ids[j], ids[k])):
                expected[key] = expected.get(key, 0) + w
    keys = sorted(expected)
    assert list(zip(rows.tolist(), cols.tolist())) == [(int(a), int(b)) for a, b in keys]
    assert fixed.tolist() == [expected[k] for k in keys]


def test_merge_against_numpy_oracle_with_threads_and_duplicates():
    rng = np.random.default_rng(8)
    parts = []
    for size in (150_000, 90_000, 0, 40_000):
        rows = rng.integers(0, 3000, size).astype(np.int32)
        cols = rng.integers(0, 3000, size).astype(np.int32)
        order = np.lexsort((cols, rows))  # sorted by (row, col); duplicates kept
        values = rng.integers(0, 2**40, size).astype(np.int64)
        parts.append((rows[order], cols[order], values))
    expected = oracle_merge(parts)
    for workers in (1, 3, 8):
        got = core.merge_cooccurrence_partials(parts, workers=workers)
        for a, b in zip(got, expected):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    empty = core.merge_cooccurrence_partials([])
    assert [len(a) for a in empty] == [0, 0, 0]


def test_fixed_to_float_rounds_like_numpy():
    rng = np.random.default_rng(9)
    fixed = np.concatenate([rng.integers(0, 2**62, 10_000), rng.integers(0, 2**20, 10_000),
                            [0, 1, 2**53 + 1, 2**63 - 1]]).astype(np.int64)
    for bits in (0, 1, 17, 32, 62):
        got = core.cooccurrence_fixed_to_float(fixed, bits)
        assert np.array_equal(got, oracle_to_float(fixed, bits))


def test_fraction_bits_agree_with_the_automatic_choice():
    assert core.cooccurrence_fraction_bits(10**6, 10, True, True) == 32
    assert core.cooccurrence_fraction_bits(10**6, 10, True, False) == 0
    assert core.cooccurrence_fraction_bits(10**15, 15, True, True) < 32  # room for huge corpora
    big = core.cooccurrence_fraction_bits(10**15, 15, True, True)
    assert core.cooccurrence_fraction_bits(10**16, 15, True, True) <= big


def test_bad_input_is_refused():
    ids, offsets = np.array([0, 1, 2, 0, 1], np.uint32), np.array([0, 5], np.int64)
    with pytest.raises(ValueError, match=r"fraction_bits must be -1 \(automatic\) or in \[0, 62\], got 63"):
        count(ids, offsets, 3, 3, fraction_bits=63)
    with pytest.raises(ValueError, match="fraction_bits=62 can overflow a count of 5 ids"):
        count(ids, offsets, 3, 3, fraction_bits=62)
    good = (np.array([0, 1], np.int32), np.array([1, 0], np.int32), np.array([3, 4], np.int64))
    with pytest.raises(ValueError, match=r"part 1 is not sorted by \(row, col\) at entry 1"):
        core.merge_cooccurrence_partials([good, (good[0][::-1].copy(), good[1][::-1].copy(), good[2])])
    with pytest.raises(ValueError, match="part 0 entry 1 has value -4"):
        core.merge_cooccurrence_partials([(good[0], good[1], np.array([3, -4], np.int64))])
    with pytest.raises(ValueError, match="part 0 entry 0 has a negative id"):
        core.merge_cooccurrence_partials([(np.array([-1], np.int32), good[1][:1], good[2][:1])])
    with pytest.raises(ValueError, match="part 0 values must have dtype int64"):
        core.merge_cooccurrence_partials([(good[0], good[1], good[2].astype(np.float32))])
    with pytest.raises(ValueError, match="part 0 cols has shape"):
        core.merge_cooccurrence_partials([(good[0], good[1][:1], good[2])])
    with pytest.raises(ValueError, match=r"part 0 must be \(rows, cols, values\)"):
        core.merge_cooccurrence_partials([good[:2]])
    half = np.array([2**62, 2**62], np.int64)
    with pytest.raises(ValueError, match=r"sum at \(0, 1\) overflows int64"):
        core.merge_cooccurrence_partials([(good[0], good[1], half)] * 2)
    with pytest.raises(ValueError, match=r"fixed\[1\] = -1 is negative"):
        core.cooccurrence_fixed_to_float(np.array([1, -1], np.int64), 32)
    with pytest.raises(ValueError, match=r"fraction_bits must be in \[0, 62\], got 70"):
        core.cooccurrence_fixed_to_float(np.array([1], np.int64), 70)
    with pytest.raises(ValueError, match="n_ids must be >= 0, got -1"):
        core.cooccurrence_fraction_bits(-1, 10, True, True)


def test_new_fields_default_to_todays_count():
    p = core.CooccurParams()
    assert (p.fraction_bits, p.fixed_point_output) == (-1, False)
    p = core.CooccurParams(fraction_bits=7, fixed_point_output=True)
    rebuilt = eval(repr(p), {"CooccurParams": core.CooccurParams})
    assert (rebuilt.fraction_bits, rebuilt.fixed_point_output) == (7, True)
