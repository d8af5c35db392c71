"""The GPU check's FastText stage (``gpu_bench.py fasttext``): skip-gram and
CBOW words/s on the GPU and quality against the CPU, on the shared corpus.

For each model: the GPU trains `FT_EPOCHS` epochs (d=100, window 5, negative
5, sample 1e-3, n-grams 3-6, bucket 2M, seed 1) through the CUDA backend's
FastText methods, timed from the allocation to the composed word vectors;
then the CPU does the same on every core. Rows: the GPU's raw words/s (epochs
x raw tokens / seconds), the CPU's, and for analogy (30k), WS353 and WS353
with unseen words given their n-gram vectors (coverage in the note) the GPU's
score minus the CPU's. One seed each: the differences are a first look, not a
verdict (the Word2Vec verdicts use 3 seeds and the CPU's spread).

--dry-run: the CPU backend stands in for the GPU on the tiny synthetic corpus.
"""
from __future__ import annotations

import argparse
import os
import time
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

FT_EPOCHS = 2
FT = dict(window=5, negative=5, min_n=3, max_n=6)


def fasttext_run(args: argparse.Namespace, device: str, corpus: Any, sg: bool, seed: int,
                 workers: int) -> dict[str, Any]:
    """`FT_EPOCHS` epochs on `device` through its backend; vectors on the host."""
    from embforge._native import core
    from embforge.backends import get_backend
    from embforge.backends.arrays import to_host
    from embforge.fasttext import INIT_SCALE
    backend = get_backend(device)
    dim, bucket = (16, 20_000) if args.dry_run else (100, 2_000_000)
    V = corpus.size
    subwords = core.fasttext_subwords(corpus.vocab.words, FT["min_n"], FT["max_n"], bucket)
    tables = corpus.tables(core)
    alpha, min_alpha = (0.025 if sg else 0.05), 1e-4
    if device != "cpu":  # warm-up on the first sentences: module load, uploads
        head = min(len(corpus.offsets) - 1, 2000)
        inp, out, _ = backend.init_fasttext(V, bucket, dim, seed, INIT_SCALE)
        part = SimpleNamespace(ids=corpus.ids[:corpus.offsets[head]], offsets=corpus.offsets[:head + 1])
        params = core.FastTextParams(vector_size=dim, skip_gram=sg, alpha_start=alpha, alpha_end=alpha,
                                     seed=seed, bucket=bucket, workers=workers, **FT)
        backend.train_fasttext_epoch(part, inp, out, subwords, tables, params, progress=core.Progress())
        to_host(out[:1])
        del inp, out
    stream = SimpleNamespace(ids=corpus.ids, offsets=corpus.offsets)
    started = time.perf_counter()
    inp, out, storage = backend.init_fasttext(V, bucket, dim, seed, INIT_SCALE)
    trained = 0
    for e in range(FT_EPOCHS):
        params = core.FastTextParams(
            vector_size=dim, skip_gram=sg, alpha_start=alpha + (min_alpha - alpha) * e / FT_EPOCHS,
            alpha_end=alpha + (min_alpha - alpha) * (e + 1) / FT_EPOCHS, seed=seed, epoch=e,
            workers=workers, bucket=bucket, **FT)
        stats = backend.train_fasttext_epoch(stream, inp, out, subwords, tables, params,
                                             progress=core.Progress())
        trained += stats["words_trained"]
    backend.fasttext_word_vectors(inp, subwords, bucket, storage[:V], workers)
    vectors = to_host(storage[:V])  # waits for the device
    seconds = time.perf_counter() - started
    rows = to_host(inp)
    return {"vectors": vectors, "rows": rows, "subwords": subwords, "bucket": bucket,
            "seconds": seconds, "words_per_second": FT_EPOCHS * corpus.raw_tokens / seconds,
            "kept": trained / (FT_EPOCHS * max(1, len(corpus.ids))),
            "finite": bool(np.isfinite(rows).all())}


def fasttext_scores(args: argparse.Namespace, corpus: Any, run: dict[str, Any],
                    scores: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """gpu_bench.scores, plus WS353 over all pairs with unseen words' n-gram
    vectors (and its coverage) where the file exists."""
    result = scores(args, corpus, run["vectors"])
    ws353 = os.path.join(args.data, "wordsim353.tsv")
    if args.dry_run or not os.path.exists(ws353):
        return result
    from embforge.fasttext_kv import FastTextKeyedVectors
    kv = FastTextKeyedVectors.from_rows(corpus.vocab.words, run["rows"], FT["min_n"], FT["max_n"],
                                        run["bucket"], corpus.counts, subwords=run["subwords"])
    kv.adjust_vectors(workers=os.cpu_count() or 1)
    _, spearman, oov = kv.evaluate_word_pairs(ws353, unseen="ngrams")
    result["WS353 all pairs"] = float(spearman[0])
    result["n-gram share %"] = float(oov)
    return result


def stage_fasttext(args: argparse.Namespace, rec: Any, load_corpus: Callable[[argparse.Namespace], Any],
                   scores: Callable[..., dict[str, Any]]) -> None:
    """Rows as measured: per model the GPU's words/s, the CPU's, then the
    GPU-CPU differences of each score."""
    corpus = load_corpus(args)
    gpu_device = "cpu" if args.dry_run else "cuda:0"
    cpu_workers = 1 if args.dry_run else (os.cpu_count() or 1)
    for name, sg in (("skip-gram", True), ("CBOW", False)):
        runs = {}
        for side, device, workers in (("GPU", gpu_device, 1), ("CPU", "cpu", cpu_workers)):
            run = fasttext_run(args, device, corpus, sg, 1, workers)
            run["scores"] = fasttext_scores(args, corpus, run, scores)
            runs[side] = run
            shown = ", ".join(f"{k} {v:.4f}" for k, v in run["scores"].items())
            rec.row(f"FastText {name} {side} words/s", run["words_per_second"], kept=run["kept"],
                    note=f"{FT_EPOCHS} epochs in {run['seconds']:.1f}s incl. init and word vectors"
                         f"{'' if side == 'GPU' else f' on {workers} threads'}; {shown}; "
                         f"finite={run['finite']}")
        for metric, gpu_value in runs["GPU"]["scores"].items():
            if metric == "n-gram share %":
                continue
            cpu_value = runs["CPU"]["scores"][metric]
            rec.row(f"FastText {name} {metric} GPU-CPU", gpu_value - cpu_value,
                    target="~0 (one seed: a first look)",
                    note=f"GPU {gpu_value:.4f}, CPU {cpu_value:.4f}")
