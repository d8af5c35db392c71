"""all_finite and largest_magnitude on host arrays: checked in pieces (no
array-sized temporary), the same answer as numpy's whole-array check,
wherever a NaN or inf sits."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embforge.backends import arrays


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from([(0,), (7,), (3000, 1), (2500, 3), (40, 30, 5), (1, 5000)]),
       bad=st.sampled_from([None, np.nan, np.inf, -np.inf]), where=st.floats(0, 1),
       chunk=st.sampled_from([1, 7, 100, 1 << 20]), dtype=st.sampled_from([np.float32, np.float64]))
def test_the_same_answer_as_numpy_in_pieces(shape, bad, where, chunk, dtype):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    if bad is not None and a.size:
        a.reshape(-1)[int(where * (a.size - 1))] = bad
    view = a[::2]  # a strided view takes the same path
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "_FINITE_CHUNK", chunk)
        assert arrays.all_finite(a) == bool(np.isfinite(a).all())
        assert arrays.all_finite(view) == bool(np.isfinite(view).all())
        for array in (a, view):
            expected = float(np.abs(array).max()) if array.size else 0.0
            # NaN wins over everything (numpy's max propagates it); then inf
            np.testing.assert_equal(arrays.largest_magnitude(array), expected)


def test_scalars_and_huge_finite_values():
    assert arrays.all_finite(np.float32(1.0)) and not arrays.all_finite(np.float32("nan"))
    big = np.full((3000, 500), np.finfo(np.float32).max, dtype=np.float32)  # sums overflow, values do not
    assert arrays.all_finite(big)
    big[-1, -1] = np.inf
    assert not arrays.all_finite(big)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integers_are_finite(dtype):
    assert arrays.all_finite(np.arange(3 << 20, dtype=dtype))


def test_largest_magnitude_of_a_nan_after_an_inf_in_pieces():
    a = np.ones((4000, 3), dtype=np.float32)
    a[10, 0], a[3000, 2] = -np.inf, np.nan  # the inf's piece comes first
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "_FINITE_CHUNK", 300)
        assert np.isnan(arrays.largest_magnitude(a))
        a[3000, 2] = -7.0
        assert arrays.largest_magnitude(a) == np.inf
