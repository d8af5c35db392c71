"""embforge FastText vs gensim FastText (and fastText's own binary) on the same
corpus and settings, several seeds.

    nice python bench/compare_fasttext.py [--models sg cbow] [--seeds 1 2 3] \
        [--tools embforge gensim fasttext] [--fasttext-bin ./fasttext] [--max-lines N]

Corpus: ../shared/data/corpus/{gcide,kdocs}.txt.gz (8.67M tokens) decompressed
once to a temporary text file (gensim's corpus_file mode and fastText read
it). Settings for all: vector_size=100, window=5, negative=5, sample=1e-3,
min_count=5, min_n=3, max_n=6, bucket=2M, alpha 0.025 (sg) / 0.05 (cbow), 5
epochs, 2 threads. words/s = epochs x raw tokens / wall time of the whole fit
(vocabulary scan included). Every tool's model goes through a fastText .bin
(save_facebook_model; fastText writes one) and is read back with
embforge.load_facebook_vectors, so one evaluator scores all: analogies over
the 30k most frequent words (shared_data.quality), WordSim-353 and
SimLex-999 on vocabulary pairs, and the same two on *all* pairs with unseen
words given their n-gram vectors (coverage = pairs that needed one).
fastText's binary is built from its public source by hand (never committed)
and given with --fasttext-bin; without it that tool is skipped.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_word2vec import concatenate  # noqa: E402
from shared_data import CORPORA, EVAL, frequency_order, quality  # noqa: E402

SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, min_n=3,
                max_n=6, bucket=2_000_000)


def run_embforge(path, sg, alpha, threads, epochs, seed, out):
    from embforge import FastText
    start = time.perf_counter()
    model = FastText(sg=sg, alpha=alpha, epochs=epochs, workers=threads, seed=seed,
                     progress=False, **SETTINGS).fit(path)
    seconds = time.perf_counter() - start
    model.save_facebook_model(out)
    return seconds


def run_gensim(path, sg, alpha, threads, epochs, seed, out):
    from gensim.models.fasttext import FastText as GensimFastText, save_facebook_model
    start = time.perf_counter()
    model = GensimFastText(corpus_file=path, sg=sg, alpha=alpha, epochs=epochs, workers=threads,
                           seed=seed, **SETTINGS)
    seconds = time.perf_counter() - start
    save_facebook_model(model, out)
    return seconds


def run_fasttext(path, sg, alpha, threads, epochs, seed, out, binary=None):
    if binary is None:
        raise ImportError("no fastText binary (give --fasttext-bin)")
    prefix = out[:-len(".bin")]
    start = time.perf_counter()
    subprocess.run([binary, "skipgram" if sg else "cbow", "-input", path, "-output", prefix,
                    "-dim", "100", "-ws", "5", "-neg", "5", "-t", "1e-3", "-minCount", "5",
                    "-minn", "3", "-maxn", "6", "-bucket", "2000000", "-epoch", str(epochs),
                    "-thread", str(threads), "-lr", str(alpha), "-verbose", "0"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def all_pairs(kv):
    """(WS353 rho, coverage %, SimLex rho, coverage %) with unseen words'
    n-gram vectors."""
    scores = []
    for name in ("wordsim353.tsv", "simlex999.txt"):
        path = os.path.join(EVAL, name)
        kwargs = {"delimiter": "\t"} if name.endswith(".tsv") else {}
        _, spearman, from_ngrams = kv.evaluate_word_pairs(path, unseen="ngrams", **kwargs)
        scores += [spearman[0], from_ngrams]
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["sg", "cbow"], choices=["sg", "cbow"])
    parser.add_argument("--tools", nargs="+", default=["gensim", "embforge", "fasttext"],
                        choices=["gensim", "embforge", "fasttext"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fasttext-bin", default=None, help="fastText's executable")
    parser.add_argument("--max-lines", type=int, default=None,
                        help="read only this many lines of the corpus (a quick check)")
    args = parser.parse_args()
    from embforge import load_facebook_vectors

    tools = {"embforge": run_embforge, "gensim": run_gensim,
             "fasttext": lambda *a: run_fasttext(*a, binary=args.fasttext_bin)}
    workdir = tempfile.mkdtemp(prefix="embforge-ftbench-")
    try:
        path = os.path.join(workdir, "corpus.txt")
        n_tokens = concatenate(CORPORA, path)
        if args.max_lines:
            short = path + ".head"
            with open(path, "rb") as src, open(short, "wb") as dst:
                for i, line in enumerate(src):
                    if i >= args.max_lines:
                        break
                    dst.write(line)
            path = short
            n_tokens = sum(len(line.split()) for line in open(path, "rb"))
        order = frequency_order([path])
        print(f"corpus: {n_tokens} tokens, {args.threads} threads, {args.epochs} epochs, "
              f"seeds {args.seeds}")
        print(f"{'model':5} {'tool':9} {'seed':>4} {'seconds':>8} {'Mwords/s':>9} {'analogy':>8} "
              f"{'WS353':>7} {'SimLex':>7} {'WS-all':>7} {'cov%':>5} {'SL-all':>7} {'cov%':>5}")
        for name in args.models:
            sg = int(name == "sg")
            alpha = 0.025 if sg else 0.05
            means = {}
            for tool in args.tools:
                rows = []
                for seed in args.seeds:
                    out = os.path.join(workdir, f"{tool}-{name}-{seed}.bin")
                    try:
                        seconds = tools[tool](path, sg, alpha, args.threads, args.epochs, seed, out)
                    except ImportError as error:
                        print(f"{name:5} {tool:9} not available ({error})")
                        break
                    kv = load_facebook_vectors(out)
                    rate = args.epochs * n_tokens / seconds
                    row = [seconds, rate / 1e6, *quality(kv, order), *all_pairs(kv)]
                    rows.append(row)
                    print(f"{name:5} {tool:9} {seed:4d} " + " ".join(
                        f"{v:{w}.{p}f}" for v, (w, p) in zip(row, FORMATS)), flush=True)
                    os.remove(out)
                if rows:
                    means[tool] = np.mean(rows, axis=0)
                    print(f"{name:5} {tool:9} mean " + " ".join(
                        f"{v:{w}.{p}f}" for v, (w, p) in zip(means[tool], FORMATS)), flush=True)
            if "embforge" in means and "gensim" in means:
                print(f"{name:5} embforge / gensim words/s = "
                      f"{means['embforge'][1] / means['gensim'][1]:.2f}x")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


FORMATS = [(8, 2), (9, 3), (8, 4), (7, 4), (7, 4), (7, 4), (5, 1), (7, 4), (5, 1)]

if __name__ == "__main__":
    sys.exit(main())
