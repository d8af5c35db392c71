"""`embforge plot history|map|eval`: training curves, a map of words, an
evaluation chart, as PNG files (needs matplotlib: embforge[plot])."""
from __future__ import annotations

import argparse
import json
import os
import zipfile
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from .._typing import StrPath
from .common import load_vectors, say

__all__ = ["add_plot_parser", "run_plot"]


def _size(text: str) -> Tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 1000x700, got {text!r}")
    return width, height


def add_plot_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("plot", help="draw training curves, a map of words or an evaluation chart",
                       description="Draw a PNG: 'history' (a saved model's training curves), "
                                   "'map' (chosen words in 2-D), 'eval' (several vector files "
                                   "on analogies and word-pair similarity).")
    what = p.add_subparsers(dest="plot", metavar="WHAT", required=True)
    h = what.add_parser("history", help="training curves of a model saved with --save-model")
    h.add_argument("model", help="a Word2Vec or GloVe model archive (train --save-model)")
    m = what.add_parser("map", help="a labelled 2-D map of words")
    m.add_argument("vectors", help="vectors file (.bin, .kv or text)")
    m.add_argument("--words", nargs="+", default=[], help="words to draw")
    m.add_argument("--groups", nargs="+", default=None,
                   help="one group label per word, to colour them")
    m.add_argument("--neighbours-of", default=None, metavar="WORD",
                   help="also draw WORD's nearest neighbours around it")
    m.add_argument("--topn", type=int, default=10, help="neighbours drawn (default 10)")
    m.add_argument("--method", choices=["pca", "tsne", "umap"], default="pca",
                   help="projection (default pca; tsne needs scikit-learn, umap umap-learn)")
    e = what.add_parser("eval", help="compare vector files on analogies and word pairs")
    e.add_argument("vectors", nargs="+", help="vectors files (.bin, .kv or text)")
    e.add_argument("--analogies", action="append", default=[],
                   help="questions-words style file (repeatable)")
    e.add_argument("--pairs", action="append", default=[],
                   help="word pairs with scores, e.g. wordsim353.tsv (repeatable)")
    e.add_argument("--restrict", type=int, default=30000,
                   help="analogies: search the N most frequent words (default 30000)")
    for sub_parser, default in ((h, "1000x700"), (m, "900x900"), (e, "1000x600")):
        sub_parser.add_argument("-o", "--output", required=True, help="PNG file to write")
        sub_parser.add_argument("--size", default=default, help=f"WIDTHxHEIGHT pixels ({default})")
        sub_parser.add_argument("--title", default=None)
    p.set_defaults(run=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    from .. import plots
    size = _size(args.size)
    if args.plot == "history":
        model = _load_model(args.model)
        plots.plot_history(model, args.output, size=size, title=args.title)
        say(f"{len(model.history)} epochs, {len(model.history.points)} points -> {args.output}")
    elif args.plot == "map":
        wv = load_vectors(args.vectors)
        plots.plot_map(wv, args.words, args.output, groups=args.groups,
                       neighbours_of=args.neighbours_of, topn=args.topn, method=args.method,
                       size=size, title=args.title)
        say(f"map of {len(args.words) + (args.topn + 1 if args.neighbours_of else 0)} words "
            f"-> {args.output}")
    else:
        if not args.analogies and not args.pairs:
            raise ValueError("give at least one --analogies or --pairs file")
        results = evaluate_files(args.vectors, analogies=args.analogies, pairs=args.pairs,
                                 restrict=args.restrict)
        plots.plot_eval(results, args.output, size=size, title=args.title)
        for name, scores in results.items():
            say(f"{name}: " + ", ".join(f"{b} {v:.4f}" for b, v in scores.items()))
        say(f"-> {args.output}")
    return 0


def _load_model(path: StrPath) -> Any:
    """A Word2Vec or GloVe archive, told apart by the format its header names."""
    from ..glove import MODEL_MAGIC as GLOVE_MAGIC, GloVe
    from ..word2vec import Word2Vec
    from ..word2vec_files import MODEL_MAGIC as WORD2VEC_MAGIC
    try:
        with np.load(os.fspath(path), allow_pickle=False) as archive:
            kind = json.loads(bytes(archive["config"]).decode("utf-8")).get("format")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, AttributeError) as error:
        raise ValueError(f"{path}: not an embforge model archive ({error})") from error
    for magic, cls in ((WORD2VEC_MAGIC, Word2Vec), (GLOVE_MAGIC, GloVe)):
        if kind == magic:
            return cls.load(path)
    raise ValueError(f"{path}: an embforge archive of {kind!r}, not a Word2Vec or GloVe model")


def evaluate_files(paths: Sequence[str], *, analogies: Sequence[str] = (),
                   pairs: Sequence[str] = (), restrict: int = 30000) -> Dict[str, Dict[str, float]]:
    """{file name: {benchmark: score}}: analogy accuracy per analogy file,
    Spearman's rho per word-pair file (the file's base name names the benchmark)."""
    results: Dict[str, Dict[str, float]] = {}
    for path in paths:
        wv = load_vectors(path)
        scores = {}
        for file in analogies:
            scores[os.path.splitext(os.path.basename(file))[0]] = \
                float(wv.evaluate_word_analogies(file, restrict_vocab=restrict)[0])
        for file in pairs:
            delimiter = "\t" if file.endswith(".tsv") else None
            result = (wv.evaluate_word_pairs(file, delimiter=delimiter) if delimiter
                      else wv.evaluate_word_pairs(file))
            scores[os.path.splitext(os.path.basename(file))[0]] = float(result[1][0])
        results[os.path.basename(path)] = scores
    return results
