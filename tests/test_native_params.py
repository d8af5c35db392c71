"""The algorithms' parameter classes bound in _core (word2vec.h, cooccur.h,
glove.h): keyword construction with the Python names, defaults from the C++
structs, writable fields, a repr that rebuilds the object, and entry points
that refuse parameters that do not describe their arrays."""
import numpy as np
import pytest

from embforge._native import core

CLASSES = {
    core.Word2VecParams: dict(vector_size=8, window=3, negative=2, skip_gram=False,
                              shrink_windows=False, alpha_start=0.5, alpha_end=0.25, seed=7,
                              epoch=4, workers=3, hot_rows=0),
    core.CooccurParams: dict(window=4, symmetric=False, distance_weighting=False, workers=2,
                             memory_bytes=1 << 20, temp_dir="/tmp", max_product=0, result_dir="/r",
                             result_to_files=True),
    core.GloveParams: dict(vector_size=6, learning_rate=0.5, grad_clip=2.0, bias_learning_rate=0.25,
                           seed=9, epoch=2, workers=4),
}


@pytest.mark.parametrize("cls", list(CLASSES), ids=lambda c: c.__name__)
def test_params_take_keywords_and_repr_rebuilds_them(cls):
    values = CLASSES[cls]
    params = cls(**values)
    assert {name: getattr(params, name) for name in values} == values
    rebuilt = eval(repr(params), {cls.__name__: cls})
    assert {name: getattr(rebuilt, name) for name in values} == values
    assert repr(params).startswith(cls.__name__ + "(")
    defaults = cls()
    for name, value in values.items():
        setattr(defaults, name, value)
    assert repr(defaults) == repr(params)
    with pytest.raises(TypeError):
        cls(not_a_parameter=1)
    with pytest.raises(TypeError):
        cls(1)  # keywords only: a positional value would be ambiguous


def test_defaults_are_the_structs():
    assert "window=5" in repr(core.Word2VecParams()) and "alpha_start=0.025" in repr(core.Word2VecParams())
    assert core.CooccurParams().window == 15 and core.CooccurParams().memory_bytes == 1 << 30
    g = core.GloveParams()
    assert (g.learning_rate, g.grad_clip, g.bias_learning_rate) == (pytest.approx(0.05), 100.0, 1.0)


def test_word2vec_params_must_describe_the_arrays():
    v, dim = 4, 6
    inp, out = np.zeros((v, dim), np.float32), np.zeros((v, dim), np.float32)
    tables = [np.zeros(v, np.uint32) for _ in range(3)]
    ids, offsets = np.zeros(3, np.uint32), np.array([0, 3], np.int64)
    with pytest.raises(ValueError, match="input has 6 columns, params.vector_size is 100"):
        core.train_word2vec_epoch(ids, offsets, inp, out, *tables, core.Word2VecParams())
    with pytest.raises(ValueError, match="hot_rows must be >= -1 .*got -5"):
        core.train_word2vec_epoch(ids, offsets, inp, out, *tables,
                                  core.Word2VecParams(vector_size=dim, hot_rows=-5))
