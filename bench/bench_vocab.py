"""Vocabulary counting + corpus encoding: embforge vs gensim's build_vocab.

    python bench/bench_vocab.py [--repeat 3]

Corpus: ../shared/data/corpus/{gcide,kdocs}.txt.gz (8.67M tokens). embforge
reads the .gz files itself (decompression included) and, for a like-for-like
line, the same text decompressed to a plain file; gensim's build_vocab reads
the plain file (corpus_file mode, which takes no .gz). Each figure is the best
of --repeat runs; ratios compare figures from the same run.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shared_data import CORPORA, write_plain  # noqa: E402


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from gensim.models import Word2Vec as GensimWord2Vec
    import embforge

    workdir = tempfile.mkdtemp(prefix="embforge-vocab-")
    try:
        plain = write_plain(CORPORA, os.path.join(workdir, "corpus.txt"))

        def gensim_vocab():
            model = GensimWord2Vec(vector_size=100, min_count=5, workers=2)
            model.build_vocab(corpus_file=plain)
            return len(model.wv)

        t_gensim, n_gensim = best(gensim_vocab, args.repeat)
        t_gz, corpus = best(lambda: embforge.encode(CORPORA, min_count=5), args.repeat)
        t_plain, _ = best(lambda: embforge.encode(plain, min_count=5), args.repeat)
        tokens = corpus.raw_tokens
        assert len(corpus.vocab) == n_gensim, (len(corpus.vocab), n_gensim)
        print(f"corpus: {tokens} tokens, vocabulary {n_gensim} words (min_count 5)")
        print(f"{'what':44} {'seconds':>8} {'Mtokens/s':>10} {'x gensim':>9}")
        for name, seconds in (("gensim build_vocab (plain text)", t_gensim),
                              ("embforge encode: count + encode (.gz files)", t_gz),
                              ("embforge encode: count + encode (plain text)", t_plain)):
            print(f"{name:44} {seconds:8.3f} {tokens / seconds / 1e6:10.2f} {t_gensim / seconds:9.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
