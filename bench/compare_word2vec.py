"""embforge vs gensim, fastText and word2vec.c on the same corpus and settings.

    python bench/compare_word2vec.py [--models sgns cbow] [--threads 2] [--epochs 5]

Corpus: the concatenation of ../shared/data/corpus/{gcide,kdocs}.txt.gz
(8.67M tokens), decompressed once to a temporary text file that every tool
reads (gensim's corpus_file mode, fastText and word2vec.c take plain files).
Settings for all: vector_size=100, window=5, negative=5, sample=1e-3,
min_count=5, alpha=0.025 (skip-gram) / 0.05 (CBOW), 5 epochs, 2 threads.
words/s = epochs x raw corpus tokens / wall time of the whole fit call,
vocabulary scan included. Quality is scored by one evaluator (embforge's
KeyedVectors, tested equal to gensim's) for every tool: analogies over the
30k most frequent words (one order for all tools: count, then alphabetical;
see shared_data.frequency_order), Spearman on WordSim-353 and SimLex-999.
The machine is noisy: compare the ratios printed by one run; with --repeat N
every tool runs N times and its fastest run counts (others are printed).
"""
import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shared_data import CORPORA, frequency_order, quality  # noqa: E402



def concatenate(paths, out_path):
    n_tokens = 0
    with open(out_path, "wb") as out:
        for path in paths:
            with gzip.open(path, "rb") as src:
                for line in src:
                    out.write(line)
                    n_tokens += len(line.split())
    return n_tokens




def run_embforge(path, sg, a, threads, epochs):
    from embforge import Word2Vec
    start = time.perf_counter()
    model = Word2Vec(sg=sg, vector_size=100, window=5, negative=5, sample=1e-3, min_count=5,
                     alpha=a, epochs=epochs, workers=threads, progress=False).fit(path)
    return time.perf_counter() - start, model.wv


def run_gensim(path, sg, a, threads, epochs):
    from gensim.models import Word2Vec as GensimWord2Vec
    from embforge import KeyedVectors
    start = time.perf_counter()
    model = GensimWord2Vec(corpus_file=path, sg=sg, vector_size=100, window=5, negative=5,
                           sample=1e-3, min_count=5, alpha=a, epochs=epochs, workers=threads)
    seconds = time.perf_counter() - start
    return seconds, KeyedVectors.from_storage(model.wv.index_to_key,
                                              np.ascontiguousarray(model.wv.vectors))


def run_fasttext(path, sg, a, threads, epochs):
    import fasttext
    from embforge import KeyedVectors
    start = time.perf_counter()
    # maxn=0: plain word vectors (no subwords), comparable to word2vec.
    model = fasttext.train_unsupervised(path, model="skipgram" if sg else "cbow", dim=100, ws=5,
                                        neg=5, t=1e-3, minCount=5, lr=a, epoch=epochs,
                                        thread=threads, minn=0, maxn=0, verbose=0)
    seconds = time.perf_counter() - start
    words = model.get_words()
    vectors = np.stack([model.get_word_vector(w) for w in words]).astype(np.float32)
    return seconds, KeyedVectors.from_storage(words, vectors)


def run_word2vec_c(path, sg, a, threads, epochs):
    """The original word2vec.c, as compiled by the `word2vec` pip package.

    Run directly with its output discarded: the package's wrapper pipes the
    tool's progress output without reading it and deadlocks on long runs.
    """
    from embforge import KeyedVectors
    binary = shutil.which("word2vec")
    if binary is None:
        raise ImportError("no word2vec executable (pip install word2vec)")
    out = path + (".sg" if sg else ".cbow") + ".bin"
    start = time.perf_counter()
    subprocess.run([binary, "-train", path, "-output", out, "-size", "100", "-window", "5",
                    "-sample", "1e-3", "-hs", "0", "-negative", "5", "-threads", str(threads),
                    "-iter", str(epochs), "-min-count", "5", "-alpha", str(a), "-binary", "1",
                    "-cbow", "0" if sg else "1"], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, KeyedVectors.load_word2vec_format(out, binary=True)


TOOLS = {"gensim": run_gensim, "embforge": run_embforge, "fasttext": run_fasttext,
         "word2vec.c": run_word2vec_c}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["sgns", "cbow"], choices=["sgns", "cbow"])
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per tool; the fastest counts (quality is that run's)")
    parser.add_argument("--scaling", action="store_true",
                        help="also time embforge with 1 thread (thread scaling)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="embforge-bench-")
    try:
        path = os.path.join(workdir, "corpus.txt")
        n_tokens = concatenate(CORPORA, path)
        order = frequency_order(CORPORA)  # one top-30k for every tool's analogy score
        print(f"corpus: {n_tokens} tokens, {args.threads} threads, {args.epochs} epochs")
        print(f"{'model':6} {'tool':11} {'seconds':>8} {'Mwords/s':>9} {'x gensim':>8} "
              f"{'analogy':>8} {'WS353':>7} {'SimLex':>7}")
        for name in args.models:
            sg = int(name == "sgns")
            a = 0.025 if sg else 0.05
            rates = {}
            for tool in args.tools:
                try:
                    runs = [TOOLS[tool](path, sg, a, args.threads, args.epochs)
                            for _ in range(args.repeat)]
                except ImportError as error:
                    print(f"{name:6} {tool:11} not installed ({error})")
                    continue
                except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
                    print(f"{name:6} {tool:11} failed: {error}")
                    continue
                seconds, wv = min(runs, key=lambda run: run[0])
                rates[tool] = args.epochs * n_tokens / seconds
                ratio = rates[tool] / rates["gensim"] if "gensim" in rates else float("nan")
                analogy, ws, simlex = quality(wv, order)
                others = ", ".join(f"{run[0]:.2f}" for run in runs if run[0] != seconds)
                print(f"{name:6} {tool:11} {seconds:8.2f} {rates[tool] / 1e6:9.3f} {ratio:8.2f} "
                      f"{analogy:8.4f} {ws:7.4f} {simlex:7.4f}" + (f"  (other runs: {others}s)"
                                                                 if others else ""), flush=True)
            if args.scaling and "embforge" in rates:
                seconds = min(run_embforge(path, sg, a, 1, args.epochs)[0] for _ in range(args.repeat))
                one = args.epochs * n_tokens / seconds
                print(f"{name:6} embforge 1 thread: {one / 1e6:.3f} Mwords/s; "
                      f"{args.threads} threads / 1 thread = {rates['embforge'] / one:.2f}x")
            if "embforge" in rates and "gensim" in rates:
                print(f"{name:6} embforge / gensim = {rates['embforge'] / rates['gensim']:.2f}x")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
