"""`embforge eval` (analogies, word-pair similarity) and `embforge similar`
(nearest words): commands that read trained vectors."""
from __future__ import annotations

import argparse
import os

from .common import load_vectors, say

__all__ = ["add_eval_parser", "run_eval", "add_similar_parser", "run_similar"]


def add_eval_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("eval", help="score vectors on analogies and word-pair similarity",
                       description="Analogy accuracy (3CosAdd over the --restrict most frequent "
                                   "words, OOV questions skipped) and Spearman's rho on word pairs.")
    p.add_argument("vectors", help="vectors file (.bin, .kv or text)")
    p.add_argument("--analogies", action="append", default=[],
                   help="questions-words style file (repeatable)")
    p.add_argument("--pairs", action="append", default=[],
                   help="word pairs with scores, e.g. wordsim353.tsv or simlex999.txt (repeatable)")
    p.add_argument("--restrict", type=int, default=30000,
                   help="analogies: search the N most frequent words (default 30000)")
    p.set_defaults(run=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    if not args.analogies and not args.pairs:
        raise SystemExit("embforge eval: give at least one --analogies or --pairs file")
    wv = load_vectors(args.vectors)
    say(f"{args.vectors}: {len(wv)} words x {wv.vector_size}")
    for path in args.analogies:
        score, _ = wv.evaluate_word_analogies(path, restrict_vocab=args.restrict)
        say(f"analogies  {os.path.basename(path)}: accuracy {score:.4f}")
    for path in args.pairs:
        delimiter = "\t" if path.endswith(".tsv") else None
        _, spearman, oov = (wv.evaluate_word_pairs(path, delimiter=delimiter) if delimiter
                            else wv.evaluate_word_pairs(path))
        say(f"word pairs {os.path.basename(path)}: spearman {spearman[0]:.4f} (OOV {oov:.1f}%)")
    return 0


def add_similar_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("similar", help="print the nearest words to WORD",
                       description="Print the words whose vectors have the highest cosine "
                                   "similarity with WORD's.")
    p.add_argument("vectors", help="vectors file (.bin, .kv or text)")
    p.add_argument("word", nargs="+", help="query word(s); several are averaged")
    p.add_argument("-n", "--topn", type=int, default=10)
    p.set_defaults(run=run_similar)


def run_similar(args: argparse.Namespace) -> int:
    wv = load_vectors(args.vectors)
    missing = [w for w in args.word if w not in wv]
    if missing:
        raise SystemExit(f"embforge similar: not in the vocabulary: {', '.join(missing)}")
    for word, score in wv.most_similar(positive=args.word, topn=args.topn):
        print(f"{score:.4f}  {word}")
    return 0
