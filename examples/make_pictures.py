"""Draws the README's pictures from the bundled sample corpus:

    python examples/make_pictures.py            # writes docs/images/*.png

skip-gram and CBOW vectors (10 epochs), their training curves, a map of a
few words with the neighbours of one, and an evaluation chart on the word
pairs of the sample corpus's own test file (tests/data/wordpairs_small.tsv
covers too few of its words, so the chart compares the two models on
similarity to a handful of hand-picked pairs written here).
"""
import os
import tempfile

import embforge
from embforge import plots

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "data", "pydocs.txt.gz")
OUT = os.path.join(HERE, "..", "docs", "images")
PAIRS = [("file", "directory", 8), ("file", "path", 7), ("string", "bytes", 7),
         ("list", "tuple", 8), ("integer", "float", 7), ("thread", "process", 7),
         ("socket", "connection", 7), ("error", "exception", 9), ("key", "value", 6),
         ("read", "write", 6), ("file", "thread", 1), ("string", "socket", 1),
         ("list", "error", 1), ("integer", "directory", 0.5)]


def main():
    os.makedirs(OUT, exist_ok=True)
    models = {}
    for name, sg in (("skip-gram", 1), ("CBOW", 0)):
        models[name] = embforge.Word2Vec(vector_size=64, sg=sg, min_count=3, epochs=10, workers=2,
                                         compute_loss=True, seed=1, progress=False).fit(CORPUS)
    models["skip-gram"].plot_history(os.path.join(OUT, "curves.png"), size=(900, 650),
                                     title="skip-gram on the sample corpus")
    wv = models["skip-gram"].wv
    plots.plot_map(wv, ["file", "directory", "string", "bytes", "list", "tuple", "thread"],
                   os.path.join(OUT, "map.png"), neighbours_of="socket", topn=8, size=(800, 800))
    with tempfile.TemporaryDirectory() as tmp:
        pairs = os.path.join(tmp, "pairs.tsv")
        with open(pairs, "w") as out:
            out.writelines(f"{a}\t{b}\t{s}\n" for a, b, s in PAIRS)
        results = {name: {"hand-picked pairs (Spearman)":
                          float(model.wv.evaluate_word_pairs(pairs)[1][0])}
                   for name, model in models.items()}
    plots.plot_eval(results, os.path.join(OUT, "eval.png"), size=(700, 450),
                    title="skip-gram against CBOW on the sample corpus")
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
