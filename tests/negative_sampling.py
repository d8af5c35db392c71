"""The numpy oracle's negative-sampling step, shared by the Word2Vec and
FastText kernel tests: the CPU's tabulated sigmoid and loss, and one target
set scored against a hidden vector."""
import numpy as np

MAX_EXP = 6.0
# The kernel reads the sigmoid and the loss from 1025-entry tables over [-6, 6]
# (word2vec.c's approximation, see word2vec.cpp). The oracle looks them up the
# same way, so kernel and oracle differ only by float32 rounding; the exact
# functions are compared with the tables in test_word2vec.
TABLE_SIZE = 1024
TABLE_SCALE = np.float32(TABLE_SIZE / (2 * MAX_EXP))
_X = (np.arange(TABLE_SIZE + 1, dtype=np.float32) / TABLE_SCALE - np.float32(MAX_EXP)).astype(np.float64)
SIGMOID_TABLE = 1.0 / (1.0 + np.exp(-_X))
LOSS_POSITIVE = np.log1p(np.exp(-_X))
LOSS_NEGATIVE = np.log1p(np.exp(_X))


def table_index(dot):
    clamped = np.clip(np.float32(dot), -MAX_EXP, MAX_EXP)
    return int((clamped + np.float32(MAX_EXP)) * TABLE_SCALE + np.float32(0.5))


def near_a_step(dots, band=1e-4):
    """How many of `dots` lie within `band` of a step between two table
    entries (the entries' midpoint, where table_index changes). There the
    kernel's float32 dot and the oracle's float64 one may round to
    neighbouring entries: the loss term then differs by up to one loss-table
    step (about 12/1024) and the coefficient by one sigmoid step times
    alpha, which no float32 tolerance covers."""
    x = (np.clip(np.asarray(dots, dtype=np.float64), -MAX_EXP, MAX_EXP) + MAX_EXP) * float(TABLE_SCALE)
    return int(np.count_nonzero(np.abs(x - np.floor(x) - 0.5) < band * float(TABLE_SCALE)))


# the most one table entry differs from the next: the loss's slope is at most 1
LOSS_STEP = float(max(np.abs(np.diff(LOSS_POSITIVE)).max(), np.abs(np.diff(LOSS_NEGATIVE)).max()))
SIGMOID_STEP = float(np.abs(np.diff(SIGMOID_TABLE)).max())


def table_step_slack(dots, alpha, largest_weight, updates):
    """What the kernel-oracle comparisons add to their float32 tolerances
    for the `dots` that lie on a table step (near_a_step): one loss-table
    step each on the loss, and on the weights one sigmoid step times alpha
    times the largest weight, for each of the `updates` a row may take.
    Returns (weights, loss)."""
    steps = near_a_step(dots)
    return steps * SIGMOID_STEP * alpha * largest_weight * updates, steps * LOSS_STEP


def coefficient(dot, label, alpha):
    if dot >= MAX_EXP:
        sig = 1.0
    elif dot <= -MAX_EXP:
        sig = 0.0
    else:
        sig = SIGMOID_TABLE[table_index(dot)]
    return (label - sig) * alpha


def loss_term(dot, label):
    return (LOSS_POSITIVE if label else LOSS_NEGATIVE)[table_index(dot)]


def score_targets(out, hidden, targets, alpha, coefficient=coefficient, loss_term=loss_term):
    """One target set (targets[0] the positive, the rest noise words) against
    the float64 vector `hidden`, in the kernels' documented order: all dot
    products first, then target after target the gradient takes the row and
    the row moves by g * hidden; a noise word equal to the positive is
    skipped. Updates `out`; returns (the gradient of `hidden`, the loss).
    `coefficient`, `loss_term`: the CPU's tables by default (the CUDA
    kernel's exact functions: test_cuda_word2vec's)."""
    dots = out[targets].astype(np.float64) @ hidden
    grad = np.zeros_like(hidden)
    loss = 0.0
    for k, t in enumerate(targets):
        if k > 0 and t == targets[0]:
            continue
        g = coefficient(dots[k], 1.0 if k == 0 else 0.0, alpha)
        loss += loss_term(dots[k], k == 0)
        grad += g * out[t]
        out[t] += (g * hidden).astype(np.float32)
    return grad, loss
