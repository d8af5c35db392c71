"""Word2Vec variants measured the careful way: epoch times interleaved and
repeated (min and median), and quality as a mean over seeds.

    python bench/word2vec_variants.py time [--model cbow] [--hot-rows 0 64] [--repeat 5]
    python bench/word2vec_variants.py quality [--model cbow] [--hot-rows 0 64] [--seeds 11 12 13]
    python bench/word2vec_variants.py quality --gensim [--seeds 1 2 3 4]

One run's analogy score moves by about +-0.01 from seed to seed (and with
2 threads a seed does not even fix the result), so two variants, or two
tools, are compared by their means over seeds. `time` trains one epoch per
repeat on the encoded corpus (vocabulary scan excluded) and alternates the
variants so that a noisy neighbour slows them alike. Settings as in
compare_word2vec.py (d=100, window 5, negative 5, sample 1e-3, min_count 5,
2 threads, alpha 0.025 skip-gram / 0.05 CBOW, 5 epochs for quality).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shared_data import CORPORA, frequency_order, quality  # noqa: E402
from compare_word2vec import concatenate  # noqa: E402


def embforge_model(path, sg, threads, seed, hot_rows):
    from embforge import Word2Vec
    model = Word2Vec(sg=sg, vector_size=100, window=5, negative=5, sample=1e-3, min_count=5,
                     alpha=0.025 if sg else 0.05, epochs=5, workers=threads, progress=False,
                     seed=seed)
    model._hot_rows = hot_rows  # not a public option: the kernel's automatic choice is the default
    return model.build_vocab(corpus_file=path)


def gensim_vectors(path, sg, threads, seed):
    from gensim.models import Word2Vec as GensimWord2Vec
    from embforge import KeyedVectors
    model = GensimWord2Vec(corpus_file=path, sg=sg, vector_size=100, window=5, negative=5,
                           sample=1e-3, min_count=5, alpha=0.025 if sg else 0.05, epochs=5,
                           workers=threads, seed=seed)
    return KeyedVectors.from_storage(model.wv.index_to_key, np.ascontiguousarray(model.wv.vectors))


def time_variants(path, sg, threads, hot_rows, repeat):
    models = {h: embforge_model(path, sg, threads, 1, h) for h in hot_rows}
    seconds = {h: [] for h in hot_rows}
    for _ in range(repeat):
        for h, model in models.items():
            start = time.perf_counter()
            model.train(epochs=1)
            seconds[h].append(time.perf_counter() - start)
    ids = models[hot_rows[0]]._corpus.n_tokens
    for h in hot_rows:
        best, median = min(seconds[h]), statistics.median(seconds[h])
        print(f"hot_rows={h:5d}  epoch min {best:.3f}s  median {median:.3f}s  "
              f"({ids / best / 1e6:.2f}M ids/s at the min)")


def quality_over_seeds(path, sg, threads, hot_rows, seeds, gensim):
    order = frequency_order(CORPORA)
    variants = ["gensim"] if gensim else hot_rows
    for variant in variants:
        scores = []
        for seed in seeds:
            if gensim:
                wv = gensim_vectors(path, sg, threads, seed)
            else:
                wv = embforge_model(path, sg, threads, seed, variant).train().wv
            scores.append(quality(wv, order))
            print(f"{variant} seed {seed}: " + " ".join(f"{x:.4f}" for x in scores[-1]), flush=True)
        mean = np.mean(scores, axis=0)
        spread = np.std(scores, axis=0, ddof=1) if len(scores) > 1 else np.zeros(3)
        label = "gensim" if gensim else f"hot_rows={variant}"
        print(f"{label}: analogy {mean[0]:.4f} +- {spread[0]:.4f}, WS353 {mean[1]:.4f} +- "
              f"{spread[1]:.4f}, SimLex {mean[2]:.4f} +- {spread[2]:.4f} (mean +- sd, {len(seeds)} seeds)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["time", "quality"])
    parser.add_argument("--model", choices=["sgns", "cbow"], default="cbow")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hot-rows", type=int, nargs="+", default=[0, -1],
                        help="values of the kernel's hot_rows (-1: automatic)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14, 15, 16])
    parser.add_argument("--gensim", action="store_true", help="quality: score gensim instead")
    args = parser.parse_args()
    sg = int(args.model == "sgns")
    with tempfile.TemporaryDirectory(prefix="embforge-bench-") as workdir:
        path = os.path.join(workdir, "corpus.txt")
        concatenate(CORPORA, path)
        if args.what == "time":
            time_variants(path, sg, args.threads, args.hot_rows, args.repeat)
        else:
            quality_over_seeds(path, sg, args.threads, args.hot_rows, args.seeds, args.gensim)


if __name__ == "__main__":
    sys.exit(main())
