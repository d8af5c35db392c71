"""A small, single-threaded workload for counting instructions with callgrind.

    python bench/instructions.py prepare                 # writes /tmp/embforge-cg/small.txt
    valgrind --tool=callgrind python3 bench/instructions.py glove|sg|cbow|ft-sg|ft-cbow
    callgrind_annotate callgrind.out.<pid>               # per-function counts

Wall clock on the shared VM moves by 2x between runs; instruction counts do not,
so comparing two builds (e.g. before and after a refactoring, each through its
own PYTHONPATH) with this script tells whether the kernels' work changed. Use
the real interpreter, not a pyenv shim (valgrind would trace the shim's shell).
FastText (ft-*) runs d=100, window 5, negative 5 and the bench's n-gram
settings with 200k buckets (2M would make initialising the rows most of the
count): compare the train_chunks lines of callgrind_annotate, not the total.
Corpus: the first ~300k tokens of ../shared/data/corpus/gcide.txt.gz.
"""
import gzip
import os
import sys

DIR = "/tmp/embforge-cg"
SMALL = os.path.join(DIR, "small.txt")
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                      "corpus", "gcide.txt.gz")


def prepare(tokens: int = 300_000) -> None:
    os.makedirs(DIR, exist_ok=True)
    written = 0
    with gzip.open(SOURCE, "rt", encoding="utf-8") as source, open(SMALL, "w") as out:
        for line in source:
            out.write(line)
            written += len(line.split())
            if written > tokens:
                break
    print(f"{written} tokens -> {SMALL}")


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which == "prepare":
        prepare()
        return 0
    import embforge
    if which == "glove":
        matrix = embforge.cooccurrence(SMALL, window=10, min_count=2, workers=1, progress=False)
        embforge.GloVe(vector_size=50, epochs=2, workers=1, progress=False).fit(matrix)
    elif which in ("sg", "cbow"):
        embforge.Word2Vec(sg=int(which == "sg"), vector_size=50, min_count=2, workers=1, epochs=1,
                          progress=False).fit(SMALL)
    elif which in ("ft-sg", "ft-cbow"):
        model = embforge.FastText(sg=int(which == "ft-sg"), vector_size=100, window=5, negative=5,
                                  sample=1e-3, min_count=2, min_n=3, max_n=6, bucket=200_000,
                                  workers=1, epochs=1, seed=1, progress=False).fit(SMALL)
        print(f"{len(model.wv)} words in the vocabulary")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
