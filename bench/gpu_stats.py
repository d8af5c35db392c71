"""The GPU check's arithmetic: the quality tolerance from the CPU's seed
spread, the synthetic Zipf stream of the large-vocabulary case, and working-set
sizes. numpy only, no GPU."""
from __future__ import annotations

import math

import numpy as np

# A GPU mean is compared with the CPU mean within K standard errors of their
# difference, the standard error taken from the CPU's own seed spread (the
# GPU's spread is printed next to it: one much larger than the CPU's is a
# finding of its own). Three standard errors: a false alarm about 0.3% of the
# time per metric if the spread were known exactly; from 3 CPU seeds it is
# known only within about a factor 2 (2 degrees of freedom), so a failure says
# "look here", and more seeds (the seeds stage, --seeds) tighten it.
K_SIGMA = 3.0
# Floor of the CPU standard deviation: three CPU runs that happen to agree must
# not demand bit-equality from the GPU. Far below the spreads measured on the
# shared corpus (bench/RESULTS.md: about 0.008 analogy and 0.01 WS353 per run).
MIN_SD = 0.002


def spread(values) -> tuple:
    """(mean, sample standard deviation, n) of finite values; sd is nan for n < 2."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return float("nan"), float("nan"), 0
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else float("nan"), len(x)


def tolerance(cpu_values, n_gpu: int, k: float = K_SIGMA, min_sd: float = MIN_SD) -> float:
    """Allowed |GPU mean - CPU mean| for `n_gpu` GPU runs against the CPU runs
    `cpu_values`: k * max(sd_cpu, min_sd) * sqrt(1/n_cpu + 1/n_gpu)."""
    mean, sd, n = spread(cpu_values)
    if n < 2:
        raise ValueError(f"the CPU's seed spread needs at least 2 finite runs, got {list(cpu_values)}")
    if n_gpu < 1:
        raise ValueError(f"n_gpu must be >= 1, got {n_gpu}")
    if k <= 0 or min_sd < 0:
        raise ValueError(f"k must be > 0 and min_sd >= 0, got k={k}, min_sd={min_sd}")
    return k * max(sd, min_sd) * math.sqrt(1 / n + 1 / n_gpu)


def compare(cpu_values, gpu_values, k: float = K_SIGMA, min_sd: float = MIN_SD) -> dict:
    """The GPU runs against the CPU runs: means, spreads, difference, tolerance, verdict."""
    c_mean, c_sd, n_cpu = spread(cpu_values)
    g_mean, g_sd, n_gpu = spread(gpu_values)
    tol = tolerance(cpu_values, n_gpu, k, min_sd) if n_gpu else float("nan")
    diff = g_mean - c_mean
    return {"cpu_mean": c_mean, "cpu_sd": c_sd, "n_cpu": n_cpu, "gpu_mean": g_mean, "gpu_sd": g_sd,
            "n_gpu": n_gpu, "diff": diff, "tolerance": tol,
            "ok": bool(n_gpu > 0 and abs(diff) <= tol)}


def zipf_stream(vocab_size: int, n_tokens: int, exponent: float = 1.0, sentence_length: int = 20,
                seed: int = 0, block: int = 1 << 22):
    """A synthetic corpus: `n_tokens` ids drawn with P(rank r) proportional to
    1 / (r + 1) ** exponent over `vocab_size` words, in sentences of
    `sentence_length` (the last one shorter). Returns (ids uint32, offsets
    int64, counts int64 of length vocab_size, every count >= 1 so that the
    sampling tables are defined for words the draw missed)."""
    if vocab_size < 1 or n_tokens < 1 or sentence_length < 1:
        raise ValueError(f"vocab_size, n_tokens and sentence_length must be >= 1, got "
                         f"{vocab_size}, {n_tokens}, {sentence_length}")
    if not exponent > 0:
        raise ValueError(f"exponent must be > 0, got {exponent}")
    weights = 1.0 / np.arange(1, vocab_size + 1, dtype=np.float64) ** exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    rng = np.random.default_rng(seed)
    ids = np.empty(n_tokens, np.uint32)
    for start in range(0, n_tokens, block):  # bounded temporaries
        stop = min(n_tokens, start + block)
        ids[start:stop] = np.minimum(np.searchsorted(cdf, rng.random(stop - start), side="right"),
                                     vocab_size - 1)
    offsets = np.append(np.arange(0, n_tokens, sentence_length, dtype=np.int64), n_tokens)
    counts = np.maximum(np.bincount(ids, minlength=vocab_size), 1).astype(np.int64)
    return ids, offsets, counts


def word2vec_working_set(vocab_size: int, dim: int) -> int:
    """Bytes of the rows a Word2Vec epoch updates at random: input and output
    matrices, float32, plus the three int32 sampling tables."""
    return 2 * vocab_size * dim * 4 + 3 * vocab_size * 4


def glove_working_set(vocab_size: int, dim: int, nnz: int) -> int:
    """Bytes a GloVe epoch touches: weights and AdaGrad sums [2V, d+1] float32
    and one 16-byte pair record per nonzero."""
    return 2 * (2 * vocab_size * (dim + 1) * 4) + 16 * nnz


def cooccur_working_set(nnz: int) -> int:
    """Bytes of the counted matrix (a 64-bit key and a 32-bit value per
    nonzero) that every chunk's merge reads and writes."""
    return 12 * nnz
