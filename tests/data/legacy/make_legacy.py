"""Writes the files in this folder: one of each kind of file embforge saves,
and expected.json, what that version read back from each.

Run once, with the code of commit 89a961d9fcac31218b2c685a84cf57ed462cbda7
(the last change to python/ and csrc/ before the backend refactoring), from
the repository root, with torch installed:

    PYTHONPATH=python python3 tests/data/legacy/make_legacy.py

Do not regenerate: these files stand for archives users saved with that
version, and tests/test_legacy_files.py checks that later versions still read
them and get the same contents. A new file kind gets its own new fixture
(written by the version that introduces it), not a rewrite of these.

Tiny on purpose (a few KB each): 17 words (two topics of 6, 5 fillers, two of
them non-ASCII so the UTF-8 paths are covered), 8 dimensions, 3 epochs,
workers=1 (bit-reproducible training).
"""
import hashlib
import json
import os
import random
import subprocess
import sys

import numpy as np

import embforge
from embforge import Cooccurrence, GloVe, KeyedVectors, Word2Vec, cooccurrence, encode

HERE = os.path.dirname(os.path.abspath(__file__))
TOPICS = [[f"sea{i}" for i in range(6)], [f"fire{i}" for i in range(6)]]
FILLER = ["the", "a", "of", "été", "ça"]


def digest(array) -> str:
    """sha256 of an array's little-endian bytes, row-major (dtype and shape
    are recorded next to it)."""
    array = np.asarray(array)
    return hashlib.sha256(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()).hexdigest()


def describe(array) -> dict:
    array = np.asarray(array)
    return {"dtype": str(array.dtype), "shape": list(array.shape), "sha256": digest(array),
            "head": np.asarray(array).ravel()[:4].tolist()}


