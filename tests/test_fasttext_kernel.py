"""The FastText CPU kernel's window update against a plain numpy oracle, and
the composed word vectors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._native import core

from test_word2vec import coefficient, loss_term


def reference(inp, out, offsets, ids, inputs, targets, alpha, coefficient=coefficient,
              loss_term=loss_term):
    """fasttext.h's documented order: the hidden vector is the mean of every
    subword row of the inputs (fixed for the window); set after set, all dot
    products first, then target after target the gradient takes the row and
    the row moves by g * hidden (a noise word equal to the positive skipped);
    finally every subword row gets the summed gradient. `coefficient` and
    `loss_term`: the CPU's tabulated sigmoid by default (the CUDA kernel's
    exact one: test_cuda_word2vec's)."""
    rows = np.concatenate([ids[offsets[w]:offsets[w + 1]] for w in inputs]).astype(np.int64)
    hidden = inp[rows].astype(np.float64).mean(axis=0)
    grad = np.zeros_like(hidden)
    loss = 0.0
    for targets_of_set in targets:
        dots = out[targets_of_set].astype(np.float64) @ hidden
        for k, t in enumerate(targets_of_set):
            if k > 0 and t == targets_of_set[0]:
                continue
            g = coefficient(dots[k], 1.0 if k == 0 else 0.0, alpha)
            loss += loss_term(dots[k], k == 0)
            grad += g * out[t]
            out[t] += (g * hidden).astype(np.float32)
    np.add.at(inp, rows, np.broadcast_to(grad.astype(np.float32), (len(rows), len(grad))))
    return loss


def random_model(rng, vocab, bucket, dim, scale, max_ngrams=6):
    offsets, ids = [0], []
    for w in range(vocab):  # the word's row, then n-gram rows (repeats allowed)
        ids += [w] + list(vocab + rng.integers(0, bucket, rng.integers(0, max_ngrams + 1)))
        offsets.append(len(ids))
    inp = rng.uniform(-scale, scale, (vocab + bucket, dim)).astype(np.float32)
    out = rng.uniform(-scale, scale, (vocab, dim)).astype(np.float32)
    return inp, out, np.array(offsets, np.int64), np.array(ids, np.uint32)


@pytest.mark.parametrize("skip_gram", [True, False])
@given(data=st.data())
def test_window_update_matches_numpy_oracle(skip_gram, data):
    vocab = data.draw(st.integers(2, 10))
    bucket = data.draw(st.integers(1, 8))  # few buckets: rows shared between words
    dim = data.draw(st.sampled_from([1, 3, 16, 17, 100]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    scale = data.draw(st.sampled_from([0.01, 0.3, 1.0]))  # 1.0 saturates many dots
    inp, out, offsets, ids = random_model(rng, vocab, bucket, dim, scale)
    n_targets = data.draw(st.sampled_from([1, 2, 6]))
    if skip_gram:  # the center alone, one set per context
        inputs = [data.draw(st.integers(0, vocab - 1))]
        n_sets = data.draw(st.integers(1, 6))
    else:  # the contexts, one set
        inputs = data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=8))
        n_sets = 1
    targets = rng.integers(0, vocab, (n_sets, n_targets)).astype(np.uint32)
    inputs = np.array(inputs, np.uint32)
    alpha = data.draw(st.sampled_from([0.025, 0.1, 0.5]))

    ref_in, ref_out = inp.copy(), out.copy()
    ref_loss = reference(ref_in, ref_out, offsets, ids, inputs, targets, alpha)
    loss = core.fasttext_window_update(inp, out, offsets, ids, bucket, inputs, targets, alpha)
    terms = len(ids) * targets.size
    np.testing.assert_allclose(inp, ref_in, atol=1e-5 * terms, rtol=1e-4)
    np.testing.assert_allclose(out, ref_out, atol=1e-5 * terms, rtol=1e-4)
    assert abs(loss - ref_loss) <= 1e-5 * terms * (1 + abs(ref_loss))


def test_update_reaches_every_subword_row():
    # Guards the oracle comparison against being vacuous: the word's row and
    # each of its n-gram rows move by the same gradient; other rows stay.
    rng = np.random.default_rng(0)
    inp, out, offsets, ids = random_model(rng, 4, 50, 8, 0.3)
    offsets = np.array([0, 3, 4, 5, 6], np.int64)
    ids = np.array([0, 4 + 7, 4 + 30, 1, 2, 3], np.uint32)
    before = inp.copy()
    core.fasttext_window_update(inp, out, offsets, ids, 50, np.array([0], np.uint32),
                                np.array([[1, 2, 3]], np.uint32), 0.5)
    moved = np.flatnonzero(np.abs(inp - before).sum(axis=1) > 0)
    assert moved.tolist() == [0, 11, 34]
    np.testing.assert_allclose(inp[11] - before[11], inp[0] - before[0], atol=1e-6)


def test_word_vectors_are_means_of_subword_rows():
    rng = np.random.default_rng(1)
    inp, _, offsets, ids = random_model(rng, 30, 20, 5, 1.0)
    out = np.zeros((30, 5), np.float32)
    core.fasttext_word_vectors(inp, offsets, ids, 20, out, 2)
    expected = [inp[ids[offsets[w]:offsets[w + 1]]].mean(axis=0) for w in range(30)]
    np.testing.assert_allclose(out, np.array(expected), rtol=1e-5, atol=1e-6)


def test_out_of_range_subword_ids_are_refused():
    rng = np.random.default_rng(2)
    inp, out, offsets, ids = random_model(rng, 3, 4, 2, 0.1)
    ids[-1] = 7  # = vocab + bucket: one past the last row
    with pytest.raises(ValueError, match="subword id 7"):
        core.fasttext_window_update(inp, out, offsets, ids, 4, np.array([2], np.uint32),
                                    np.array([[0, 1]], np.uint32), 0.1)
