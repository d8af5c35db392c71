"""The input rows' init (word2vec.c's uniform draw, one stream a row): the same
numbers on any number of threads, and the scale FastText applies rounded as
numpy's `input *= scale` rounds it (the CUDA twin reproduces that bit for bit)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from embforge import _native

core = _native.core


def oracle(rows, dim, seed, scale):
    """word2vec.c's draw per row: SplitMix64(seed, row) gives uniform floats
    (checked through the one-thread native call; this oracle checks the
    threading and the scale, not the generator)."""
    out = np.empty((rows, dim), dtype=np.float32)
    core.init_word2vec_input(out, seed)
    return out * np.float32(scale) if scale != 1.0 else out


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(0, 20_000), dim=st.integers(1, 33), seed=st.integers(0, 2**64 - 1),
       workers=st.integers(1, 5), scale=st.sampled_from([1.0, 0.5, 1.0 / 3.0, 1e-3]))
def test_threads_and_scale_give_the_same_numbers(rows, dim, seed, workers, scale):
    got = np.empty((rows, dim), dtype=np.float32)
    core.init_word2vec_input(got, seed, scale=scale, workers=workers)
    np.testing.assert_array_equal(got, oracle(rows, dim, seed, scale))


def test_rows_are_uniform_within_half_over_dim():
    out = np.empty((50_000, 8), dtype=np.float32)
    core.init_word2vec_input(out, 3, workers=2)
    assert out.min() >= -0.5 / 8 and out.max() < 0.5 / 8
    # a uniform draw: the mean within 4 standard errors of 0 (sd of U(-1/16, 1/16) / sqrt(n))
    assert abs(out.mean()) < 4 * (1 / 8) / np.sqrt(12 * out.size)
    assert len(np.unique(out[:, 0])) > 49_000  # rows are not copies of each other


def test_bad_workers_is_a_value_error():
    import pytest
    with pytest.raises(ValueError, match="workers"):
        core.init_word2vec_input(np.empty((2, 2), dtype=np.float32), 1, workers=0)