def corpus_lines(n_sentences=100, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(n_sentences):
        topic = rng.choice(TOPICS)
        words = [rng.choice(topic) if rng.random() < 0.7 else rng.choice(FILLER)
                 for _ in range(rng.randint(5, 10))]
        lines.append(" ".join(words))
    return lines


def vectors_entry(kv) -> dict:
    counts = kv.expandos.get("count")
    return {"words": list(kv.index_to_key), "vectors": describe(kv.vectors),
            "counts": None if counts is None else counts.tolist()}


def matrix_entry(m) -> dict:
    return {"words": m.vocab.words, "counts": m.vocab.counts.tolist(), "nnz": int(m.nnz),
            "window": m.window, "symmetric": m.symmetric, "distance_weighting": m.distance_weighting,
            "rows": describe(m.rows), "cols": describe(m.cols), "values": describe(m.values)}


def main():
    os.chdir(HERE)
    last_code_change = ["git", "log", "-1", "--format=%H", "--", ":/python", ":/csrc", ":/CMakeLists.txt"]
    expected = {"code": subprocess.run(last_code_change, capture_output=True, text=True).stdout.strip(),
                "embforge": embforge.__version__, "numpy": np.__version__, "files": {}}
    files = expected["files"]
    with open("corpus.txt", "w", encoding="utf-8") as out:
        out.write("\n".join(corpus_lines()) + "\n")

    vocab = encode("corpus.txt", min_count=1).vocab
    vocab.save("vocab.txt")
    files["vocab.txt"] = {"kind": "Vocabulary.save", "words": vocab.words,
                          "counts": vocab.counts.tolist()}

    w2v = Word2Vec(sg=1, vector_size=8, window=3, min_count=1, negative=3, sample=0.0, epochs=3,
                   workers=1, seed=7, alpha=0.03, min_alpha=0.001, progress=False).fit("corpus.txt")
    w2v.save("word2vec.npz")
    w2v = Word2Vec.load("word2vec.npz")
    files["word2vec.npz"] = {
        "kind": "Word2Vec.save",
        "config": {k: getattr(w2v, k) for k in ("sg", "vector_size", "alpha", "window", "min_count",
                                                "sample", "seed", "workers", "min_alpha", "negative",
                                                "ns_exponent", "epochs", "shrink_windows",
                                                "max_sentence_length", "compute_loss",
                                                "epochs_trained")},
        "training_loss": [float(x) for x in w2v.training_loss],
        "words": w2v.wv.index_to_key, "counts": w2v.vocab.counts.tolist(),
        "vectors": describe(w2v.wv.vectors), "syn1neg": describe(w2v.syn1neg)}

    kv = w2v.wv
    kv.save("vectors.kv")
    files["vectors.kv"] = dict(kind="KeyedVectors.save", **vectors_entry(KeyedVectors.load("vectors.kv")))
    kv.save_word2vec_format("vectors.txt", fvocab="vectors.vocab")
    files["vectors.txt"] = dict(kind="save_word2vec_format text, fvocab vectors.vocab",
                                **vectors_entry(KeyedVectors.load_word2vec_format(
                                    "vectors.txt", fvocab="vectors.vocab")))
    kv.save_word2vec_format("vectors.bin", binary=True)
    files["vectors.bin"] = dict(kind="save_word2vec_format binary", **vectors_entry(
        KeyedVectors.load_word2vec_format("vectors.bin", binary=True)))
    kv.save_word2vec_format("vectors.txt.gz")
    files["vectors.txt.gz"] = dict(kind="save_word2vec_format text, gzip", **vectors_entry(
        KeyedVectors.load_word2vec_format("vectors.txt.gz")))
    kv.save_word2vec_format("vectors_glove.txt", write_header=False)
    files["vectors_glove.txt"] = dict(kind="save_word2vec_format write_header=False (GloVe text)",
                                      **vectors_entry(KeyedVectors.load_word2vec_format(
                                          "vectors_glove.txt", no_header=True)))

    matrix = cooccurrence("corpus.txt", window=4, min_count=1, workers=1, progress=False)
    matrix.save("cooc.npz")
    files["cooc.npz"] = dict(kind="Cooccurrence.save", **matrix_entry(Cooccurrence.load("cooc.npz")))
    direct = cooccurrence("corpus.txt", window=3, symmetric=False, distance_weighting=False,
                          min_count=1, workers=1, progress=False, path="cooc_direct.cooc")
    del direct
    files["cooc_direct.cooc"] = dict(kind="cooccurrence(path=...), asymmetric, unweighted",
                                     **matrix_entry(Cooccurrence.load("cooc_direct.cooc")))
    matrix.save_glove_binary("cooccurrence.bin", vocab_path="cooccurrence_vocab.txt")
    files["cooccurrence.bin"] = dict(kind="Cooccurrence.save_glove_binary, vocab cooccurrence_vocab.txt",
                                     **matrix_entry(Cooccurrence.load_glove_binary(
                                         "cooccurrence.bin", "cooccurrence_vocab.txt")))

    glove = GloVe(vector_size=8, x_max=10.0, alpha=0.6, learning_rate=0.04, epochs=3, window=4,
                  min_count=1, workers=1, seed=5, output_vectors="main", progress=False).fit(matrix)
    glove.save("glove.npz")
    glove = GloVe.load("glove.npz")
    files["glove.npz"] = {
        "kind": "GloVe.save",
        "config": {k: getattr(glove, k) for k in ("vector_size", "x_max", "alpha", "learning_rate",
                                                  "epochs", "window", "symmetric", "distance_weighting",
                                                  "min_count", "max_vocab_size", "workers", "seed",
                                                  "grad_clip", "output_vectors", "reshuffle",
                                                  "epochs_trained", "bias_learning_rate")},
        "cost_history": [float(c) for c in glove.cost_history],
        "words": glove.vocab.words, "counts": glove.vocab.counts.tolist(),
        "weights": describe(glove.weights), "gradsq": describe(glove.gradsq),
        "vectors": describe(glove.wv.vectors)}

    try:
        import torch
    except ImportError:
        sys.exit("torch is needed for the classifier file")
    from embforge import finetune
    torch.manual_seed(0)
    model = finetune.TextClassifier.from_vectors(kv, ["sea", "fire"], copy=True, num_layers=1,
                                                 num_heads=2, ff_dim=8, max_length=12, seed=0)
    model.eval()
    finetune.save_classifier(model, "classifier.pt")
    model = finetune.load_classifier("classifier.pt")
    texts = ["sea0 sea1 the sea2", "fire3 ça fire4 unknownword"]
    with torch.no_grad():
        logits = model(**model.tokenizer.batch(texts))
    files["classifier.pt"] = {
        "kind": "finetune.save_classifier",
        "labels": model.labels, "config": model.config, "padding_idx": model.padding_idx,
        "vocab": model.tokenizer.key_to_index,
        "state_dict": {k: describe(v.numpy()) for k, v in model.state_dict().items()},
        "texts": texts, "token_ids": [model.tokenizer.encode(t) for t in texts],
        "logits": logits.tolist(), "predictions": finetune.predict(model, texts)}

    with open("expected.json", "w", encoding="utf-8") as out:
        json.dump(expected, out, indent=1, ensure_ascii=False, sort_keys=True)
        out.write("\n")
    for name in sorted(os.listdir(".")):
        print(f"{os.path.getsize(name):8d} {name}")


if __name__ == "__main__":
    main()
